// AVX-512F GEMM (SIMD level 3). Compiled with -mavx512f -mavx2 -mfma only (CMakeLists.txt)
// and reached only through the dispatcher after cpuid + xgetbv said so.
#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {

// 8x32 tile: 16 zmm accumulators + 2 for B. A 14x32 tile (28 accumulators) fills the
// register file on paper but measured 5-60 % slower here (GCC's code for it, and whole
// wasted rows for the small channel counts of 1x1 convs: 16 rows cost two 14-row panels);
// benchmarks/gemm_tile_sweep.cpp runs the comparison (conv shapes of the light models, 1024^3).
using Avx512Gemm = BlockedGemm</*VW=*/16, /*MR=*/8, /*NR=*/32>;

// Constant-initialised: taking the table needs no code compiled for this ISA.
extern const GemmKernel kGemmAvx512f;
const GemmKernel kGemmAvx512f{Isa::Avx512, 8, 32, &Avx512Gemm::run, &Avx512Gemm::gemv,
                             &Avx512Gemm::pack_a_rows, &Avx512Gemm::pack_b_cols};

}  // namespace gemm_detail
}  // namespace tinyai
