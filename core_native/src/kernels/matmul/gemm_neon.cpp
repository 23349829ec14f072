// NEON GEMM (AArch64, SIMD levels 1-3): the blocked driver of gemm_blocked.h with an 8x12
// register tile and a NEON micro-kernel. Built on arm64 only (CMakeLists.txt) and reached
// through the one GEMM dispatch point (kernel_for in gemm.cpp) when TINYAI_NEON_KERNELS is set.
//
// Why a tile of its own: AArch64 has 32 128-bit registers, twice the 16 xmm registers the
// portable 6x8 tile (gemm_baseline.cpp) is sized for. 8x12 keeps 24 accumulators, 3 vectors of
// B and 2 of A in registers: 24 FMAs per 5 loads instead of 12 per 4. The A column is loaded
// as two vectors and broadcast lane by lane inside the FMA (fmla v.4s, v.4s, v.s[lane]), so
// no scalar load or dup is spent per row as the generic-vector micro-kernel does.
#if !defined(__aarch64__)
#error "gemm_neon.cpp is for AArch64 only; CMakeLists.txt builds it on arm64 alone"
#endif

#include <arm_neon.h>

#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {
namespace {  // NOLINT: the same anonymous namespace as gemm_blocked.h's, in this file only

using NeonGemm = BlockedGemm</*VW=*/4, /*MR=*/8, /*NR=*/12>;

// Adds beta * C and the epilogue to one accumulator vector of row i, columns [4j, 4j+4).
inline float32x4_t neon_finish(float32x4_t v, const float* c, const NeonGemm::Tile& t, int i, int j) {
  if (t.beta == 1.f)
    v = vaddq_f32(v, vld1q_f32(c));
  else if (t.beta != 0.f)
    v = vfmaq_n_f32(v, vld1q_f32(c), t.beta);
  if (!t.last) return v;
  if (t.row_bias) v = vaddq_f32(v, vdupq_n_f32(t.row_bias[i]));
  if (t.col_bias) v = vaddq_f32(v, vld1q_f32(t.col_bias + 4 * j));
  if (t.addend) v = vaddq_f32(v, vld1q_f32(t.addend + i * t.ldc + 4 * j));
  if (t.relu) v = vmaxq_f32(v, vdupq_n_f32(0.f));
  return v;
}

}  // namespace

// The driver's micro-kernel, replaced for this tile only: same contract as the generic one
// (acc = sum_k a[:, k] b[k, :] over packed panels, then C = acc + beta * C on the m x n corner,
// epilogue on the last K block).
template <>
template <bool kPrefetch>
void NeonGemm::micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b,
                            const Tile& t, int64_t pf) {
  // Fully unrolled loops over acc only (constant indices), so the array lives in registers.
  float32x4_t acc[8][3];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < 3; ++j) acc[i][j] = vdupq_n_f32(0.f);
  if (kPrefetch)
    for (int64_t i = 0; i < t.m; ++i) __builtin_prefetch(t.C + i * t.ldc, 1, 3);
  for (int64_t k = 0; k < kc; ++k) {
    if (kPrefetch) {
      __builtin_prefetch(a + pf, 0, 3);
      __builtin_prefetch(b + pf, 0, 3);
    }
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    // The lane must be a constant, hence one line per row.
#define TINYAI_NEON_ROW(i, av, lane)                          \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane);       \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane);       \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane)
    TINYAI_NEON_ROW(0, a0, 0);
    TINYAI_NEON_ROW(1, a0, 1);
    TINYAI_NEON_ROW(2, a0, 2);
    TINYAI_NEON_ROW(3, a0, 3);
    TINYAI_NEON_ROW(4, a1, 0);
    TINYAI_NEON_ROW(5, a1, 1);
    TINYAI_NEON_ROW(6, a1, 2);
    TINYAI_NEON_ROW(7, a1, 3);
#undef TINYAI_NEON_ROW
    a += 8;
    b += 12;
  }
  if (t.m == 8 && t.n == 12) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      float* c = t.C + i * t.ldc;
#pragma GCC unroll 3
      for (int j = 0; j < 3; ++j) vst1q_f32(c + 4 * j, neon_finish(acc[i][j], c + 4 * j, t, i, j));
    }
    return;
  }
  // Edge tile: through a stack tile so no load or store leaves the m x n corner.
  float tile[8][12];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < 3; ++j) vst1q_f32(&tile[i][4 * j], acc[i][j]);
  for (int64_t i = 0; i < t.m; ++i) {
    float* c = t.C + i * t.ldc;
    for (int64_t j = 0; j < t.n; ++j) c[j] = t.finish_element(tile[i][j], i, j);
  }
}

// Constant-initialised, like the x86 tables.
extern const GemmKernel kGemmNeon;
const GemmKernel kGemmNeon{Isa::Baseline, 8, 12, &NeonGemm::run, &NeonGemm::gemv,
                           &NeonGemm::pack_a_rows,
                             &NeonGemm::pack_b_cols};

}  // namespace gemm_detail
}  // namespace tinyai
