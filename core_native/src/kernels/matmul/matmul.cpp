// MatMul with numpy semantics: 1-D operands gain (then lose) a unit dimension, leading batch
// dimensions broadcast. When B has no batch (activations x weights, the common case) the
// batch folds into the rows of one GEMM, so the weights are packed once.
//
// An optional 3rd input (ours, never ONNX: the importer's transformer_fusion.py writes it for
// MatMul -> Add(bias), FORMAT.md) is a float32 bias with N elements ([N] or [1, .., 1, N])
// added to every row in the GEMM's store, so the product is written once.
#include <algorithm>
#include <atomic>

#include "kernels/matmul/gemm.h"
#include "kernels/matmul/kept_weight.h"
#include "tinyai/op.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

namespace {

class MatMul final : public OpKernel {
 public:
  explicit MatMul(const Node&) {}

  void drop_persistent() override { kept_.drop(); }

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b) ctx.fail("needs inputs A and B");
    require_dtype(node, *a, {DType::Float32}, "input A");
    require_dtype(node, *b, {DType::Float32}, "input B");
    if (a->rank() == 0 || b->rank() == 0)
      ctx.fail("operands must have rank >= 1, got " + shape_str(a->shape) + " and " +
               shape_str(b->shape));

    // Matrix views: a 1-D A is a row [1, K], a 1-D B a column [K, 1].
    const Shape a_mat = a->rank() == 1 ? Shape{1, a->dim(0)} : a->shape;
    const Shape b_mat = b->rank() == 1 ? Shape{b->dim(0), 1} : b->shape;
    const int64_t M = a_mat[a_mat.size() - 2], K = a_mat.back();
    const int64_t N = b_mat.back();
    if (b_mat[b_mat.size() - 2] != K)
      ctx.fail("inner dimensions differ: A " + shape_str(a->shape) + " x B " +
               shape_str(b->shape));

    const Shape a_batch(a_mat.begin(), a_mat.end() - 2);
    const Shape b_batch(b_mat.begin(), b_mat.end() - 2);
    const Shape batch = broadcast_shapes(node, a_batch, b_batch);
    Shape out_shape = batch;
    if (a->rank() > 1) out_shape.push_back(M);
    if (b->rank() > 1) out_shape.push_back(N);
    GemmEpilogue ep;
    if (const Tensor* bias = ctx.input(2)) ep.col_bias = bias_of(ctx, *bias, N, out_shape.size());
    Tensor& y = ctx.output(0, DType::Float32, out_shape);
    if (y.numel() == 0) return;

    const float* A = a->ptr<float>();
    const float* B = b->ptr<float>();
    float* Y = y.ptr<float>();
    const int64_t batches = shape_numel(batch);
    const GemmRuntime rt = gemm_runtime(ctx, SimdOp::MatrixMul);
    if (StreamedInput* stream = ctx.streamed_input(1)) {
      // B is a 2-D weight streamed in blocks of K rows (only such a B is ever streamed): the
      // blocks' partial products accumulate into Y, so results agree with one GEMM to rounding.
      if (b->rank() != 2) ctx.fail("a streamed B must be a matrix");
      const int64_t rows = batches * M;
      size_t ws_bytes = 0;
      for (size_t j = 0; j < stream->num_pieces(); ++j)
        ws_bytes = std::max(ws_bytes, sgemm_workspace_bytes(rt, rows, N, stream->piece_rows(j).second -
                                                                             stream->piece_rows(j).first));
      void* ws = ctx.scratch(ws_bytes);
      for (size_t j = 0; j < stream->num_pieces(); ++j) {
        const auto k = stream->piece_rows(j);
        const float* Bj = static_cast<const float*>(stream->acquire(j));
        // The bias joins the last piece's store, once every partial product is in.
        sgemm(rt, false, false, rows, N, k.second - k.first, 1.f, A + k.first, K, Bj, N,
              j == 0 ? 0.f : 1.f, Y, N, ws, j + 1 == stream->num_pieces() ? ep : GemmEpilogue{});
        stream->release(j);  // before the next acquire: the budget may hold one piece only
      }
      return;
    }
    if (shape_numel(b_batch) == 1 && shape_numel(a_batch) == batches) {
      // B is shared by every batch and A's batches are contiguous rows: one tall GEMM.
      const int64_t rows = batches * M;
      // A matrix-vector product (one row or column) reads B in place: nothing to keep.
      const PackedB* packed_b =
          rows > 1 && N > 1 ? kept_.packing(ctx, rt, /*w_input=*/1, false, K, N, B, N) : nullptr;
      void* ws = ctx.scratch(sgemm_workspace_bytes(rt, rows, N, K));
      sgemm(rt, false, false, rows, N, K, 1.f, A, K, B, N, 0.f, Y, N, ws, ep, nullptr, packed_b);
      return;
    }

