// Clip: bounds are attributes before opset 11 and optional scalar inputs from opset 11 on.
#include <limits>

#include "kernels/elementwise/unary_kernel.h"

namespace tinyai {
namespace {

template <class T> struct ClipFn {
  T lo, hi;
  // `hi` is applied last: when min > max every value becomes max, as ONNX specifies.
  T operator()(T x) const {
    const T y = x < lo ? lo : x;
    return y > hi ? hi : y;
  }
};

class ClipKernel final : public OpKernel {
 public:
  explicit ClipKernel(const Node& node)
      : bounds_from_inputs_(node.opset >= 11),
        attr_min_(node.attr_float("min", std::numeric_limits<float>::lowest())),
        attr_max_(node.attr_float("max", std::numeric_limits<float>::max())) {}

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) ctx.fail("needs an input");
    constexpr unsigned kTypes = kF32 | kInts;
    require_dtype_in(ctx.node(), x->dtype, kTypes, "input");
    visit_dtype<kTypes>(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      ClipFn<T> f{std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max()};
      if (bounds_from_inputs_) {
        bound_input(ctx, 1, x->dtype, &f.lo);
        bound_input(ctx, 2, x->dtype, &f.hi);
      } else if constexpr (std::is_same_v<T, float>) {
        f = {attr_min_, attr_max_};
      }
      Tensor& y = ctx.output(0, x->dtype, x->shape);
      unary_run(f, x->ptr<T>(), y.ptr<T>(), x->numel());
    });
  }

 private:
  template <class T>
  static void bound_input(KernelContext& ctx, size_t i, DType want, T* out) {
    const Tensor* t = ctx.input(i);
    if (!t) return;  // omitted: unbounded on that side
    if (t->dtype != want)
      ctx.unsupported(std::string(i == 1 ? "min" : "max") + " has dtype " +
                      dtype_name(t->dtype) + " but the input is " + dtype_name(want));
    if (t->numel() != 1)
      ctx.fail(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " +
               shape_str(t->shape));
    *out = *t->ptr<T>();
  }

  bool bounds_from_inputs_;
  float attr_min_, attr_max_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Clip", ClipKernel);

}  // namespace tinyai
