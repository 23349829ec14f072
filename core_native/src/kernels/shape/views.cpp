// Ops that only relabel the shape: the output is a zero-copy view of input 0.
#include <algorithm>

#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

class ReshapeKernel : public OpKernel {
 public:
  explicit ReshapeKernel(const Node& node)
      : shape_(node, "shape", 1, 5), allow_zero_(node.attr_int("allowzero", 0) != 0) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> target;
    if (!shape_.get(ctx, &target)) ctx.fail("missing the target shape");
    Shape out(target.size());
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < target.size(); ++i) {
      int64_t d = target[i];
      if (d == 0 && !allow_zero_) {
        if (i >= x.shape.size())
          ctx.fail("shape entry " + std::to_string(i) + " is 0 (copy) but the input " +
                   shape_str(x.shape) + " has no such dimension");
        d = x.shape[i];
      }
      if (d == -1) {
        if (infer >= 0) ctx.fail("more than one -1 in shape " + shape_str(target));
        infer = static_cast<int>(i);
        continue;
      }
      if (d < 0) ctx.fail("invalid dimension in shape " + shape_str(target));
      out[i] = d;
      known *= d;
    }
    if (infer >= 0) {
      if (known == 0 || x.numel() % known != 0)
        ctx.fail("cannot infer the -1 in " + shape_str(target) + " for input " +
                 shape_str(x.shape));
      out[static_cast<size_t>(infer)] = x.numel() / known;
    }
    if (shape_numel(out) != x.numel())
      ctx.fail("cannot reshape " + shape_str(x.shape) + " to " + shape_str(target));
    ctx.output_alias(0, 0, out);
  }

 private:
  IntListArg shape_;
  bool allow_zero_;
};

class FlattenKernel : public OpKernel {
 public:
  explicit FlattenKernel(const Node& node) : axis_(node.attr_int("axis", 1)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const int64_t r = x.rank();
    const int64_t a = axis_ < 0 ? axis_ + r : axis_;
    if (a < 0 || a > r)
      throw ModelError("Flatten node '" + ctx.node().name + "': axis " + std::to_string(axis_) +
                       " is out of range for rank " + std::to_string(r));
    const auto split = static_cast<size_t>(a);
    ctx.output_alias(0, 0, {dims_product(x.shape, 0, split),
                            dims_product(x.shape, split, x.shape.size())});
  }

 private:
  int64_t axis_;
};

class SqueezeKernel : public OpKernel {
 public:
  explicit SqueezeKernel(const Node& node) : axes_(node, "axes", 1, 13) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> axes;
    std::vector<bool> drop(x.shape.size(), false);
    if (axes_.get(ctx, &axes)) {
      for (int64_t a : axes) {
        const auto n = static_cast<size_t>(normalize_axis(ctx.node(), a, x.rank()));
        if (x.shape[n] != 1)
          ctx.fail("cannot squeeze axis " + std::to_string(a) + " of shape " +
                   shape_str(x.shape) + ": its size is not 1");
        drop[n] = true;
      }
    } else {
      for (size_t i = 0; i < x.shape.size(); ++i) drop[i] = x.shape[i] == 1;
    }
    Shape out;
    for (size_t i = 0; i < x.shape.size(); ++i)
      if (!drop[i]) out.push_back(x.shape[i]);
    ctx.output_alias(0, 0, out);
  }

 private:
  IntListArg axes_;
};

class UnsqueezeKernel : public OpKernel {
 public:
  explicit UnsqueezeKernel(const Node& node) : axes_(node, "axes", 1, 13) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> axes;
    if (!axes_.get(ctx, &axes)) ctx.fail("missing axes");
    const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
    for (int64_t a : axes) {
      const auto n = static_cast<size_t>(normalize_axis(ctx.node(), a, out_rank));
      if (inserted[n]) ctx.fail("axis " + std::to_string(a) + " is repeated");
      inserted[n] = true;
    }
    Shape out(static_cast<size_t>(out_rank));
    size_t next = 0;
    for (size_t i = 0; i < out.size(); ++i) out[i] = inserted[i] ? 1 : x.shape[next++];
    ctx.output_alias(0, 0, out);
  }

 private:
  IntListArg axes_;
};

class IdentityKernel : public OpKernel {
 public:
  explicit IdentityKernel(const Node&) {}
  void run(KernelContext& ctx) override { ctx.output_alias(0, 0, ctx.input(0)->shape); }
};

// Inference-mode Dropout: the data passes through and the mask (if asked for) keeps every
// element. Its dtype is the data's before opset 10 and bool from then on.
class DropoutKernel : public OpKernel {
 public:
  explicit DropoutKernel(const Node& node) : bool_mask_(effective_opset(node) >= 10) {
    if (effective_opset(node) < 7 && node.attr_int("is_test", 0) == 0)
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "training-mode Dropout (is_test=0) is not supported; "
                                     "export the model in inference mode");
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (const Tensor* training = ctx.input(2)) {
      if (training->numel() == 1 && tensor_to_int64s(*training)[0] != 0)
        ctx.unsupported("training_mode=true is not supported (inference engine)");
    }
    ctx.output_alias(0, 0, x.shape);
    if (!ctx.output_wanted(1)) return;
    if (bool_mask_) {
      Tensor& m = ctx.output(1, DType::Bool, x.shape);
      std::fill(m.ptr<uint8_t>(), m.ptr<uint8_t>() + m.numel(), uint8_t{1});
      return;
    }
    require_dtype(ctx.node(), x, {DType::Float32}, "data");
    Tensor& m = ctx.output(1, x.dtype, x.shape);
    std::fill(m.ptr<float>(), m.ptr<float>() + m.numel(), 1.0f);
  }

 private:
  bool bool_mask_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Reshape", ReshapeKernel);
TINYAI_REGISTER_KERNEL("Flatten", FlattenKernel);
TINYAI_REGISTER_KERNEL("Squeeze", SqueezeKernel);
TINYAI_REGISTER_KERNEL("Unsqueeze", UnsqueezeKernel);
TINYAI_REGISTER_KERNEL("Identity", IdentityKernel);
TINYAI_REGISTER_KERNEL("Dropout", DropoutKernel);

}  // namespace tinyai