    const std::vector<int64_t> a_step = batch_steps(a_batch, batch, M * K);
    const std::vector<int64_t> b_step = batch_steps(b_batch, batch, K * N);
    // Many small products (attention heads): one batch per thread, each GEMM single-threaded.
    const int threads = rt.pool ? rt.pool->size() : 1;
    const bool per_batch_threads = threads > 1 && batches >= threads;
    GemmRuntime one = rt;
    if (per_batch_threads) one.pool = nullptr;
    const size_t slice = sgemm_workspace_bytes(one, M, N, K);
    char* ws = static_cast<char*>(ctx.scratch(slice * (per_batch_threads ? threads : 1)));
    auto run_batches = [&](int64_t i0, int64_t i1, char* workspace) {
      for (int64_t i = i0; i < i1; ++i) {
        int64_t a_off = 0, b_off = 0, rest = i;
        for (size_t d = batch.size(); d-- > 0;) {  // batch index -> operand offsets
          const int64_t idx = rest % batch[d];
          rest /= batch[d];
          a_off += idx * a_step[d];
          b_off += idx * b_step[d];
        }
        sgemm(one, false, false, M, N, K, 1.f, A + a_off, K, B + b_off, N, 0.f, Y + i * M * N, N,
              workspace, ep);
      }
    };
    if (!per_batch_threads) {
      run_batches(0, batches, ws);
      return;
    }
    // One part per thread, each with its own workspace slice (a ceil-sized grain would let
    // the pool's floor(n / grain) collapse an odd count into one inline chunk).
    std::atomic<int> next_slice{0};
    const int64_t parts = std::min<int64_t>(threads, batches);
    rt.pool->parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t q = p0; q < p1; ++q)
        run_batches(batches * q / parts, batches * (q + 1) / parts,
                    ws + slice * static_cast<size_t>(next_slice++));
    });
  }

 private:
  // The bias input's data: float32, N elements, last dimension N and no more dimensions than
  // Y (a longer shape would broadcast Y up, which an Add would do and the store cannot).
  static const float* bias_of(const KernelContext& ctx, const Tensor& bias, int64_t N,
                              size_t out_rank) {
    require_dtype(ctx.node(), bias, {DType::Float32}, "bias (input 3)");
    if (bias.rank() == 0 || static_cast<size_t>(bias.rank()) > std::max<size_t>(out_rank, 1) ||
        bias.dim(-1) != N || bias.numel() != N)
      ctx.fail("bias (input 3) must have " + std::to_string(N) + " elements as [N] or [1, .., N] "
               "with at most the output's rank, got " + shape_str(bias.shape));
    return bias.ptr<float>();
  }

  // Element step of an operand per unit of each output batch dimension: 0 where the operand
  // broadcasts (its dimension is 1 or missing), else its contiguous stride.
  static std::vector<int64_t> batch_steps(const Shape& operand, const Shape& batch,
                                          int64_t matrix_size) {
    std::vector<int64_t> step(batch.size(), 0);
    int64_t stride = matrix_size;
    const size_t lead = batch.size() - operand.size();
    for (size_t d = batch.size(); d-- > lead;) {
      const int64_t dim = operand[d - lead];
      step[d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
    return step;
  }

  KeptWeightGemm kept_;  // B packed across runs, when the session keeps packed weights
};

}  // namespace

TINYAI_REGISTER_KERNEL("MatMul", MatMul);

}  // namespace tinyai
