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
// attributes (alpha, beta, ...). unary_run is the scalar reference loop.
//
// An op with a vector build in the ACTIVATION family also declares `ActKind simd_kind() const`
// (and optionally `ActParams simd_params() const`): on float32 input, at SIMD level >= 1 with
// the family switched on, the ISA's vector loop runs instead (split over the thread pool).
#pragma once
#include <type_traits>
#include <utility>

#include "kernels/activation/activation_simd.h"
#include "kernels/elementwise/dtype_dispatch.h"

namespace tinyai {

template <class F, class T, class TO>
void unary_run(const F& f, const T* x, TO* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<TO>(f(x[i]));
}

template <class F, class = void>
struct HasSimdKind : std::false_type {};
template <class F>
struct HasSimdKind<F, std::void_t<decltype(std::declval<const F&>().simd_kind())>>
    : std::true_type {};

template <class F, class = void>
struct HasSimdParams : std::false_type {};
template <class F>
struct HasSimdParams<F, std::void_t<decltype(std::declval<const F&>().simd_params())>>
    : std::true_type {};

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
    if constexpr (HasSimdKind<F>::value) {
      const Isa isa = select_isa(ctx.config(), SimdOp::Activation);
      if (x->dtype == DType::Float32 && isa != Isa::Scalar) {
        ActParams params;
        if constexpr (HasSimdParams<F>::value) params = f_.simd_params();
        Tensor& y = ctx.output(0, DType::Float32, x->shape);
        activation_map(ctx.pool(), isa, f_.simd_kind(), params, x->ptr<float>(), y.ptr<float>(),
                       x->numel());
        return;
      }
    }
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
