// AVX2 + FMA GEMM (SIMD level 2; level 3 without AVX-512). Compiled with -mavx2 -mfma only
// (CMakeLists.txt) and reached only through the dispatcher after cpuid said so.
#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {

// 6x16 tile: 12 ymm accumulators + 2 for B + 1 broadcast of the 16 ymm registers.
using Avx2Gemm = BlockedGemm</*VW=*/8, /*MR=*/6, /*NR=*/16>;

// Constant-initialised: taking the table needs no code compiled for this ISA.
extern const GemmKernel kGemmAvx2Fma;
const GemmKernel kGemmAvx2Fma{Isa::Avx2, 6, 16, &Avx2Gemm::run, &Avx2Gemm::gemv,
                             &Avx2Gemm::pack_a_rows,
                             &Avx2Gemm::pack_b_cols};

}  // namespace gemm_detail
}  // namespace tinyai
