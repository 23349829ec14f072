// The portable GEMM (SIMD level 1): the blocked driver built for the architecture's baseline
// 128-bit vectors (SSE2 on x86-64, NEON on AArch64), with no extra target flags.
#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {

// 6x8 tile: 12 accumulator registers + 2 for B + 1 broadcast fits the 16 xmm registers.
using BaselineGemm = BlockedGemm</*VW=*/4, /*MR=*/6, /*NR=*/8>;

const GemmKernel& gemm_kernel_baseline() {
  static const GemmKernel k{Isa::Baseline, 6, 8, &BaselineGemm::run, &BaselineGemm::gemv,
                             &BaselineGemm::pack_a_rows,
                             &BaselineGemm::pack_b_cols};
  return k;
}

}  // namespace gemm_detail
}  // namespace tinyai
