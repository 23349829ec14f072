// The cache-blocked GEMM driver (Goto/BLIS loop order), written once and instantiated per ISA:
// a per-ISA .cpp includes this header under its own target flags and picks the vector width
// and register tile. The micro-kernel uses GCC/Clang generic vectors rather than intrinsics so
// the same source becomes SSE2, AVX2, AVX-512 or NEON code depending on how it is compiled;
// plain auto-vectorisation of an accumulator array proved fragile (GCC permuted lanes and
// spilled accumulators).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tinyai {
namespace gemm_detail {

struct GemmArgs {
  bool trans_a, trans_b;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

// Block sizes: an mc x kc block of A stays in L2, a kc x NR micro-panel of B in L1, and the
// kc x nc block of B in L3. mc must be a multiple of MR and nc of NR.
struct Blocking {
  int64_t mc, kc, nc;
};

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

constexpr size_t kWorkspaceAlign = 64;

// Floats of packed A and packed B for a problem, given the blocking and register tile.
inline void packed_sizes(int64_t M, int64_t N, int64_t K, const Blocking& bl, int MR, int NR,
                         int64_t* a_floats, int64_t* b_floats) {
  const int64_t kc = std::max<int64_t>(1, std::min(bl.kc, K));
  *a_floats = std::min(bl.mc, round_up(std::max<int64_t>(M, 1), MR)) * kc;
  *b_floats = std::min(bl.nc, round_up(std::max<int64_t>(N, 1), NR)) * kc;
}

inline size_t workspace_bytes(int64_t M, int64_t N, int64_t K, const Blocking& bl, int MR,
                              int NR) {
  int64_t a = 0, b = 0;
  packed_sizes(M, N, K, bl, MR, NR, &a, &b);
  return static_cast<size_t>(a + b) * sizeof(float) + kWorkspaceAlign;
}

// C = beta * C over an m x n block (beta == 0 overwrites, so garbage/NaN in C is ignored).
inline void scale_c(float* C, int64_t ldc, int64_t m, int64_t n, float beta) {
  if (beta == 1.f) return;
  for (int64_t i = 0; i < m; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.f)
      std::fill(c, c + n, 0.f);
    else
      for (int64_t j = 0; j < n; ++j) c[j] *= beta;
  }
}

// Generic vectors of VW floats. aligned(4)+may_alias: loads/stores at any float address, and
// the vector may alias the float arrays it reads. Spelled per width because GCC drops
// vector_size on a typedef that depends on a template parameter.
template <int VW> struct FloatVec;
template <> struct FloatVec<4> {
  typedef float type __attribute__((vector_size(16), aligned(4), may_alias));
};
template <> struct FloatVec<8> {
  typedef float type __attribute__((vector_size(32), aligned(4), may_alias));
};
template <> struct FloatVec<16> {
  typedef float type __attribute__((vector_size(64), aligned(4), may_alias));
};

template <int VW, int MR, int NR>
struct BlockedGemm {
  static_assert(NR % VW == 0, "NR must be a multiple of the vector width");
  static constexpr int NV = NR / VW;
  using vec = typename FloatVec<VW>::type;

  static vec load(const float* p) { return *reinterpret_cast<const vec*>(p); }
  static void store(float* p, vec v) { *reinterpret_cast<vec*>(p) = v; }

