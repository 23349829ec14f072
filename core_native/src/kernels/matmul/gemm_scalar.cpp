// The scalar reference GEMM (SIMD level 0 and families switched off): plain loops, one
// output row at a time, K summed in order. Every other ISA is tested against it.
#include "kernels/matmul/gemm_kernel.h"

namespace tinyai {
namespace gemm_detail {

namespace {

void run_scalar(const GemmCall& call) {
  const GemmArgs& g = call.g;
  // One row of accumulators, so beta * C is added after the K sum as the blocked kernels do.
  float* acc = static_cast<float*>(call.workspace);
  for (int64_t i = 0; i < g.M; ++i) {
    for (int64_t j = 0; j < g.N; ++j) acc[j] = 0.f;
    for (int64_t k = 0; k < g.K; ++k) {
      const float a = g.alpha * (g.trans_a ? g.A[k * g.lda + i] : g.A[i * g.lda + k]);
      if (g.trans_b)
        for (int64_t j = 0; j < g.N; ++j) acc[j] += a * g.B[j * g.ldb + k];
      else
        for (int64_t j = 0; j < g.N; ++j) acc[j] += a * g.B[k * g.ldb + j];
    }
    float* c = g.C + i * g.ldc;
    for (int64_t j = 0; j < g.N; ++j) {
      float v = g.beta == 0.f ? acc[j] : acc[j] + g.beta * c[j];
      if (call.ep.row_bias) v += call.ep.row_bias[i];
      if (call.ep.col_bias) v += call.ep.col_bias[j];
      if (call.ep.addend) v += call.ep.addend[i * g.ldc + j];
      if (call.ep.activation == GemmActivation::Relu) v = v > 0.f ? v : 0.f;
      c[j] = v;
    }
  }
}

bool no_gemv(const GemmCall&) { return false; }
void no_pack(const GemmArgs&, const Blocking&, int64_t, int64_t, float*) {}

}  // namespace

const GemmKernel& gemm_kernel_scalar() {
  static const GemmKernel k{Isa::Scalar, 1, 1, &run_scalar, &no_gemv, &no_pack, &no_pack};
  return k;
}

}  // namespace gemm_detail
}  // namespace tinyai
