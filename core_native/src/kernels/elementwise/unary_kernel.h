// The one unary elementwise kernel. An op is a functor F:
//
//   struct ExpOp {
//     static constexpr unsigned kTypes = kF32;             // accepted input dtypes
//     float operator()(float x) const { return std::exp(x); }
//   };
//   TINYAI_REGISTER_KERNEL("Exp", UnaryKernel<ExpOp>);
//
// operator() may be a template (for ops on several dtypes); its result type decides the
// output dtype (bool -> a bool tensor, e.g. IsNaN). A constructor from `const Node&` parses
// attributes (alpha, beta, ...). unary_run is the scalar reference loop that per-ISA
// variants will sit beside.
#pragma once
#include <type_traits>
#include <utility>

#include "kernels/elementwise/dtype_dispatch.h"

namespace tinyai {

template <class F, class T, class TO>
void unary_run(const F& f, const T* x, TO* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<TO>(f(x[i]));
}

template <class F>
class UnaryKernel final : public OpKernel {
 public:
  explicit UnaryKernel(const Node& node) {
    if constexpr (std::is_constructible_v<F, const Node&>) f_ = F(node);
  }

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) ctx.fail("needs an input");
    require_dtype_in(ctx.node(), x->dtype, F::kTypes, "input");
    visit_dtype<F::kTypes>(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      using TO = storage_t<decltype(std::declval<const F&>()(T{}))>;
      Tensor& y = ctx.output(0, dtype_of<TO>(), x->shape);
      unary_run(f_, x->ptr<T>(), y.ptr<TO>(), x->numel());
    });
  }

 private:
  F f_{};
};

}  // namespace tinyai
