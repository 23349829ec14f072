// Slice: starts/ends/axes attributes before opset 10, inputs (with steps) from then on.
#include <algorithm>

#include "kernels/shape/shape_common.h"
#include "kernels/shape/strided_copy.h"

namespace tinyai {

namespace {

class SliceKernel : public OpKernel {
 public:
  explicit SliceKernel(const Node& node)
      : starts_(node, "starts", 1, 10),
        ends_(node, "ends", 2, 10),
        axes_(node, "axes", 3, 10),
        steps_(node, "steps", 4, 10) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const int64_t rank = x.rank();
    std::vector<int64_t> starts, ends, axes, steps;
    if (!starts_.get(ctx, &starts) || !ends_.get(ctx, &ends)) ctx.fail("missing starts/ends");
    if (starts.size() != ends.size()) ctx.fail("starts and ends differ in length");
    if (!axes_.get(ctx, &axes))
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (!steps_.get(ctx, &steps)) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
      ctx.fail("starts, ends, axes and steps must have the same length");

    Shape out = x.shape;
    std::vector<int64_t> begin(x.shape.size(), 0), step(x.shape.size(), 1);
    std::vector<bool> seen(x.shape.size(), false);
    for (size_t i = 0; i < starts.size(); ++i) {
      const auto a = static_cast<size_t>(normalize_axis(ctx.node(), axes[i], rank));
      if (seen[a]) ctx.fail("axis " + std::to_string(axes[i]) + " is repeated");
      seen[a] = true;
      const int64_t dim = x.shape[a], s = steps[i];
      if (s == 0) ctx.fail("step 0");
      // ONNX clamping: INT64_MAX / INT64_MIN style sentinels mean "to the end".
      int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
      int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
      if (s > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        out[a] = e > b ? (e - b + s - 1) / s : 0;
      } else if (dim == 0) {
        b = 0;
        out[a] = 0;
      } else {
        b = std::clamp<int64_t>(b, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        out[a] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
      }
      begin[a] = b;
      step[a] = s;
    }
    Tensor& y = ctx.output(0, x.dtype, out);
    if (y.numel() == 0) return;
    const std::vector<int64_t> xs = contiguous_strides(x.shape);
    std::vector<int64_t> src_strides(xs.size());
    int64_t offset = 0;
    for (size_t a = 0; a < xs.size(); ++a) {
      offset += begin[a] * xs[a];
      src_strides[a] = xs[a] * step[a];
    }
    const size_t es = dtype_size(x.dtype);
    strided_copy(static_cast<const char*>(x.data) + offset * static_cast<int64_t>(es),
                 src_strides, y.data, contiguous_strides(out), out, es);
  }

 private:
  IntListArg starts_, ends_, axes_, steps_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Slice", SliceKernel);

}  // namespace tinyai
