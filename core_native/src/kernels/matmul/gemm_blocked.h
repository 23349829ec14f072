// The cache-blocked GEMM driver (Goto/BLIS loop order), written once and instantiated per ISA:
// a per-ISA .cpp includes this header under its own target flags and picks the vector width
// and register tile. The micro-kernel uses GCC/Clang generic vectors rather than intrinsics so
// the same source becomes SSE2, AVX2, AVX-512 or NEON code depending on how it is compiled;
// plain auto-vectorisation of an accumulator array proved fragile (GCC permuted lanes and
// spilled accumulators).
//
// Everything here has internal linkage (anonymous namespace) and calls no out-of-line library
// templates: code built with -mavx512f must never be merged by the linker with the baseline
// build of the same function, or a CPU without AVX-512 could end up running it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/matmul/gemm_kernel.h"

namespace tinyai {
namespace gemm_detail {
namespace {  // NOLINT: one private copy per ISA translation unit, on purpose

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
  static vec splat(float x) { return vec{} + x; }

  // Packs rows [i0, i0+m) x cols [k0, k0+kc) of alpha*op(A) as MR-row panels, k-major inside a
  // panel; rows past m are zero so the micro-kernel never needs a row edge case.
  static void pack_a(const GemmArgs& g, int64_t i0, int64_t m, int64_t k0, int64_t kc,
                     float* dst) {
    for (int64_t p = 0; p < m; p += MR) {
      const int64_t mr = min64(MR, m - p);
      float* d = dst + p * kc;
      if (g.trans_a) {  // op(A)(i, k) = A[k][i]: rows of A are contiguous along i
        for (int64_t k = 0; k < kc; ++k) {
          const float* s = g.A + (k0 + k) * g.lda + i0 + p;
          for (int64_t i = 0; i < mr; ++i) d[k * MR + i] = g.alpha * s[i];
          for (int64_t i = mr; i < MR; ++i) d[k * MR + i] = 0.f;
        }
      } else if (mr == MR) {  // k-outer: contiguous stores, MR sequential read streams
        const float* s[MR];
        for (int i = 0; i < MR; ++i) s[i] = g.A + (i0 + p + i) * g.lda + k0;
        for (int64_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
          for (int i = 0; i < MR; ++i) d[k * MR + i] = g.alpha * s[i][k];
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
      const int64_t nr = min64(NR, n - p);
      float* d = dst + p * kc;
      if (g.trans_b) {  // op(B)(k, j) = B[j][k]
        for (int64_t j = 0; j < nr; ++j) {
          const float* s = g.B + (j0 + p + j) * g.ldb + k0;
          for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = s[k];
        }
        for (int64_t j = nr; j < NR; ++j)
          for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = 0.f;
      } else if (nr == NR) {
        for (int64_t k = 0; k < kc; ++k) {
          const float* s = g.B + (k0 + k) * g.ldb + j0 + p;
#pragma GCC unroll 4
          for (int j = 0; j < NV; ++j) store(d + k * NR + j * VW, load(s + j * VW));
        }
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          const float* s = g.B + (k0 + k) * g.ldb + j0 + p;
          for (int64_t j = 0; j < nr; ++j) d[k * NR + j] = s[j];
          for (int64_t j = nr; j < NR; ++j) d[k * NR + j] = 0.f;
        }
      }
    }
  }

  // Where a micro-tile sits, for the epilogue: C tile origin and its bias slices.
  struct Tile {
    float* C;
    int64_t ldc, m, n;
    float beta;
    bool last;              // last K block: apply the epilogue
    const float* row_bias;  // already offset to the tile's first row (or null)
    const float* col_bias;  // already offset to the tile's first column (or null)
    const float* addend;    // already offset to the tile's origin, leading dimension ldc
    bool relu;

    // One element of an edge tile: beta * C plus the epilogue, in the vector path's order.
    // Shared by every ISA's micro-kernel so the edge tiles cannot drift from the full ones.
    float finish_element(float acc, int64_t i, int64_t j) const {
      const float* c = C + i * ldc;
      float v = beta == 0.f ? acc : acc + beta * c[j];
      if (last) {
        if (row_bias) v += row_bias[i];
        if (col_bias) v += col_bias[j];
        if (addend) v += addend[i * ldc + j];
        if (relu) v = v > 0.f ? v : 0.f;
      }
      return v;
    }
  };

  static vec finish(vec v, const Tile& t, int i, int j) {
    if (!t.last) return v;
    if (t.row_bias) v += t.row_bias[i];
    if (t.col_bias) v += load(t.col_bias + j * VW);
    if (t.addend) v += load(t.addend + i * t.ldc + j * VW);
    if (t.relu) v = v > vec{} ? v : vec{};
    return v;
  }

  // acc = sum_k a[:, k] b[k, :] over packed panels, then C = acc + beta * C on the m x n
  // corner of the tile (beta == 0: C is not read), plus the epilogue on the last K block.
  template <bool kPrefetch>
  static void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b,
                           const Tile& t, int64_t pf) {
    vec acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = vec{};
    if (kPrefetch)
      for (int64_t i = 0; i < t.m; ++i) __builtin_prefetch(t.C + i * t.ldc, 1, 3);
    for (int64_t k = 0; k < kc; ++k) {
      if (kPrefetch) {
        __builtin_prefetch(a + pf, 0, 3);
        __builtin_prefetch(b + pf, 0, 3);
      }
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
    if (t.m == MR && t.n == NR) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        float* c = t.C + i * t.ldc;
#pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) {
          vec v = acc[i][j];
          if (t.beta == 1.f)
            v += load(c + j * VW);
          else if (t.beta != 0.f)
            v += t.beta * load(c + j * VW);
          store(c + j * VW, finish(v, t, i, j));
        }
      }
      return;
    }
    // Edge tile: through a stack tile so no load or store leaves the m x n corner.
    float tile[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) store(&tile[i][j * VW], acc[i][j]);
    for (int64_t i = 0; i < t.m; ++i) {
      float* c = t.C + i * t.ldc;
      for (int64_t j = 0; j < t.n; ++j) c[j] = t.finish_element(tile[i][j], i, j);
    }
  }

