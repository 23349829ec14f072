// LayerNormalization (opset 17): normalise over dims [axis, rank) of X, then scale and
// optional bias broadcast onto that normalised shape. Optional outputs Mean and InvStdDev
// have X's shape with the normalised dims set to 1.
#include <algorithm>
#include <cmath>

#include "kernels/elementwise/broadcast.h"
#include "kernels/elementwise/dtype_dispatch.h"
#include "kernels/norm/moments.h"
#include "tinyai/thread_pool.h"

namespace tinyai {
namespace {

// Below this many elements the rows stay on the calling thread (a worker's wake-up costs
// more); a BERT-small LayerNorm over [2, 128, 384] is 98K.
constexpr int64_t kMinParallelElements = 1 << 15;

class LayerNormKernel final : public OpKernel {
 public:
  explicit LayerNormKernel(const Node& node)
      : axis_(node.attr_int("axis", -1)), epsilon_(node.attr_float("epsilon", 1e-5f)) {}

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (!x || !scale) ctx.fail("needs inputs X and Scale");
    require_dtype_in(ctx.node(), x->dtype, kF32, "X");
    require_dtype_in(ctx.node(), scale->dtype, kF32, "Scale");
    if (bias) require_dtype_in(ctx.node(), bias->dtype, kF32, "B");
    if (x->rank() == 0) ctx.fail("X must have rank >= 1");
    const int64_t axis = normalize_axis(ctx.node(), axis_, x->rank());
    const Shape norm_shape(x->shape.begin() + axis, x->shape.end());
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    const int64_t n = shape_numel(norm_shape);

    const float* gamma = expand_param(ctx, *scale, norm_shape, "Scale");
    const float* beta = bias ? expand_param(ctx, *bias, norm_shape, "B") : nullptr;

    Tensor& y = ctx.output(0, DType::Float32, x->shape);
    Shape stat_shape = x->shape;
    for (size_t d = static_cast<size_t>(axis); d < stat_shape.size(); ++d) stat_shape[d] = 1;
    float* mean_out = ctx.output_wanted(1) ? ctx.output(1, DType::Float32, stat_shape).ptr<float>()
                                           : nullptr;
    float* inv_out = ctx.output_wanted(2) ? ctx.output(2, DType::Float32, stat_shape).ptr<float>()
                                          : nullptr;
    // Rows are independent: large inputs are split into row ranges over the thread pool
    // (each row is computed the same way on any thread, so results do not depend on it).
    auto rows = [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const float* xr = x->ptr<float>() + o * n;
        float* yr = y.ptr<float>() + o * n;
        const Moments m = span_moments(xr, n);
        const float inv_std = 1.f / std::sqrt(m.var + epsilon_);
        if (mean_out) mean_out[o] = m.mean;
        if (inv_out) inv_out[o] = inv_std;
        if (beta)
          for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m.mean) * inv_std * gamma[i] + beta[i];
        else
          for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m.mean) * inv_std * gamma[i];
      }
    };
    ThreadPool* pool = ctx.pool();
    if (pool && pool->size() > 1 && outer > 1 && outer * n >= kMinParallelElements)
      pool->parallel_for(outer, std::max<int64_t>(1, (kMinParallelElements / 2) / std::max<int64_t>(n, 1)),
                         rows);
    else
      rows(0, outer);
  }

 private:
  // The parameter as a contiguous array over the normalised shape (broadcast when smaller).
  static const float* expand_param(KernelContext& ctx, const Tensor& p, const Shape& norm_shape,
                                   const char* what) {
    if (p.shape == norm_shape) return p.ptr<float>();
    Shape s = p.shape;
    while (s.size() > norm_shape.size() && s.front() == 1) s.erase(s.begin());
    if (s.size() > norm_shape.size() || broadcast_shapes(ctx.node(), s, norm_shape) != norm_shape)
      ctx.fail(std::string(what) + " shape " + shape_str(p.shape) +
               " does not broadcast to the normalised shape " + shape_str(norm_shape));
    float* out = static_cast<float*>(ctx.scratch(sizeof(float) * shape_numel(norm_shape)));
    broadcast_copy(p.ptr<float>(), s, out, norm_shape);
    return out;
  }

  int64_t axis_;
  float epsilon_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("LayerNormalization", LayerNormKernel);

}  // namespace tinyai
