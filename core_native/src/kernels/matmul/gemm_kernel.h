// What the GEMM dispatcher (gemm.cpp) and its per-ISA micro-kernel files share: the call
// description and the table entry each ISA file exports. Internal to kernels/matmul.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/matmul/gemm.h"

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

// Block sizes: an mc x kc block of packed A stays in L2, a kc x NR micro-panel of B close to
// L1, the kc x nc block of B in this core's share of L3. mc is a multiple of MR, nc of NR.
struct Blocking {
  int64_t mc, kc, nc;
};

struct GemmCall {
  GemmArgs g;
  Blocking bl;
  GemmEpilogue ep;          // applied once per C element, after the last K block
  int prefetch_floats = 0;  // software prefetch distance into packed panels (0: none)
  void* workspace = nullptr;  // workspace_bytes(...) for this call's M, N, K
  // alpha * op(A) already packed for the whole K (pack_a_all); the call's rows start at
  // packed row `packed_a_row0` of a packing with `packed_a_rows` (a multiple of MR) rows.
  const float* packed_a = nullptr;
  int64_t packed_a_rows = 0, packed_a_row0 = 0;
  // B produced by a packer instead of read from g.B (null); this call's columns start at
  // column `b_col0` of the packer's B.
  const GemmBPacker* b_packer = nullptr;
  int64_t b_col0 = 0;
  // op(B) already packed for the whole K (pack_b_cols); the call's columns start at packed
  // column `packed_b_col0` of a packing with `packed_b_cols` (a multiple of NR) columns.
  const float* packed_b = nullptr;
  int64_t packed_b_cols = 0, packed_b_col0 = 0;
};

// One ISA's GEMM: register tile and entry points. `run` requires M, N, K >= 1, alpha != 0.
struct GemmKernel {
  Isa isa;
  int mr, nr;
  void (*run)(const GemmCall& call);
  // Matrix-vector products read operands in place; false when no in-place form applies.
  bool (*gemv)(const GemmCall& call);
  // Packs rows [r0, r1) (multiples of MR, or r1 = M) of alpha * op(A) for every K block into
  // `dst`, laid out as run() reads a pre-packed A: block k0 at dst + k0 * round_up(M, MR).
  void (*pack_a_rows)(const GemmArgs& g, const Blocking& bl, int64_t r0, int64_t r1, float* dst);
  // Packs columns [c0, c1) (multiples of NR, or c1 = N) of op(B) for every K block into `dst`,
  // laid out as run() reads a pre-packed B: block k0 at dst + k0 * round_up(N, NR).
  void (*pack_b_cols)(const GemmArgs& g, const Blocking& bl, int64_t c0, int64_t c1, float* dst);
};

const GemmKernel& gemm_kernel_scalar();
const GemmKernel& gemm_kernel_baseline();
// Defined by gemm_avx2.cpp / gemm_avx512.cpp, which are built on x86-64 only (TINYAI_X86_KERNELS).
extern const GemmKernel kGemmAvx2Fma;
extern const GemmKernel kGemmAvx512f;      // 16x16 tile
extern const GemmKernel kGemmAvx512fWide;  // 8x32 tile
// Defined by gemm_neon.cpp, built on AArch64 only (TINYAI_NEON_KERNELS).
extern const GemmKernel kGemmNeon;

constexpr size_t kWorkspaceAlign = 64;

static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// Floats of packed A and packed B for a problem, given the blocking and register tile.
static inline void packed_sizes(int64_t M, int64_t N, int64_t K, const Blocking& bl, int MR, int NR,
                         int64_t* a_floats, int64_t* b_floats) {
  const int64_t kc = max64(1, min64(bl.kc, K));
  *a_floats = min64(bl.mc, round_up(max64(M, 1), MR)) * kc;
  *b_floats = min64(bl.nc, round_up(max64(N, 1), NR)) * kc;
}

static inline size_t workspace_bytes(int64_t M, int64_t N, int64_t K, const Blocking& bl, int MR,
                              int NR) {
  int64_t a = 0, b = 0;
  packed_sizes(M, N, K, bl, MR, NR, &a, &b);
  return static_cast<size_t>(a + b) * sizeof(float) + kWorkspaceAlign;
}

}  // namespace gemm_detail
}  // namespace tinyai
