#include "simd/dispatch.h"

#include "simd/cpu_info.h"

namespace tinyai {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
#if defined(__aarch64__)
    case Isa::Baseline: return "neon";
#else
    case Isa::Baseline: return "sse2";
#endif
    case Isa::Avx2: return "avx2+fma";
    case Isa::Avx512: return "avx512f";
  }
  return "scalar";
}

const char* simd_op_name(SimdOp op) {
  switch (op) {
    case SimdOp::MatrixMul: return "MATRIX_MUL";
    case SimdOp::Conv: return "CONV";
    case SimdOp::Activation: return "ACTIVATION";
    case SimdOp::Attention: return "ATTENTION";
  }
  return "?";
}

Isa isa_for_level(int level) {
  const CpuInfo& cpu = cpu_info();
  const bool avx2 = cpu.avx2 && cpu.fma;
  if (level <= 0) return Isa::Scalar;
  if (level >= 3 && cpu.avx512f && avx2) return Isa::Avx512;
  if (level >= 2 && avx2) return Isa::Avx2;
  return Isa::Baseline;
}

bool simd_enabled(const SessionConfig& c, SimdOp op) {
  switch (op) {
    case SimdOp::MatrixMul: return c.simd_ops.matrix_mul;
    case SimdOp::Conv: return c.simd_ops.conv;
    case SimdOp::Activation: return c.simd_ops.activation;
    case SimdOp::Attention: return c.simd_ops.attention;
  }
  return true;
}

Isa select_isa(const SessionConfig& c, SimdOp op) {
  return simd_enabled(c, op) ? isa_for_level(c.simd_level) : Isa::Scalar;
}

bool use_prefetch(const SessionConfig& c, SimdOp op) {
  return c.simd_level >= 3 && simd_enabled(c, op) && c.cache.enable_prefetch &&
         c.cache.prefetch_distance > 0;
}

bool use_fusion(const SessionConfig& c, SimdOp op) {
  return c.simd_level >= 3 && simd_enabled(c, op);
}

}  // namespace tinyai
