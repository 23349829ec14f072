// AVX-512F GEMM (SIMD level 3). Compiled with -mavx512f -mavx2 -mfma only (CMakeLists.txt)
// and reached only through the dispatcher after cpuid + xgetbv said so.
#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {

// 16x16 tile: 16 zmm accumulators, one B vector per k step and 16 broadcasts. Measured
// against 14x32, 8x32, 4x64, 6x48, 6x64 and 10x32 by benchmarks/gemm_tile_sweep.cpp on the
// conv shapes of the light models (an AMD EPYC with AVX-512): best or tied on nearly all of
// them, clearly so where N (output pixels) is small, since a 16-wide panel wastes less of a
// 13x13 or 7x7 image than a 32-wide one. 14x32 (28 accumulators, the register file's fill
// on paper) was slowest.
using Avx512Gemm = BlockedGemm</*VW=*/16, /*MR=*/16, /*NR=*/16>;

// Constant-initialised: taking the table needs no code compiled for this ISA.
extern const GemmKernel kGemmAvx512f;
const GemmKernel kGemmAvx512f{Isa::Avx512, 16, 16, &Avx512Gemm::run, &Avx512Gemm::gemv,
                             &Avx512Gemm::pack_a_rows, &Avx512Gemm::pack_b_cols};

}  // namespace gemm_detail
}  // namespace tinyai
