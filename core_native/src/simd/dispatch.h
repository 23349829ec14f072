// Which instruction set a kernel runs with. The session's SIMD level and per-family switches
// (SessionConfig) pick it at run time, capped by what cpu_info() found:
//
//   level 0  Scalar    the reference: plain C++ loops, libm functions
//   level 1  Baseline  128-bit vectors every CPU of the architecture has (SSE2 / NEON),
//                      fast vectorised exp/erf/tanh
//   level 2  Avx2      AVX2 + FMA (x86-64), else Baseline
//   level 3  Widest    AVX-512F when present, else AVX2 + FMA, else Baseline; plus software
//                      prefetch and fused epilogues (bias / activation in the GEMM store)
//
// On AArch64 levels 1-3 all resolve to Baseline, which is NEON there: the per-family
// dispatch points (gemm.cpp kernel_for, activation_kernels) then pick the *_neon.cpp
// kernels, built only on arm64 (TINYAI_NEON_KERNELS=1 from CMakeLists.txt).
//
// A family switched off runs the Scalar reference whatever the level.
#pragma once
#include "tinyai/config.h"

namespace tinyai {

enum class Isa { Scalar = 0, Baseline = 1, Avx2 = 2, Avx512 = 3 };
enum class SimdOp { MatrixMul = 0, Conv = 1, Activation = 2, Attention = 3 };

const char* isa_name(Isa isa);
const char* simd_op_name(SimdOp op);

// The best ISA this CPU supports at `level` (0..3), ignoring per-family switches.
Isa isa_for_level(int level);
bool simd_enabled(const SessionConfig& config, SimdOp op);
// The ISA kernels of family `op` use under `config`.
Isa select_isa(const SessionConfig& config, SimdOp op);
// Level-3 extras: software prefetch (when the cache config enables it) and fused epilogues.
bool use_prefetch(const SessionConfig& config, SimdOp op);
bool use_fusion(const SessionConfig& config, SimdOp op);

}  // namespace tinyai
