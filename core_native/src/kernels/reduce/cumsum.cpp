// CumSum (opset 11/14): running sum along the axis given as a scalar tensor input; attributes
// `exclusive` (the sum of the elements before, not including, each position) and `reverse`
// (sum from the end). The dynamo exporter emits it for GPT-2's position ids from a mask.
#include <cstdint>

#include "tinyai/op.h"

namespace tinyai {
namespace {

template <typename T>
void cumsum(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool exclusive,
            bool reverse) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t base = o * n * inner + j;
      T acc = T(0);
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = base + (reverse ? n - 1 - k : k) * inner;
        if (exclusive) {
          y[i] = acc;
          acc += x[i];
        } else {
          acc += x[i];
          y[i] = acc;
        }
      }
    }
  }
}

class CumSum final : public OpKernel {
 public:
  explicit CumSum(const Node& node)
      : exclusive_(node.attr_int("exclusive", 0) != 0),
        reverse_(node.attr_int("reverse", 0) != 0) {}

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* axis_t = ctx.input(1);
    if (!x || !axis_t) ctx.fail("needs inputs x and axis");
    require_dtype(ctx.node(), *x, {DType::Float32, DType::Int32, DType::Int64}, "input x");
    const std::vector<int64_t> axis_v = tensor_to_int64s(*axis_t);
    if (axis_v.size() != 1) ctx.fail("axis must hold one value, got " + shape_str(axis_t->shape));
    const int64_t rank = x->rank();
    if (rank == 0) ctx.fail("input must have rank >= 1");
    const int64_t axis = normalize_axis(ctx.node(), axis_v[0], rank);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    for (int64_t d = axis + 1; d < rank; ++d) inner *= x->dim(d);
    const int64_t n = x->dim(axis);
    Tensor& y = ctx.output(0, x->dtype, x->shape);
    switch (x->dtype) {
      case DType::Float32:
        cumsum(x->ptr<float>(), y.ptr<float>(), outer, n, inner, exclusive_, reverse_);
        break;
      case DType::Int32:
        cumsum(x->ptr<int32_t>(), y.ptr<int32_t>(), outer, n, inner, exclusive_, reverse_);
        break;
      case DType::Int64:
        cumsum(x->ptr<int64_t>(), y.ptr<int64_t>(), outer, n, inner, exclusive_, reverse_);
        break;
      default:
        break;
    }
  }

 private:
  bool exclusive_;
  bool reverse_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("CumSum", CumSum);

}  // namespace tinyai
