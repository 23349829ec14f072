// TinyAIAttention: fused scaled-dot-product attention, produced only by the importer's fusion
// pass (core_native/importer/fusion.py) from the exporters' MatMul -> scale -> [mask Add] ->
// Softmax -> [NaN guard] -> MatMul chains.
//
//   inputs  Q [.., Lq, D], Kt [.., D, Lk] (K already transposed, as the MatMul read it),
//           V [.., Lk, Dv], optional additive float mask broadcastable to [.., Lq, Lk]
//   attrs   scale (float, default 1), nan_to_zero (int: rows whose scores are all -inf give
//           zeros instead of NaN, the exporters' IsNaN/Where guard), causal (int: key j is
//           visible to query i iff j <= i + Lk - Lq, for bottom-right aligned causal masks)
//   output  [.., Lq, Dv]; leading dims broadcast numpy-style like MatMul's.
//
// Work is split into (batch-head, block of kRowBlock query rows) items. Each worker owns one
// kRowBlock x Lk score block in scratch, so the [.., Lq, Lk] score and probability tensors of
// the unfused graph never exist: scratch is threads * kRowBlock * Lk floats.
// SIMD level 0 (or the ATTENTION family switched off) runs the scalar reference: one query
// row at a time in plain loops. Otherwise a block's scores and its output are two calls of
// the blocked sgemm (kernels/matmul, dispatched by ISA), with the mask and softmax between.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/activation/activation_simd.h"
#include "kernels/matmul/gemm.h"
#include "simd/dispatch.h"
#include "tinyai/op.h"
#include "tinyai/thread_pool.h"

namespace tinyai {
namespace {

// Query rows per work item. Each item packs its head's K^T and V for its two GEMMs, so a
// block covering a whole BERT-length sequence (128) packs them once per head instead of once
// per 64 rows (measured 1-2 % of BERT-small's run); the score block stays 64 KiB at Lk = 128.
constexpr int64_t kRowBlock = 128;

// Element step of each broadcast dimension of `operand` (right-aligned to `out`), 0 where the
// operand has size 1 (or lacks the dimension) and the output does not.
std::vector<int64_t> broadcast_steps(const Shape& operand, const Shape& out) {
  std::vector<int64_t> steps(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < operand.size(); ++k) {
    const size_t od = out.size() - 1 - k;
    const size_t id = operand.size() - 1 - k;
    steps[od] = operand[id] == 1 && out[od] != 1 ? 0 : stride;
    stride *= operand[id];
  }
  return steps;
}

struct Operand {
  const float* data = nullptr;
  std::vector<int64_t> steps;  // per output batch dim (matrix dims excluded)
  int64_t offset(const Shape& batch, int64_t index) const {
    int64_t off = 0;
    for (size_t d = batch.size(); d-- > 0;) {
      off += (index % batch[d]) * steps[d];
      index /= batch[d];
    }
    return off;
  }
};

class Attention final : public OpKernel {
 public:
  explicit Attention(const Node& node)
      : scale_(node.attr_float("scale", 1.f)),
        nan_to_zero_(node.attr_int("nan_to_zero", 0) != 0),
        causal_(node.attr_int("causal", 0) != 0) {}

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor* q = ctx.input(0);
    const Tensor* kt = ctx.input(1);
    const Tensor* v = ctx.input(2);
    const Tensor* mask = ctx.input(3);
    if (!q || !kt || !v) ctx.fail("needs inputs Q, K^T and V");
    require_dtype(node, *q, {DType::Float32}, "Q");
    require_dtype(node, *kt, {DType::Float32}, "K^T");
    require_dtype(node, *v, {DType::Float32}, "V");
    if (mask) require_dtype(node, *mask, {DType::Float32}, "mask");
    if (q->rank() < 2 || kt->rank() < 2 || v->rank() < 2)
      ctx.fail("Q, K^T and V must have rank >= 2, got " + shape_str(q->shape) + ", " +
               shape_str(kt->shape) + ", " + shape_str(v->shape));
    const int64_t Lq = q->dim(-2), D = q->dim(-1), Lk = kt->dim(-1), Dv = v->dim(-1);
    if (kt->dim(-2) != D || v->dim(-2) != Lk)
      ctx.fail("shapes do not chain: Q " + shape_str(q->shape) + ", K^T " +
               shape_str(kt->shape) + ", V " + shape_str(v->shape));

