// InstanceNormalization and GroupNormalization: statistics over each (n, group) span, then a
// per-channel (or, GroupNormalization before opset 21, per-group) affine. Instance norm is
// group norm with one channel per group.
#include <cmath>

#include "kernels/elementwise/dtype_dispatch.h"
#include "kernels/norm/moments.h"

namespace tinyai {
namespace {

struct GroupLayout {
  int64_t batch = 1, groups = 1, channels_per_group = 1, inner = 1;
};

// x, y: [batch, groups, channels_per_group, inner]; scale/bias indexed per channel or group.
void group_normalize(const float* x, float* y, const GroupLayout& l, const float* scale,
                     const float* bias, bool per_channel, float eps) {
  const int64_t span = l.channels_per_group * l.inner;
  for (int64_t n = 0; n < l.batch; ++n)
    for (int64_t g = 0; g < l.groups; ++g) {
      const int64_t base = (n * l.groups + g) * span;
      const Moments m = span_moments(x + base, span);
      const float inv_std = 1.f / std::sqrt(m.var + eps);
      for (int64_t k = 0; k < l.channels_per_group; ++k) {
        const int64_t p = per_channel ? g * l.channels_per_group + k : g;
        const float a = scale[p] * inv_std;
        const int64_t off = base + k * l.inner;
        affine_run(x + off, y + off, l.inner, a, bias[p] - m.mean * a);
      }
    }
}

// Fetches X, scale and B and checks their dtypes and that X has a channel axis.
struct NormInputs {
  const Tensor* x;
  const float* scale;
  const float* bias;
};

NormInputs norm_inputs(KernelContext& ctx) {
  static const char* const kNames[3] = {"X", "scale", "B"};
  const Tensor* t[3];
  for (size_t i = 0; i < 3; ++i) {
    t[i] = ctx.input(i);
    if (!t[i]) ctx.fail(std::string("input ") + kNames[i] + " is missing");
    require_dtype_in(ctx.node(), t[i]->dtype, kF32, kNames[i]);
  }
  if (t[0]->rank() < 2) ctx.fail("X must have rank >= 2 (N x C x ...), got " + shape_str(t[0]->shape));
  return {t[0], t[1]->ptr<float>(), t[2]->ptr<float>()};
}

void check_param_count(KernelContext& ctx, int64_t want, const char* per) {
  for (size_t i = 1; i < 3; ++i)
    if (ctx.input(i)->numel() != want)
      ctx.fail(std::string(i == 1 ? "scale" : "B") + " has " +
               std::to_string(ctx.input(i)->numel()) + " values; expected " +
               std::to_string(want) + " (one per " + per + ")");
}

GroupLayout layout_of(const Tensor& x, int64_t groups) {
  GroupLayout l;
  l.batch = x.dim(0);
  l.groups = groups;
  l.channels_per_group = x.dim(1) / groups;
  for (int64_t d = 2; d < x.rank(); ++d) l.inner *= x.dim(d);
  return l;
}

class InstanceNormKernel final : public OpKernel {
 public:
  explicit InstanceNormKernel(const Node& node) : epsilon_(node.attr_float("epsilon", 1e-5f)) {}

  void run(KernelContext& ctx) override {
    const NormInputs in = norm_inputs(ctx);
    const int64_t channels = in.x->dim(1);
    check_param_count(ctx, channels, "channel");
    Tensor& y = ctx.output(0, DType::Float32, in.x->shape);
    group_normalize(in.x->ptr<float>(), y.ptr<float>(), layout_of(*in.x, channels), in.scale,
                    in.bias, true, epsilon_);
  }

 private:
  float epsilon_;
};

class GroupNormKernel final : public OpKernel {
 public:
  explicit GroupNormKernel(const Node& node)
      : epsilon_(node.attr_float("epsilon", 1e-5f)),
        groups_(node.attr_int("num_groups", 0)),
        per_channel_(node.opset >= 21) {
    if (groups_ <= 0)
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "num_groups must be a positive integer");
  }

  void run(KernelContext& ctx) override {
    const NormInputs in = norm_inputs(ctx);
    const int64_t channels = in.x->dim(1);
    if (channels % groups_ != 0)
      ctx.fail("the channel count " + std::to_string(channels) +
               " is not divisible by num_groups " + std::to_string(groups_));
    check_param_count(ctx, per_channel_ ? channels : groups_, per_channel_ ? "channel" : "group");
    Tensor& y = ctx.output(0, DType::Float32, in.x->shape);
    group_normalize(in.x->ptr<float>(), y.ptr<float>(), layout_of(*in.x, groups_), in.scale,
                    in.bias, per_channel_, epsilon_);
  }

 private:
  float epsilon_;
  int64_t groups_;
  bool per_channel_;  // opset 21 changed scale/bias from one value per group to per channel
};

}  // namespace

TINYAI_REGISTER_KERNEL("InstanceNormalization", InstanceNormKernel);
TINYAI_REGISTER_KERNEL("GroupNormalization", GroupNormKernel);

}  // namespace tinyai
