// ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSumExp. Each op is a fold described by a
// small policy (identity, per-element map, combine, finalize); one streaming loop serves all.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/elementwise/dtype_dispatch.h"
#include "kernels/reduce/reduce_axes.h"
#include "kernels/reduce/reduce_plan.h"

namespace tinyai {
namespace {

struct SumPolicy {
  static constexpr unsigned kTypes = kNumeric;
  static constexpr int kAxesInputOpset = 13;
  // Folding a single element returns it unchanged, so "reduce over no axes" is a pass-through.
  static constexpr bool kSingleIsIdentity = true;
  template <class T> static T identity() { return T(0); }
  template <class T> static T map(T x) { return x; }
  template <class T> static T combine(T a, T b) { return wrap_add(a, b); }
  template <class T> static T finalize(T acc, int64_t) { return acc; }
};

struct MeanPolicy : SumPolicy {
  static constexpr unsigned kTypes = kF32;
  static constexpr int kAxesInputOpset = 18;
  template <class T> static T finalize(T acc, int64_t count) {
    return acc / static_cast<T>(count);
  }
};

struct SumSquarePolicy : SumPolicy {
  static constexpr unsigned kTypes = kF32;
  static constexpr int kAxesInputOpset = 18;
  static constexpr bool kSingleIsIdentity = false;
  template <class T> static T map(T x) { return x * x; }
};

struct L1Policy : SumPolicy {
  static constexpr unsigned kTypes = kF32;
  static constexpr int kAxesInputOpset = 18;
  static constexpr bool kSingleIsIdentity = false;
  template <class T> static T map(T x) { return std::fabs(x); }
};

struct L2Policy : SumSquarePolicy {
  template <class T> static T finalize(T acc, int64_t) { return std::sqrt(acc); }
};

struct ProdPolicy : SumPolicy {
  static constexpr int kAxesInputOpset = 18;
  template <class T> static T identity() { return T(1); }
  template <class T> static T combine(T a, T b) { return wrap_mul(a, b); }
};

struct MaxPolicy : SumPolicy {
  static constexpr int kAxesInputOpset = 18;
  template <class T> static T identity() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  template <class T> static T combine(T a, T b) { return a < b ? b : a; }
};

struct MinPolicy : SumPolicy {
  static constexpr int kAxesInputOpset = 18;
  template <class T> static T identity() {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::max();
  }
  template <class T> static T combine(T a, T b) { return b < a ? b : a; }
};

// A horizontal fold with independent lanes, so the compiler can vectorise it without
// reassociating (and float sums pick up less rounding error than one serial chain).
template <class P, class T> T fold_run(const T* x, int64_t n) {
  constexpr int kLanes = 8;
  T lanes[kLanes];
  std::fill(lanes, lanes + kLanes, P::template identity<T>());
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] = P::combine(lanes[l], P::map(x[i + l]));
  T r = P::template identity<T>();
  for (int l = 0; l < kLanes; ++l) r = P::combine(r, lanes[l]);
  for (; i < n; ++i) r = P::combine(r, P::map(x[i]));
  return r;
}

// acc (out_numel values) = fold of x per the plan; not finalised.
template <class P, class T>
void reduce_stream(const ReducePlan& plan, const T* x, int64_t in_numel, T* acc) {
  std::fill(acc, acc + plan.out_numel, P::template identity<T>());
  if (plan.inner_reduced) {
    for_each_reduce_run(plan, in_numel, [&](int64_t in, int64_t out, int64_t n) {
      acc[out] = P::combine(acc[out], fold_run<P>(x + in, n));
    });
  } else {
    for_each_reduce_run(plan, in_numel, [&](int64_t in, int64_t out, int64_t n) {
      const T* xs = x + in;
      T* as = acc + out;
      for (int64_t j = 0; j < n; ++j) as[j] = P::combine(as[j], P::map(xs[j]));
    });
  }
}

// log(sum(exp(x))) shifted by the per-output max so exp() never overflows.
void reduce_log_sum_exp(const ReducePlan& plan, const float* x, int64_t in_numel, float* out,
                        float* shift) {
  reduce_stream<MaxPolicy>(plan, x, in_numel, shift);
  for (int64_t i = 0; i < plan.out_numel; ++i)
    if (!std::isfinite(shift[i])) shift[i] = 0.f;
  std::fill(out, out + plan.out_numel, 0.f);
  if (plan.inner_reduced) {
    for_each_reduce_run(plan, in_numel, [&](int64_t in, int64_t o, int64_t n) {
      const float s = shift[o];
      float sum = 0.f;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(x[in + j] - s);
      out[o] += sum;
    });
  } else {
    for_each_reduce_run(plan, in_numel, [&](int64_t in, int64_t o, int64_t n) {
      for (int64_t j = 0; j < n; ++j) out[o + j] += std::exp(x[in + j] - shift[o + j]);
    });
  }
  for (int64_t i = 0; i < plan.out_numel; ++i) out[i] = shift[i] + std::log(out[i]);
}

struct LogSumExpPolicy {
  static constexpr unsigned kTypes = kF32;
  static constexpr int kAxesInputOpset = 18;
  static constexpr bool kSingleIsIdentity = true;
};

template <class P>
class ReduceKernel final : public OpKernel {
 public:
  explicit ReduceKernel(const Node& node) : spec_(node, P::kAxesInputOpset) {}

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) ctx.fail("needs an input");
    require_dtype_in(ctx.node(), x->dtype, P::kTypes, "input");
    bool noop = false;
    const std::vector<int64_t> axes = spec_.resolve(ctx, x->rank(), &noop);
    // noop_with_empty_axes reduces over no axes: each element is folded alone, which (as in
    // the ONNX reference and onnxruntime) still applies ReduceL1/L2/SumSquare's |x|, x^2.
    if (noop && P::kSingleIsIdentity) {
      ctx.output_alias(0, 0, x->shape);
      return;
    }
    const ReducePlan plan = plan_reduce(x->shape, axes, spec_.keepdims);
    Tensor& y = ctx.output(0, x->dtype, plan.out_shape);
    visit_dtype<P::kTypes>(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      T* out = y.ptr<T>();
      if constexpr (std::is_same_v<P, LogSumExpPolicy>) {
        auto* shift = static_cast<float*>(ctx.scratch(sizeof(float) * plan.out_numel));
        reduce_log_sum_exp(plan, x->ptr<float>(), x->numel(), out, shift);
      } else {
        reduce_stream<P>(plan, x->ptr<T>(), x->numel(), out);
        for (int64_t i = 0; i < plan.out_numel; ++i)
          out[i] = P::finalize(out[i], plan.reduce_count);
      }
    });
  }

 private:
  ReduceAxesSpec spec_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("ReduceSum", ReduceKernel<SumPolicy>);
TINYAI_REGISTER_KERNEL("ReduceMean", ReduceKernel<MeanPolicy>);
TINYAI_REGISTER_KERNEL("ReduceMax", ReduceKernel<MaxPolicy>);
TINYAI_REGISTER_KERNEL("ReduceMin", ReduceKernel<MinPolicy>);
TINYAI_REGISTER_KERNEL("ReduceProd", ReduceKernel<ProdPolicy>);
TINYAI_REGISTER_KERNEL("ReduceL1", ReduceKernel<L1Policy>);
TINYAI_REGISTER_KERNEL("ReduceL2", ReduceKernel<L2Policy>);
TINYAI_REGISTER_KERNEL("ReduceSumSquare", ReduceKernel<SumSquarePolicy>);
TINYAI_REGISTER_KERNEL("ReduceLogSumExp", ReduceKernel<LogSumExpPolicy>);

}  // namespace tinyai
