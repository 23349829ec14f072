// BatchNormalization in inference mode: y = (x - mean) / sqrt(var + eps) * scale + B, folded
// per channel into y = x * a[c] + b[c]. Training mode (batch statistics, updated running
// stats) is not implemented. A Relu that followed it may be fused at import (our string
// attribute `activation` = "Relu", importer/conv_fusion.py): applied as each value is stored.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/elementwise/dtype_dispatch.h"
#include "kernels/norm/moments.h"
#include "tinyai/thread_pool.h"

namespace tinyai {
namespace {

bool has_output(const Node& node, size_t i) {
  return i < node.outputs.size() && node.outputs[i] >= 0;
}

class BatchNormKernel final : public OpKernel {
 public:
  explicit BatchNormKernel(const Node& node)
      : epsilon_(node.attr_float("epsilon", 1e-5f)),
        per_activation_(node.opset < 9 && node.attr_int("spatial", 1) == 0) {
    const std::string activation = node.attr_string("activation", "");
    if (activation == "Relu")
      relu_ = true;
    else if (!activation.empty())
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "activation '" + activation +
                                         "' (only Relu is fused into a BatchNormalization)");
    bool extra_outputs = false;
    for (size_t i = 1; i < 5; ++i) extra_outputs |= has_output(node, i);
    // opset 14+: training_mode says it; 7-13: extra outputs mean training; < 7: is_test=0.
    const bool training =
        node.opset >= 14 ? node.attr_int("training_mode", 0) != 0
        : node.opset >= 7 ? extra_outputs
                          : extra_outputs && node.attr_int("is_test", 0) == 0;
    if (training)
      throw UnsupportedOperatorError(
          node.op_type, node.name,
          "training mode (batch statistics and running-stat outputs) is not supported; "
          "export the model in inference/eval mode");
  }

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor* in[5];
    static const char* const kNames[5] = {"X", "scale", "B", "mean", "var"};
    for (size_t i = 0; i < 5; ++i) {
      in[i] = ctx.input(i);
      if (!in[i]) ctx.fail(std::string("input ") + kNames[i] + " is missing");
      require_dtype_in(node, in[i]->dtype, kF32, kNames[i]);
    }
    const Tensor& x = *in[0];
    if (x.rank() < 2) ctx.fail("X must have rank >= 2 (N x C x ...), got " + shape_str(x.shape));
    const int64_t batch = x.dim(0);
    int64_t channels = x.dim(1), inner = 1;
    for (int64_t d = 2; d < x.rank(); ++d) inner *= x.dim(d);
    if (per_activation_) channels *= inner, inner = 1;  // spatial=0: one statistic per element
    for (size_t i = 1; i < 5; ++i)
      if (in[i]->numel() != channels)
        ctx.fail(std::string(kNames[i]) + " has " + std::to_string(in[i]->numel()) +
                 " values; expected " + std::to_string(channels));

    float* ab = static_cast<float*>(ctx.scratch(sizeof(float) * 2 * channels));
    const float *scale = in[1]->ptr<float>(), *bias = in[2]->ptr<float>(),
                *mean = in[3]->ptr<float>(), *var = in[4]->ptr<float>();
    for (int64_t c = 0; c < channels; ++c) {
      ab[c] = scale[c] / std::sqrt(var[c] + epsilon_);
      ab[channels + c] = bias[c] - mean[c] * ab[c];
    }
    Tensor& y = ctx.output(0, DType::Float32, x.shape);
    const float* xp = x.ptr<float>();
    float* yp = y.ptr<float>();
    auto planes = [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t c = p % channels;
        if (relu_)
          affine_relu_run(xp + p * inner, yp + p * inner, inner, ab[c], ab[channels + c]);
        else
          affine_run(xp + p * inner, yp + p * inner, inner, ab[c], ab[channels + c]);
      }
    };
    // Memory-bound: worth splitting over the pool only for large activations.
    const int64_t planes_total = batch * channels;
    if (ctx.pool() && planes_total > 1 && planes_total * inner >= (1 << 16))
      ctx.pool()->parallel_for(planes_total, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(inner, 1)),
                               planes);
    else
      planes(0, planes_total);

    // Inference mode leaves the running statistics unchanged; pass them through for models
    // that declare those outputs anyway.
    for (size_t i = 1; i < 5 && i < ctx.num_outputs(); ++i) {
      if (!ctx.output_wanted(i)) continue;
      const Tensor& src = *in[i % 2 == 1 ? 3 : 4];
      Tensor& o = ctx.output(i, DType::Float32, src.shape);
      std::memcpy(o.data, src.data, src.nbytes());
    }
  }

 private:
  float epsilon_;
  bool per_activation_;
  bool relu_ = false;
};

}  // namespace

TINYAI_REGISTER_KERNEL("BatchNormalization", BatchNormKernel);

}  // namespace tinyai
