// Gemm: Y = alpha * op(A) * op(B) + beta * C with transA/transB, C unidirectionally broadcast
// to [M, N] (before opset 7 only when the `broadcast` attribute is set) and optional from
// opset 11.
#include <algorithm>

#include "kernels/matmul/gemm.h"
#include "kernels/matmul/kept_weight.h"
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
    if (StreamedInput* stream = ctx.streamed_input(1)) {
      run_streamed(ctx, *stream, *a, M, N, K, beta, ep, Y, rt);
      return;
    }
    // A matrix-vector product (one row or column) reads B in place: nothing to keep.
    const PackedB* packed_b =
        M > 1 && N > 1 ? kept_.packing(ctx, rt, /*w_input=*/1, trans_b_, K, N, b->ptr<float>(), b->dim(1))
                       : nullptr;
    void* ws = ctx.scratch(sgemm_workspace_bytes(rt, M, N, K));
    sgemm(rt, trans_a_, trans_b_, M, N, K, alpha_, a->ptr<float>(), a->dim(1), b->ptr<float>(),
          b->dim(1), beta, Y, N, ws, ep, nullptr, packed_b);
  }

  void drop_persistent() override { kept_.drop(); }

 private:
  // B streamed in pieces of whole rows (a weight larger than the weight budget allows). With
  // transB its rows are output columns: each piece fills its own columns of Y (same sums as
  // one GEMM). Without, they are K rows: the pieces' partial products accumulate into Y (a
  // different summation order than one GEMM, so results agree to rounding).
  void run_streamed(KernelContext& ctx, StreamedInput& stream, const Tensor& a, int64_t M,
                    int64_t N, int64_t K, float beta, const GemmEpilogue& ep, float* Y,
                    const GemmRuntime& rt) const {
    const size_t pieces = stream.num_pieces();
    size_t ws_bytes = 0;
    for (size_t j = 0; j < pieces; ++j) {
      const int64_t rows = stream.piece_rows(j).second - stream.piece_rows(j).first;
      ws_bytes = std::max(ws_bytes, trans_b_ ? sgemm_workspace_bytes(rt, M, rows, K)
                                             : sgemm_workspace_bytes(rt, M, N, rows));
    }
    void* ws = ctx.scratch(ws_bytes);
    const float* A = a.ptr<float>();
    const int64_t lda = a.dim(1);
    for (size_t j = 0; j < pieces; ++j) {
      const auto rows = stream.piece_rows(j);
      const int64_t r0 = rows.first, n_rows = rows.second - rows.first;
      const float* B = static_cast<const float*>(stream.acquire(j));
      if (trans_b_) {
        GemmEpilogue piece_ep = ep;
        if (ep.col_bias) piece_ep.col_bias = ep.col_bias + r0;
        sgemm(rt, trans_a_, true, M, n_rows, K, alpha_, A, lda, B, K, beta, Y + r0, N, ws,
              piece_ep);
      } else {
        const float* A_rows = trans_a_ ? A + r0 * lda : A + r0;  // A's columns r0.. of op(A)
        sgemm(rt, trans_a_, false, M, N, n_rows, alpha_, A_rows, lda, B, N, j == 0 ? beta : 1.f,
              Y, N, ws, j + 1 == pieces ? ep : GemmEpilogue{});
      }
      stream.release(j);  // before the next acquire: the budget may hold one piece only
    }
  }

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
  KeptWeightGemm kept_;  // B packed across runs, when the session keeps packed weights
};

}  // namespace

TINYAI_REGISTER_KERNEL("Gemm", Gemm);

}  // namespace tinyai