    const Shape qb(q->shape.begin(), q->shape.end() - 2);
    const Shape kb(kt->shape.begin(), kt->shape.end() - 2);
    const Shape vb(v->shape.begin(), v->shape.end() - 2);
    const Shape batch = broadcast_shapes(node, broadcast_shapes(node, qb, kb), vb);
    Shape out_shape = batch;
    out_shape.push_back(Lq);
    out_shape.push_back(Dv);
    Tensor& y = ctx.output(0, DType::Float32, out_shape);
    if (y.numel() == 0) return;

    const Operand Q = batched(*q, qb, batch, Lq * D);
    const Operand K = batched(*kt, kb, batch, D * Lk);
    const Operand V = batched(*v, vb, batch, Lk * Dv);
    // The mask broadcasts over the full [batch.., Lq, Lk] score shape.
    Operand M;
    int64_t m_row = 0, m_col = 0;
    if (mask) {
      Shape scores = batch;
      scores.push_back(Lq);
      scores.push_back(Lk);
      if (broadcast_shapes(node, scores, mask->shape) != scores)
        ctx.fail("mask " + shape_str(mask->shape) + " does not broadcast to the scores " +
                 shape_str(scores));
      std::vector<int64_t> steps = broadcast_steps(mask->shape, scores);
      m_col = steps.back();
      m_row = steps[steps.size() - 2];
      steps.resize(batch.size());
      M = Operand{mask->ptr<float>(), steps};
    }

    const int64_t heads = shape_numel(batch);
    const int64_t blocks = (Lq + kRowBlock - 1) / kRowBlock;
    const int64_t items = heads * blocks;
    ThreadPool* pool = ctx.pool();
    const int64_t workers = pool && items > 1 && heads * Lq * Lk * (D + Dv) >= (1 << 16)
                                ? std::min<int64_t>(pool->size(), items) : 1;
    const int64_t block_rows = std::min(kRowBlock, Lq);
    GemmRuntime rt = gemm_runtime(ctx, SimdOp::Attention);
    rt.pool = nullptr;  // threads split the (head, row block) items, each GEMM runs inline
    const bool reference = select_isa(ctx.config(), SimdOp::Attention) == Isa::Scalar;
    // Per worker: the score block, then (GEMM path) the packing workspace, 64-byte aligned.
    const size_t block_bytes = (static_cast<size_t>(block_rows * Lk) * sizeof(float) + 63) & ~size_t{63};
    const size_t ws_bytes = reference ? 0 : ((std::max(sgemm_workspace_bytes(rt, block_rows, Lk, D),
                                                       sgemm_workspace_bytes(rt, block_rows, Dv, Lk)) + 63) & ~size_t{63});
    char* scratch = static_cast<char*>(ctx.scratch(static_cast<size_t>(workers) * (block_bytes + ws_bytes)));
    float* out = y.ptr<float>();

    auto work = [&](int64_t worker) {
      char* mine = scratch + worker * (block_bytes + ws_bytes);
      float* s_block = reinterpret_cast<float*>(mine);
      void* ws = mine + block_bytes;
      for (int64_t item = worker; item < items; item += workers) {
        const int64_t h = item / blocks, r0 = (item % blocks) * kRowBlock;
        const int64_t r1 = std::min(Lq, r0 + kRowBlock);
        const float* qh = Q.data + Q.offset(batch, h);
        const float* kh = K.data + K.offset(batch, h);
        const float* vh = V.data + V.offset(batch, h);
        const float* mh = mask ? M.data + M.offset(batch, h) : nullptr;
        float* yh = out + h * Lq * Dv;
        if (!reference) {
          attend_block(rt, ws, qh, kh, vh, mh, m_row, m_col, r0, r1, Lq, Lk, D, Dv, s_block, yh);
          continue;
        }
        for (int64_t r = r0; r < r1; ++r)
          attend_row(qh + r * D, kh, vh, mh ? mh + r * m_row : nullptr, m_col, r, Lq, Lk, D, Dv,
                     s_block + (r - r0) * Lk, yh + r * Dv);
      }
    };
    if (workers > 1)
      pool->parallel_for(workers, 1, [&](int64_t w0, int64_t w1) {
        for (int64_t w = w0; w < w1; ++w) work(w);
      });
    else
      work(0);
  }

