// AVX-512F GEMM (SIMD level 3). Compiled with -mavx512f -mavx2 -mfma only (CMakeLists.txt)
// and reached only through the dispatcher after cpuid + xgetbv said so.
#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {
namespace gemm_detail {

// Two register tiles, picked per GEMM family by GemmRuntime::wide_tile (gemm.h). Measured by
// benchmarks/gemm_tile_sweep.cpp (an AMD EPYC with AVX-512) against 14x32, 4x64, 6x48, 6x64
// and 10x32: on the light models' conv shapes 16x16 is best or tied, clearly so where N
// (output pixels) is small, since a 16-wide panel wastes less of a 13x13 or 7x7 image; on
// BERT's projections 8x32 is 2-6 % faster, and 80 % faster with 7 rows (a short sequence).
// 14x32 (28 accumulators, the register file's fill on paper) was slowest everywhere.
using Avx512Gemm = BlockedGemm</*VW=*/16, /*MR=*/16, /*NR=*/16>;
using Avx512WideGemm = BlockedGemm</*VW=*/16, /*MR=*/8, /*NR=*/32>;

// Constant-initialised: taking the table needs no code compiled for this ISA.
extern const GemmKernel kGemmAvx512f;
const GemmKernel kGemmAvx512f{Isa::Avx512, 16, 16, &Avx512Gemm::run, &Avx512Gemm::gemv,
                             &Avx512Gemm::pack_a_rows, &Avx512Gemm::pack_b_cols};
extern const GemmKernel kGemmAvx512fWide;
const GemmKernel kGemmAvx512fWide{Isa::Avx512, 8, 32, &Avx512WideGemm::run,
                                  &Avx512WideGemm::gemv, &Avx512WideGemm::pack_a_rows,
                                  &Avx512WideGemm::pack_b_cols};

}  // namespace gemm_detail
}  // namespace tinyai
