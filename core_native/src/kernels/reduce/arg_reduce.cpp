// ArgMax / ArgMin along one axis -> int64 indices (first occurrence, or last with
// select_last_index=1). Viewed as [outer, n, inner]: inner == 1 scans contiguous rows,
// otherwise rows of `inner` values are compared column-wise with contiguous inner loops.
#include <algorithm>

#include "kernels/elementwise/dtype_dispatch.h"

namespace tinyai {
namespace {

template <bool kMax, class T> struct ArgCompare {
  bool last;
  // Does v replace the current best?
  bool operator()(T v, T best) const {
    if constexpr (kMax)
      return last ? v >= best : v > best;
    else
      return last ? v <= best : v < best;
  }
};

template <bool kMax>
class ArgReduceKernel final : public OpKernel {
 public:
  explicit ArgReduceKernel(const Node& node)
      : axis_(node.attr_int("axis", 0)),
        keepdims_(node.attr_int("keepdims", 1) != 0),
        last_(node.attr_int("select_last_index", 0) != 0) {}

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) ctx.fail("needs an input");
    require_dtype_in(ctx.node(), x->dtype, kNumeric, "input");
    if (x->rank() == 0) ctx.fail("input is a scalar; there is no axis to search");
    const int64_t axis = normalize_axis(ctx.node(), axis_, x->rank());
    int64_t outer = 1, inner = 1;
    const int64_t n = x->dim(axis);
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    for (int64_t d = axis + 1; d < x->rank(); ++d) inner *= x->dim(d);
    Shape out_shape = x->shape;
    if (keepdims_)
      out_shape[static_cast<size_t>(axis)] = 1;
    else
      out_shape.erase(out_shape.begin() + axis);
    Tensor& y = ctx.output(0, DType::Int64, out_shape);
    if (outer * inner == 0) return;
    if (n == 0) ctx.fail("cannot search an empty axis " + std::to_string(axis));
    visit_dtype<kNumeric>(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      const ArgCompare<kMax, T> better{last_};
      const T* xp = x->ptr<T>();
      int64_t* yp = y.ptr<int64_t>();
      if (inner == 1) {
        for (int64_t o = 0; o < outer; ++o) {
          const T* row = xp + o * n;
          int64_t arg = 0;
          for (int64_t i = 1; i < n; ++i)
            if (better(row[i], row[arg])) arg = i;
          yp[o] = arg;
        }
        return;
      }
      T* best = static_cast<T*>(ctx.scratch(sizeof(T) * static_cast<size_t>(inner)));
      for (int64_t o = 0; o < outer; ++o) {
        const T* slab = xp + o * n * inner;
        int64_t* arg = yp + o * inner;
        std::copy(slab, slab + inner, best);
        std::fill(arg, arg + inner, int64_t{0});
        for (int64_t r = 1; r < n; ++r) {
          const T* row = slab + r * inner;
          for (int64_t j = 0; j < inner; ++j)
            if (better(row[j], best[j])) best[j] = row[j], arg[j] = r;
        }
      }
    });
  }

 private:
  int64_t axis_;
  bool keepdims_;
  bool last_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("ArgMax", ArgReduceKernel<true>);
TINYAI_REGISTER_KERNEL("ArgMin", ArgReduceKernel<false>);

}  // namespace tinyai
