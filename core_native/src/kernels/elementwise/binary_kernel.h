// The one binary elementwise kernel. An op is a small functor F:
//
//   struct AddOp : BinaryOpTraits {
//     static constexpr unsigned kTypes = kNumeric;        // dtypes accepted for A (and B)
//     template <class T> T operator()(T a, T b) const { ... }
//   };
//   TINYAI_REGISTER_KERNEL("Add", BinaryKernel<AddOp>);
//
// The result type of operator() decides the output dtype (bool -> a bool tensor). Optional
// members: a constructor from `const Node&` (attributes), kBTypes (B may have another dtype,
// e.g. Pow's exponent), kNonzeroIntDivisor (integer B must not contain 0), and
// align_b() (how B lines up with A; PRelu's old channel rule).
#pragma once
#include <algorithm>
#include <type_traits>
#include <utility>

#include "kernels/elementwise/broadcast.h"
#include "kernels/elementwise/dtype_dispatch.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

struct BinaryOpTraits {
  static constexpr unsigned kBTypes = 0;  // 0: B must have A's dtype
  static constexpr bool kNonzeroIntDivisor = false;
  // Before opset 7 the arithmetic/logic ops broadcast only with broadcast=1 (+ axis).
  static Shape align_b(const Node& node, const Shape& a, const Shape& b) {
    return node.opset < 7 ? legacy_broadcast_shape(node, a, b) : b;
  }
};

// The innermost run with compile-time strides (0 = broadcast scalar, 1 = contiguous), so
// the compiler emits a straight vectorisable loop for each of the four cases.
template <int SA, int SB, class F, class TA, class TB, class TO>
void binary_run(const F& f, const TA* a, const TB* b, TO* o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<TO>(f(a[i * SA], b[i * SB]));
}

// Below this many output elements a binary op runs on the calling thread: waking a worker
// costs more than the loop (a residual Add of a BERT block is 98K elements, ResNet's 200K+).
constexpr int64_t kMinParallelBinaryElements = 1 << 15;

// out[i] = f(a, b) over the broadcast of a_shape and b_shape into out_shape. `a`/`o` may be
// the same buffer when a_shape == out_shape (variadic ops fold into their output). With a
// pool, large outputs are split into disjoint output ranges (results identical: every
// element is computed the same way, only by another thread).
template <class F, class TA, class TB, class TO>
void binary_broadcast(const F& f, const TA* a, const Shape& a_shape, const TB* b,
                      const Shape& b_shape, TO* o, const Shape& out_shape,
                      ThreadPool* pool = nullptr) {
  const BroadcastPlan plan = plan_broadcast(out_shape, {&a_shape, &b_shape});
  using Run = void (*)(const F&, const TA*, const TB*, TO*, int64_t);
  static constexpr Run runs[2][2] = {{binary_run<0, 0, F, TA, TB, TO>, binary_run<0, 1, F, TA, TB, TO>},
                                     {binary_run<1, 0, F, TA, TB, TO>, binary_run<1, 1, F, TA, TB, TO>}};
  const int64_t sa = plan.inner_stride(0) != 0, sb = plan.inner_stride(1) != 0;
  const Run run = runs[sa][sb];
  auto one_run = [&](const std::array<int64_t, kMaxBroadcastOperands>& off, int64_t out_off,
                     int64_t n) { run(f, a + off[0], b + off[1], o + out_off, n); };
  const int64_t total = shape_numel(out_shape), n = plan.inner();
  if (!pool || pool->size() < 2 || total < kMinParallelBinaryElements || n == 0) {
    for_each_inner_run(plan, one_run);
    return;
  }
  const int64_t num_runs = total / n;
  if (num_runs >= 2) {
    const int64_t grain = std::max<int64_t>(1, (kMinParallelBinaryElements / 2) / n);
    pool->parallel_for(num_runs, grain,
                       [&](int64_t r0, int64_t r1) { for_each_inner_run_in(plan, r0, r1, one_run); });
  } else {  // one long run (same shapes, or a scalar operand): split it
    pool->parallel_for(n, kMinParallelBinaryElements / 2, [&](int64_t i0, int64_t i1) {
      run(f, a + i0 * sa, b + i0 * sb, o + i0, i1 - i0);
    });
  }
}

template <class T> bool contains_zero(const Tensor& t) {
  const T* p = t.ptr<T>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (p[i] == T(0)) return true;
  return false;
}

template <class F>
class BinaryKernel final : public OpKernel {
 public:
  explicit BinaryKernel(const Node& node) {
    if constexpr (std::is_constructible_v<F, const Node&>) f_ = F(node);
  }

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b) ctx.fail("needs two inputs");
    constexpr unsigned kB = F::kBTypes ? F::kBTypes : F::kTypes;
    require_dtype_in(node, a->dtype, F::kTypes, "input A");
    require_dtype_in(node, b->dtype, kB, "input B");
    if (F::kBTypes == 0 && a->dtype != b->dtype)
      ctx.unsupported(std::string("inputs have different dtypes (") + dtype_name(a->dtype) +
                      " and " + dtype_name(b->dtype) + ")");
    const Shape b_shape = F::align_b(node, a->shape, b->shape);
    const Shape out_shape = broadcast_shapes(node, a->shape, b_shape);
    visit_dtype<F::kTypes>(a->dtype, [&](auto ta) {
      using TA = decltype(ta);
      visit_dtype<kB>(b->dtype, [&](auto tb) {
        using TB = decltype(tb);
        if constexpr (F::kBTypes != 0 || std::is_same_v<TA, TB>) {
          using TO = storage_t<decltype(std::declval<const F&>()(TA{}, TB{}))>;
          if constexpr (F::kNonzeroIntDivisor && std::is_integral_v<TB>)
            if (contains_zero<TB>(*b)) ctx.fail("integer division by zero");
          Tensor& out = ctx.output(0, dtype_of<TO>(), out_shape);
          binary_broadcast(f_, a->ptr<TA>(), a->shape, b->ptr<TB>(), b_shape, out.ptr<TO>(),
                           out_shape, ctx.pool());
        }
      });
    });
  }

 private:
  F f_{};
};

}  // namespace tinyai
