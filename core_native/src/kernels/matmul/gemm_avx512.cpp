// AVX-512F GEMM (SIMD level 3). Compiled with -mavx512f -mavx2 -mfma only (CMakeLists.txt)
// and reached only through the dispatcher after cpuid + xgetbv said so.
#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {

// 14x32 tile: 28 zmm accumulators + 2 for B + 1 broadcast of the 32 zmm registers.
using Avx512Gemm = BlockedGemm</*VW=*/16, /*MR=*/14, /*NR=*/32>;

// Constant-initialised: taking the table needs no code compiled for this ISA.
extern const GemmKernel kGemmAvx512f;
const GemmKernel kGemmAvx512f{Isa::Avx512, 14, 32, &Avx512Gemm::run, &Avx512Gemm::gemv,
                             &Avx512Gemm::pack_a_rows,
                             &Avx512Gemm::pack_b_cols};

}  // namespace gemm_detail
}  // namespace tinyai