  static void pack_a_rows(const GemmArgs& g, const Blocking& bl, int64_t r0, int64_t r1,
                          float* dst) {
    const int64_t rows = round_up(g.M, MR);
    for (int64_t k0 = 0; k0 < g.K; k0 += bl.kc) {
      const int64_t kc = min64(bl.kc, g.K - k0);
      pack_a(g, r0, r1 - r0, k0, kc, dst + k0 * rows + r0 * kc);
    }
  }

  static void pack_b_cols(const GemmArgs& g, const Blocking& bl, int64_t c0, int64_t c1,
                          float* dst) {
    const int64_t cols = round_up(g.N, NR);
    for (int64_t k0 = 0; k0 < g.K; k0 += bl.kc) {
      const int64_t kc = min64(bl.kc, g.K - k0);
      pack_b(g, k0, kc, c0, c1 - c0, dst + k0 * cols + c0 * kc);
    }
  }

  // Requires M, N, K >= 1 and alpha != 0 (the dispatcher handles the degenerate cases).
  static void run(const GemmCall& call) {
    const GemmArgs& g = call.g;
    const Blocking& bl = call.bl;
    auto addr = reinterpret_cast<uintptr_t>(call.workspace);
    addr = (addr + kWorkspaceAlign - 1) & ~static_cast<uintptr_t>(kWorkspaceAlign - 1);
    int64_t a_floats = 0, b_floats = 0;
    packed_sizes(g.M, g.N, g.K, bl, MR, NR, &a_floats, &b_floats);
    float* packed_a = reinterpret_cast<float*>(addr);
    float* packed_b = packed_a + a_floats;
    const bool relu = call.ep.activation == GemmActivation::Relu;
    const int64_t pf = call.prefetch_floats;

    for (int64_t j0 = 0; j0 < g.N; j0 += bl.nc) {
      const int64_t nc = min64(bl.nc, g.N - j0);
      for (int64_t k0 = 0; k0 < g.K; k0 += bl.kc) {
        const int64_t kc = min64(bl.kc, g.K - k0);
        // Later K blocks accumulate onto what the first one wrote.
        const float beta = k0 == 0 ? g.beta : 1.f;
        const bool last = k0 + kc >= g.K;
        const float* pb = packed_b;
        if (call.packed_b)
          pb = call.packed_b + k0 * call.packed_b_cols + (call.packed_b_col0 + j0) * kc;
        else if (call.b_packer)
          call.b_packer->pack(call.b_packer->self, k0, kc, call.b_col0 + j0, nc, NR, packed_b);
        else
          pack_b(g, k0, kc, j0, nc, packed_b);
        for (int64_t i0 = 0; i0 < g.M; i0 += bl.mc) {
          const int64_t mc = min64(bl.mc, g.M - i0);
          const float* pa = packed_a;
          if (call.packed_a)
            pa = call.packed_a + k0 * call.packed_a_rows + (call.packed_a_row0 + i0) * kc;
          else
            pack_a(g, i0, mc, k0, kc, packed_a);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const Tile t{g.C + (i0 + ir) * g.ldc + j0 + jr,
                           g.ldc,
                           min64(MR, mc - ir),
                           min64(NR, nc - jr),
                           beta,
                           last,
                           call.ep.row_bias ? call.ep.row_bias + i0 + ir : nullptr,
                           call.ep.col_bias ? call.ep.col_bias + j0 + jr : nullptr,
                           call.ep.addend ? call.ep.addend + (i0 + ir) * g.ldc + j0 + jr
                                          : nullptr,
                           relu};
              if (pf > 0)
                micro_kernel<true>(kc, pa + ir * kc, pb + jr * kc, t, pf);
              else
                micro_kernel<false>(kc, pa + ir * kc, pb + jr * kc, t, 0);
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

  // y[0, n) += s * x[0, n)
  static void axpy(float s, const float* __restrict x, float* __restrict y, int64_t n) {
    int64_t j = 0;
    const vec sv = splat(s);
    for (; j + VW <= n; j += VW) store(y + j, load(y + j) + sv * load(x + j));
    for (; j < n; ++j) y[j] += s * x[j];
  }

  static void scale(float* c, int64_t n, float beta) {
    for (int64_t j = 0; j < n; ++j) c[j] = beta == 0.f ? 0.f : beta * c[j];
  }

  // Matrix-vector products: packing would cost as much memory traffic as the product itself,
  // so these read the operands in place. The epilogue is left to the caller.
  static bool gemv(const GemmCall& call) {
    const GemmArgs& g = call.g;
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
      if (g.beta != 1.f) scale(c, g.N, g.beta);
      for (int64_t k = 0; k < g.K; ++k) axpy(g.alpha * g.A[k * a_stride], g.B + k * g.ldb, c, g.N);
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
      if (g.beta != 1.f) scale(g.C, g.M, g.beta);
      for (int64_t k = 0; k < g.K; ++k) axpy(g.alpha * g.B[k * b_stride], g.A + k * g.lda, g.C, g.M);
      return true;
    }
    return false;
  }
};

}  // namespace
}  // namespace gemm_detail
}  // namespace tinyai
