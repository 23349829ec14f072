// OneHot: indices -> a new axis of length depth holding on/off values.
#include <cmath>
#include <cstring>

#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

class OneHotKernel : public OpKernel {
 public:
  explicit OneHotKernel(const Node& node) : axis_(node.attr_int("axis", -1)) {}

  void run(KernelContext& ctx) override {
    const Tensor& ind = *ctx.input(0);
    const Tensor* depth_t = ctx.input(1);
    const Tensor* values = ctx.input(2);
    if (!depth_t || !values) ctx.fail("needs indices, depth and values");
    if (depth_t->numel() != 1) ctx.fail("depth must hold one value");
    if (values->numel() != 2) ctx.fail("values must hold [off_value, on_value]");
    const int64_t depth = depth_t->dtype == DType::Float32
                              ? static_cast<int64_t>(std::floor(depth_t->ptr<float>()[0]))
                              : tensor_to_int64s(*depth_t)[0];
    if (depth < 1) ctx.fail("depth must be positive");
    const auto axis = static_cast<size_t>(normalize_axis(ctx.node(), axis_, ind.rank() + 1));
    Shape out = ind.shape;
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(axis), depth);
    Tensor& y = ctx.output(0, values->dtype, out);

    const size_t es = dtype_size(values->dtype);
    const auto* off = static_cast<const char*>(values->data);
    const char* on = off + es;
    auto* dst = static_cast<char*>(y.data);
    const int64_t n = y.numel();
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * static_cast<int64_t>(es), off, es);
    const std::vector<int64_t> idx = tensor_to_int64s(ind);
    const int64_t outer = dims_product(ind.shape, 0, axis);
    const int64_t inner = dims_product(ind.shape, axis, ind.shape.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        int64_t v = idx[static_cast<size_t>(o * inner + j)];
        if (v < 0) v += depth;
        if (v < 0 || v >= depth) continue;  // out-of-range indices give an all-off row
        std::memcpy(dst + ((o * depth + v) * inner + j) * static_cast<int64_t>(es), on, es);
      }
  }

 private:
  int64_t axis_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("OneHot", OneHotKernel);

}  // namespace tinyai
