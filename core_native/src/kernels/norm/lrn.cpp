// LRN across channels (ONNX formula):
//   square_sum[c] = sum of x[c']^2 for c' in [c - floor((size-1)/2), c + ceil((size-1)/2)]
//   y = x / (bias + alpha / size * square_sum) ^ beta
// Each output channel sums its window of whole planes, so all loops run over the contiguous
// spatial extent.
#include <algorithm>
#include <cmath>

#include "kernels/elementwise/dtype_dispatch.h"

namespace tinyai {
namespace {

class LrnKernel final : public OpKernel {
 public:
  explicit LrnKernel(const Node& node)
      : size_(node.attr_int("size", 0)),
        alpha_(node.attr_float("alpha", 1e-4f)),
        beta_(node.attr_float("beta", 0.75f)),
        bias_(node.attr_float("bias", 1.f)) {
    if (size_ <= 0)
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "attribute 'size' must be a positive integer");
  }

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) ctx.fail("needs an input");
    require_dtype_in(ctx.node(), x->dtype, kF32, "input");
    if (x->rank() < 2) ctx.fail("X must have rank >= 2 (N x C x ...), got " + shape_str(x->shape));
    const int64_t batch = x->dim(0), channels = x->dim(1);
    int64_t inner = 1;
    for (int64_t d = 2; d < x->rank(); ++d) inner *= x->dim(d);
    Tensor& y = ctx.output(0, DType::Float32, x->shape);
    float* sq = static_cast<float*>(ctx.scratch(sizeof(float) * static_cast<size_t>(inner)));
    const int64_t before = (size_ - 1) / 2, after = size_ - 1 - before;
    const float scale = alpha_ / static_cast<float>(size_);
    for (int64_t n = 0; n < batch; ++n) {
      const float* xn = x->ptr<float>() + n * channels * inner;
      float* yn = y.ptr<float>() + n * channels * inner;
      for (int64_t c = 0; c < channels; ++c) {
        std::fill(sq, sq + inner, 0.f);
        const int64_t lo = std::max<int64_t>(0, c - before);
        const int64_t hi = std::min<int64_t>(channels - 1, c + after);
        for (int64_t k = lo; k <= hi; ++k) {
          const float* plane = xn + k * inner;
          for (int64_t i = 0; i < inner; ++i) sq[i] += plane[i] * plane[i];
        }
        const float* xc = xn + c * inner;
        float* yc = yn + c * inner;
        for (int64_t i = 0; i < inner; ++i)
          yc[i] = xc[i] * std::pow(bias_ + scale * sq[i], -beta_);
      }
    }
  }

 private:
  int64_t size_;
  float alpha_, beta_, bias_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("LRN", LrnKernel);

}  // namespace tinyai
