// Range: start, start+delta, ... up to (excluding) limit.
#include <cmath>
#include <type_traits>

#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

template <typename T>
void fill_range(KernelContext& ctx, const Tensor& s, const Tensor& l, const Tensor& d) {
  const T start = s.ptr<T>()[0], limit = l.ptr<T>()[0], delta = d.ptr<T>()[0];
  if (delta == T(0)) ctx.fail("delta is 0");
  // Element count as onnxruntime computes it for floats (difference in T, division in
  // double); integer differences are taken in double so they cannot overflow.
  double diff;
  if constexpr (std::is_floating_point_v<T>)
    diff = static_cast<double>(limit - start);
  else
    diff = static_cast<double>(limit) - static_cast<double>(start);
  const double count = std::ceil(diff / static_cast<double>(delta));
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  T* y = ctx.output(0, s.dtype, {n}).template ptr<T>();
  using Wide = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(static_cast<Wide>(start) + static_cast<Wide>(i) * static_cast<Wide>(delta));
}

class RangeKernel : public OpKernel {
 public:
  explicit RangeKernel(const Node&) {}

  void run(KernelContext& ctx) override {
    const Tensor* s = ctx.input(0);
    const Tensor* l = ctx.input(1);
    const Tensor* d = ctx.input(2);
    if (!s || !l || !d) ctx.fail("needs start, limit and delta");
    require_dtype(ctx.node(), *s, {DType::Float32, DType::Int32, DType::Int64}, "start");
    if (l->dtype != s->dtype || d->dtype != s->dtype)
      ctx.fail("start, limit and delta must share a dtype");
    if (s->numel() != 1 || l->numel() != 1 || d->numel() != 1)
      ctx.fail("start, limit and delta must be scalars");
    switch (s->dtype) {
      case DType::Float32: fill_range<float>(ctx, *s, *l, *d); break;
      case DType::Int32: fill_range<int32_t>(ctx, *s, *l, *d); break;
      default: fill_range<int64_t>(ctx, *s, *l, *d); break;
    }
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Range", RangeKernel);

}  // namespace tinyai
