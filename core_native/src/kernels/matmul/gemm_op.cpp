// Gemm: Y = alpha * op(A) * op(B) + beta * C with transA/transB, C unidirectionally broadcast
// to [M, N] (before opset 7 only when the `broadcast` attribute is set) and optional from
// opset 11.
#include <algorithm>

#include "kernels/matmul/gemm.h"
#include "tinyai/op.h"

namespace tinyai {

namespace {

class Gemm final : public OpKernel {
 public:
  explicit Gemm(const Node& node)
      : trans_a_(node.attr_int("transA", 0) != 0),
        trans_b_(node.attr_int("transB", 0) != 0),
        alpha_(node.attr_float("alpha", 1.f)),
        beta_(node.attr_float("beta", 1.f)),
        legacy_no_broadcast_(node.opset < 7 && node.attr_int("broadcast", 0) == 0) {}

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = ctx.input(2);
    if (!a || !b) ctx.fail("needs inputs A and B");
    require_dtype(node, *a, {DType::Float32}, "input A");
    require_dtype(node, *b, {DType::Float32}, "input B");
    if (c) require_dtype(node, *c, {DType::Float32}, "input C");
    if (a->rank() != 2 || b->rank() != 2)
      ctx.fail("A and B must be matrices, got " + shape_str(a->shape) + " and " +
               shape_str(b->shape));
    const int64_t M = trans_a_ ? a->dim(1) : a->dim(0);
    const int64_t K = trans_a_ ? a->dim(0) : a->dim(1);
    const int64_t N = trans_b_ ? b->dim(0) : b->dim(1);
    if ((trans_b_ ? b->dim(1) : b->dim(0)) != K)
      ctx.fail("inner dimensions differ: op(A) is " + std::to_string(M) + "x" +
               std::to_string(K) + " but B " + shape_str(b->shape) +
               (trans_b_ ? " (transposed)" : ""));

    Tensor& y = ctx.output(0, DType::Float32, {M, N});
    if (y.numel() == 0) return;
    float* Y = y.ptr<float>();
    const GemmRuntime rt = gemm_runtime(ctx, SimdOp::MatrixMul);
    float beta = 0.f;
    GemmEpilogue ep;
    if (c && beta_ != 0.f) {
      if (beta_ == 1.f && is_row_vector(*c, N)) {
        ep.col_bias = c->ptr<float>();  // a linear layer's bias: added in the GEMM's store
      } else {
        broadcast_c(ctx, *c, M, N, Y);
        beta = beta_;
      }
    }
    void* ws = ctx.scratch(sgemm_workspace_bytes(rt, M, N, K));
    sgemm(rt, trans_a_, trans_b_, M, N, K, alpha_, a->ptr<float>(), a->dim(1), b->ptr<float>(),
          b->dim(1), beta, Y, N, ws, ep);
  }

 private:
  // C is [N] or [1, N] (and N > 1, so legacy broadcast rules cannot object).
  bool is_row_vector(const Tensor& c, int64_t N) const {
    if (legacy_no_broadcast_ || N <= 1) return false;
    return (c.rank() == 1 && c.dim(0) == N) || (c.rank() == 2 && c.dim(0) == 1 && c.dim(1) == N);
  }

  // Writes C broadcast to [M, N] into Y.
  void broadcast_c(const KernelContext& ctx, const Tensor& c, int64_t M, int64_t N,
                   float* Y) const {
    const int64_t rank = c.rank();
    const int64_t c_rows = rank == 2 ? c.dim(0) : 1;
    const int64_t c_cols = rank >= 1 ? c.dim(-1) : 1;
    const bool fits = rank <= 2 && (c_rows == M || c_rows == 1) && (c_cols == N || c_cols == 1);
    if (!fits || (legacy_no_broadcast_ && (rank != 2 || c_rows != M || c_cols != N)))
      ctx.fail("C " + shape_str(c.shape) + " cannot be broadcast to [" + std::to_string(M) +
               ", " + std::to_string(N) + "]" +
               (legacy_no_broadcast_ ? " (broadcast=0 before opset 7 needs exactly [M, N])"
                                     : ""));
    const float* C = c.ptr<float>();
    for (int64_t i = 0; i < M; ++i) {
      const float* src = C + (c_rows == 1 ? 0 : i * c_cols);
      float* dst = Y + i * N;
      if (c_cols == 1)
        std::fill(dst, dst + N, src[0]);
      else
        std::copy(src, src + N, dst);
    }
  }

  bool trans_a_, trans_b_;
  float alpha_, beta_;
  bool legacy_no_broadcast_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Gemm", Gemm);

}  // namespace tinyai