  // Packs rows [i0, i0+m) x cols [k0, k0+kc) of alpha*op(A) as MR-row panels, k-major inside a
  // panel; rows past m are zero so the micro-kernel never needs a row edge case.
  static void pack_a(const GemmArgs& g, int64_t i0, int64_t m, int64_t k0, int64_t kc,
                     float* dst) {
    for (int64_t p = 0; p < m; p += MR) {
      const int64_t mr = std::min<int64_t>(MR, m - p);
      float* d = dst + p * kc;
      if (g.trans_a) {  // op(A)(i, k) = A[k][i]: rows of A are contiguous along i
        for (int64_t k = 0; k < kc; ++k) {
          const float* s = g.A + (k0 + k) * g.lda + i0 + p;
          for (int64_t i = 0; i < mr; ++i) d[k * MR + i] = g.alpha * s[i];
          for (int64_t i = mr; i < MR; ++i) d[k * MR + i] = 0.f;
        }
      } else {
        for (int64_t i = 0; i < mr; ++i) {
          const float* s = g.A + (i0 + p + i) * g.lda + k0;
          for (int64_t k = 0; k < kc; ++k) d[k * MR + i] = g.alpha * s[k];
        }
        for (int64_t i = mr; i < MR; ++i)
          for (int64_t k = 0; k < kc; ++k) d[k * MR + i] = 0.f;
      }
    }
  }

  // Packs rows [k0, k0+kc) x cols [j0, j0+n) of op(B) as NR-column panels, zero-padded.
  static void pack_b(const GemmArgs& g, int64_t k0, int64_t kc, int64_t j0, int64_t n,
                     float* dst) {
    for (int64_t p = 0; p < n; p += NR) {
      const int64_t nr = std::min<int64_t>(NR, n - p);
      float* d = dst + p * kc;
      if (g.trans_b) {  // op(B)(k, j) = B[j][k]
        for (int64_t j = 0; j < nr; ++j) {
          const float* s = g.B + (j0 + p + j) * g.ldb + k0;
          for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = s[k];
        }
        for (int64_t j = nr; j < NR; ++j)
          for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = 0.f;
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          const float* s = g.B + (k0 + k) * g.ldb + j0 + p;
          for (int64_t j = 0; j < nr; ++j) d[k * NR + j] = s[j];
          for (int64_t j = nr; j < NR; ++j) d[k * NR + j] = 0.f;
        }
      }
    }
  }

  // acc = sum_k a[:, k] b[k, :] over packed panels, then C = acc + beta * C on the m x n
  // corner of the tile (beta == 0: C is not read).
  static void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b,
                           float* __restrict C, int64_t ldc, int64_t m, int64_t n, float beta) {
    vec acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = vec{};
    for (int64_t k = 0; k < kc; ++k) {
      vec bk[NV];
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) bk[j] = load(b + j * VW);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const float ai = a[i];
#pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) acc[i][j] += ai * bk[j];
      }
      a += MR;
      b += NR;
    }
    if (m == MR && n == NR) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        float* c = C + i * ldc;
#pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) {
          if (beta == 0.f)
            store(c + j * VW, acc[i][j]);
          else if (beta == 1.f)
            store(c + j * VW, load(c + j * VW) + acc[i][j]);
          else
            store(c + j * VW, acc[i][j] + beta * load(c + j * VW));
        }
      }
      return;
    }
    float tile[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) store(&tile[i][j * VW], acc[i][j]);
    for (int64_t i = 0; i < m; ++i) {
      float* c = C + i * ldc;
      for (int64_t j = 0; j < n; ++j)
        c[j] = beta == 0.f ? tile[i][j] : tile[i][j] + beta * c[j];
    }
  }

  // Requires M, N, K >= 1 and alpha != 0 (the caller handles the degenerate cases).
  static void run(const GemmArgs& g, const Blocking& bl, void* workspace) {
    auto addr = reinterpret_cast<uintptr_t>(workspace);
    addr = (addr + kWorkspaceAlign - 1) & ~(uintptr_t)(kWorkspaceAlign - 1);
    int64_t a_floats = 0, b_floats = 0;
    packed_sizes(g.M, g.N, g.K, bl, MR, NR, &a_floats, &b_floats);
    float* packed_a = reinterpret_cast<float*>(addr);
    float* packed_b = packed_a + a_floats;

    for (int64_t j0 = 0; j0 < g.N; j0 += bl.nc) {
      const int64_t nc = std::min(bl.nc, g.N - j0);
      for (int64_t k0 = 0; k0 < g.K; k0 += bl.kc) {
        const int64_t kc = std::min(bl.kc, g.K - k0);
        // Later K blocks accumulate onto what the first one wrote.
        const float beta = k0 == 0 ? g.beta : 1.f;
        pack_b(g, k0, kc, j0, nc, packed_b);
        for (int64_t i0 = 0; i0 < g.M; i0 += bl.mc) {
          const int64_t mc = std::min(bl.mc, g.M - i0);
          pack_a(g, i0, mc, k0, kc, packed_a);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t nr = std::min<int64_t>(NR, nc - jr);
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int64_t mr = std::min<int64_t>(MR, mc - ir);
              micro_kernel(kc, packed_a + ir * kc, packed_b + jr * kc,
                           g.C + (i0 + ir) * g.ldc + j0 + jr, g.ldc, mr, nr, beta);
            }
          }
        }
      }
    }
  }

  // sum_k x[k] * y[k] with VW x 4 independent partial sums (a plain float reduction would
  // not vectorise without -ffast-math).
  static float dot(const float* __restrict x, const float* __restrict y, int64_t n) {
    vec s0{}, s1{}, s2{}, s3{};
    int64_t k = 0;
    for (; k + 4 * VW <= n; k += 4 * VW) {
      s0 += load(x + k) * load(y + k);
      s1 += load(x + k + VW) * load(y + k + VW);
      s2 += load(x + k + 2 * VW) * load(y + k + 2 * VW);
      s3 += load(x + k + 3 * VW) * load(y + k + 3 * VW);
    }
    for (; k + VW <= n; k += VW) s0 += load(x + k) * load(y + k);
    const vec s = (s0 + s1) + (s2 + s3);
    float total = 0.f;
    for (int v = 0; v < VW; ++v) total += s[v];
    for (; k < n; ++k) total += x[k] * y[k];
    return total;
  }

  // Matrix-vector products: packing would cost as much memory traffic as the product itself,
  // so these read the operands in place. Returns false when no in-place form applies.
  static bool try_gemv(const GemmArgs& g) {
    if (g.M == 1) {
      // C[0, j] = alpha * sum_k a[k] op(B)(k, j) + beta * C[0, j]
      const int64_t a_stride = g.trans_a ? g.lda : 1;
      float* c = g.C;
      if (g.trans_b) {  // rows of B are contiguous along k: one dot product per output
        if (a_stride != 1) return false;
        for (int64_t j = 0; j < g.N; ++j) {
          const float v = g.alpha * dot(g.A, g.B + j * g.ldb, g.K);
          c[j] = g.beta == 0.f ? v : v + g.beta * c[j];
        }
        return true;
      }
      scale_c(c, 0, 1, g.N, g.beta);
      for (int64_t k = 0; k < g.K; ++k) {
        const float ak = g.alpha * g.A[k * a_stride];
        const float* b = g.B + k * g.ldb;
        for (int64_t j = 0; j < g.N; ++j) c[j] += ak * b[j];
      }
      return true;
    }
    if (g.N == 1) {
      // C[i, 0] = alpha * sum_k op(A)(i, k) b[k] + beta * C[i, 0]
      const int64_t b_stride = g.trans_b ? 1 : g.ldb;
      if (!g.trans_a) {
        if (b_stride != 1) return false;
        for (int64_t i = 0; i < g.M; ++i) {
          float* c = g.C + i * g.ldc;
          const float v = g.alpha * dot(g.A + i * g.lda, g.B, g.K);
          *c = g.beta == 0.f ? v : v + g.beta * *c;
        }
        return true;
      }
      if (g.ldc != 1) return false;
      scale_c(g.C, 0, 1, g.M, g.beta);
      for (int64_t k = 0; k < g.K; ++k) {
        const float bk = g.alpha * g.B[k * b_stride];
        const float* a = g.A + k * g.lda;
        for (int64_t i = 0; i < g.M; ++i) g.C[i] += bk * a[i];
      }
      return true;
    }
    return false;
  }
};

}  // namespace gemm_detail
}  // namespace tinyai