 private:
  // Steps per output batch dim of an operand whose matrices hold `matrix` elements each.
  static Operand batched(const Tensor& t, const Shape& own, const Shape& batch, int64_t matrix) {
    Operand op{t.ptr<float>(), broadcast_steps(own, batch)};
    for (auto& s : op.steps) s *= matrix;
    return op;
  }

  // Query rows [r0, r1) with two GEMMs: S = scale * Q Kt, mask, softmax rows, Y = S V.
  void attend_block(const GemmRuntime& rt, void* ws, const float* q, const float* kt,
                    const float* v, const float* m, int64_t m_row, int64_t m_col, int64_t r0,
                    int64_t r1, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv, float* s,
                    float* y) const {
    const int64_t rows = r1 - r0;
    const auto softmax = activation_kernels(rt.isa).softmax_row;
    sgemm(rt, false, false, rows, Lk, D, scale_, q + r0 * D, D, kt, Lk, 0.f, s, Lk, ws);
    bool all_masked = false;
    for (int64_t r = r0; r < r1; ++r) {
      float* sr = s + (r - r0) * Lk;
      const int64_t visible =
          causal_ ? std::min(Lk, std::max<int64_t>(0, r + Lk - Lq + 1)) : Lk;
      if (m) {
        const float* mr = m + r * m_row;
        if (m_col == 1)
          for (int64_t j = 0; j < visible; ++j) sr[j] += mr[j];
        else
          for (int64_t j = 0; j < visible; ++j) sr[j] += mr[j * m_col];
      }
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < visible; ++j) mx = std::max(mx, sr[j]);
      if (visible == 0 || !(mx > -std::numeric_limits<float>::infinity())) {
        std::fill(sr, sr + Lk, 0.f);  // fixed up below, after the GEMM
        sr[0] = std::numeric_limits<float>::quiet_NaN();
        all_masked = true;
        continue;
      }
      // The ACTIVATION family's vector softmax (polynomial exp) at this ISA: libm's scalar
      // expf per score showed up in BERT profiles (about 3 % of the run).
      softmax(sr, sr, visible, false);
      std::fill(sr + visible, sr + Lk, 0.f);
    }
    float* yb = y + r0 * Dv;
    sgemm(rt, false, false, rows, Dv, Lk, 1.f, s, Lk, v, Dv, 0.f, yb, Dv, ws);
    if (!all_masked) return;
    for (int64_t r = 0; r < rows; ++r)  // rows whose every key was masked: zeros or NaN
      if (std::isnan(s[r * Lk]))
        std::fill(yb + r * Dv, yb + (r + 1) * Dv,
                  nan_to_zero_ ? 0.f : std::numeric_limits<float>::quiet_NaN());
  }

  // One query row: scores into s[0..Lk), softmax in place, then y = s . V.
  void attend_row(const float* q, const float* kt, const float* v, const float* m,
                  int64_t m_col, int64_t row, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv,
                  float* s, float* y) const {
    // Keys past `visible` are masked out by the causal attribute (bottom-right aligned).
    const int64_t visible = causal_ ? std::min(Lk, std::max<int64_t>(0, row + Lk - Lq + 1)) : Lk;
    std::fill(s, s + visible, 0.f);
    for (int64_t d = 0; d < D; ++d) {
      const float a = q[d] * scale_;
      const float* krow = kt + d * Lk;
      for (int64_t j = 0; j < visible; ++j) s[j] += a * krow[j];
    }
    if (m) {
      if (m_col == 1)
        for (int64_t j = 0; j < visible; ++j) s[j] += m[j];
      else
        for (int64_t j = 0; j < visible; ++j) s[j] += m[j * m_col];
    }
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < visible; ++j) mx = std::max(mx, s[j]);
    std::fill(y, y + Dv, 0.f);
    if (visible == 0 || !(mx > -std::numeric_limits<float>::infinity())) {
      // Every key masked (or NaN scores): softmax is 0/0. The exporters' guard says zeros.
      if (!nan_to_zero_) std::fill(y, y + Dv, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    float sum = 0.f;
    for (int64_t j = 0; j < visible; ++j) sum += (s[j] = std::exp(s[j] - mx));
    const float inv = 1.f / sum;
    for (int64_t j = 0; j < visible; ++j) {
      const float p = s[j] * inv;
      const float* vrow = v + j * Dv;
      for (int64_t e = 0; e < Dv; ++e) y[e] += p * vrow[e];
    }
  }

  float scale_;
  bool nan_to_zero_;
  bool causal_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("TinyAIAttention", Attention);

}  // namespace tinyai
