// Tile and Expand: repeat data by reading it with zero strides.
#include "kernels/shape/shape_common.h"
#include "kernels/shape/strided_copy.h"

namespace tinyai {

namespace {

class TileKernel : public OpKernel {
 public:
  explicit TileKernel(const Node& node) {
    if (effective_opset(node) < 6)
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "Tile-1 (tiles/axis inputs) is not supported; use opset >= 6");
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const std::vector<int64_t> reps = required_int_input(ctx, 1, "repeats");
    if (static_cast<int64_t>(reps.size()) != x.rank())
      ctx.fail("repeats has " + std::to_string(reps.size()) + " entries for input " +
               shape_str(x.shape));
    // Walk [r0, d0, r1, d1, ...]: the repeat axes read with stride 0.
    const std::vector<int64_t> xs = contiguous_strides(x.shape);
    Shape out(x.shape.size()), walk, src_strides;
    for (size_t a = 0; a < x.shape.size(); ++a) {
      if (reps[a] < 0) ctx.fail("negative repeat count");
      out[a] = x.shape[a] * reps[a];
      walk.push_back(reps[a]);
      walk.push_back(x.shape[a]);
      src_strides.push_back(0);
      src_strides.push_back(xs[a]);
    }
    if (out == x.shape) {
      ctx.output_alias(0, 0, out);
      return;
    }
    Tensor& y = ctx.output(0, x.dtype, out);
    strided_copy(x.data, src_strides, y.data, contiguous_strides(walk), walk, dtype_size(x.dtype));
  }
};

class ExpandKernel : public OpKernel {
 public:
  explicit ExpandKernel(const Node&) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Shape out = broadcast_shapes(ctx.node(), x.shape, required_int_input(ctx, 1, "shape"));
    if (out == x.shape) {  // nothing to broadcast
      ctx.output_alias(0, 0, out);
      return;
    }
    const std::vector<int64_t> xs = contiguous_strides(x.shape);
    std::vector<int64_t> src_strides(out.size(), 0);
    const size_t lead = out.size() - x.shape.size();
    for (size_t a = 0; a < x.shape.size(); ++a)
      src_strides[lead + a] = x.shape[a] == 1 ? 0 : xs[a];
    Tensor& y = ctx.output(0, x.dtype, out);
    strided_copy(x.data, src_strides, y.data, contiguous_strides(out), out, dtype_size(x.dtype));
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Tile", TileKernel);
TINYAI_REGISTER_KERNEL("Expand", ExpandKernel);

}  // namespace tinyai
