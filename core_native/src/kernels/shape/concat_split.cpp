// Concat and Split: each part is a [outer, part_row] block of a [outer, total_row] tensor.
#include <algorithm>

#include "kernels/shape/shape_common.h"
#include "kernels/shape/strided_copy.h"

namespace tinyai {

namespace {

class ConcatKernel : public OpKernel {
 public:
  // Concat-1 defaults to axis 1; from opset 4 on the axis is required.
  explicit ConcatKernel(const Node& node) : axis_(node.attr_int("axis", 1)) {
    if (!node.has_attr("axis") && effective_opset(node) >= 4)
      throw ModelError("Concat node '" + node.name + "': missing the required 'axis'");
  }

  void run(KernelContext& ctx) override {
    const Tensor* first = nullptr;
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.input(i)) {
        first = ctx.input(i);
        break;
      }
    if (!first) ctx.fail("has no inputs");
    const int64_t rank = first->rank();
    const auto axis = static_cast<size_t>(normalize_axis(ctx.node(), axis_, rank));
    Shape out = first->shape;
    out[axis] = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* t = ctx.input(i);
      if (!t) continue;
      if (t->dtype != first->dtype)
        ctx.fail("inputs have different dtypes (" + std::string(dtype_name(first->dtype)) +
                 " and " + dtype_name(t->dtype) + ")");
      bool same = t->rank() == rank;
      for (size_t d = 0; same && d < out.size(); ++d)
        same = d == axis || t->shape[d] == first->shape[d];
      if (!same)
        ctx.fail("input shapes " + shape_str(first->shape) + " and " + shape_str(t->shape) +
                 " differ outside axis " + std::to_string(axis));
      out[axis] += t->shape[axis];
    }
    Tensor& y = ctx.output(0, first->dtype, out);
    const int64_t outer = dims_product(out, 0, axis);
    const int64_t inner = dims_product(out, axis + 1, out.size());
    const int64_t out_row = out[axis] * inner;
    const size_t es = dtype_size(first->dtype);
    int64_t offset = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* t = ctx.input(i);
      if (!t) continue;
      const int64_t row = t->shape[axis] * inner;
      strided_copy(t->data, {row, 1}, static_cast<char*>(y.data) + offset * es, {out_row, 1},
                   {outer, row}, es, ctx.pool());  // large copies split over the pool
      offset += row;
    }
  }

 private:
  int64_t axis_;
};

class SplitKernel : public OpKernel {
 public:
  explicit SplitKernel(const Node& node)
      : axis_(node.attr_int("axis", 0)),
        split_(node, "split", 1, 13),
        num_outputs_(node.attr_int("num_outputs", 0)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const auto axis = static_cast<size_t>(normalize_axis(ctx.node(), axis_, x.rank()));
    const int64_t dim = x.shape[axis];
    const size_t parts = ctx.num_outputs();
    std::vector<int64_t> sizes;
    if (split_.get(ctx, &sizes)) {
      int64_t sum = 0;
      for (int64_t s : sizes) {
        if (s < 0) ctx.fail("negative split size");
        sum += s;
      }
      if (sizes.size() != parts || sum != dim)
        ctx.fail("split sizes " + shape_str(sizes) + " do not cover dimension " +
                 std::to_string(dim) + " with " + std::to_string(parts) + " outputs");
    } else {
      if (num_outputs_ > 0 && static_cast<size_t>(num_outputs_) != parts)
        ctx.fail("num_outputs does not match the node's outputs");
      // Equal chunks; opset 18 lets the last one be smaller.
      const auto n = static_cast<int64_t>(parts);
      const int64_t chunk = (dim + n - 1) / n;
      for (int64_t i = 0; i < n; ++i)
        sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
    }
    const int64_t outer = dims_product(x.shape, 0, axis);
    const int64_t inner = dims_product(x.shape, axis + 1, x.shape.size());
    const int64_t in_row = dim * inner;
    const size_t es = dtype_size(x.dtype);
    int64_t offset = 0;
    for (size_t i = 0; i < parts; ++i) {
      const int64_t row = sizes[i] * inner;
      if (ctx.output_wanted(i)) {
        Shape shape = x.shape;
        shape[axis] = sizes[i];
        Tensor& y = ctx.output(i, x.dtype, shape);
        strided_copy(static_cast<const char*>(x.data) + offset * es, {in_row, 1}, y.data,
                     {row, 1}, {outer, row}, es, ctx.pool());
      }
      offset += row;
    }
  }

 private:
  int64_t axis_;
  IntListArg split_;
  int64_t num_outputs_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Concat", ConcatKernel);
TINYAI_REGISTER_KERNEL("Split", SplitKernel);

}  // namespace tinyai
