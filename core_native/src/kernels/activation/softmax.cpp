// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is viewed as a 2-D matrix
// [prod(dims < axis), prod(dims >= axis)] (axis default 1) and each row is normalised; from
// opset 13 the op runs along the single dimension `axis` (default -1). Both reduce to an
// [outer, n, inner] layout: inner == 1 walks contiguous rows, inner > 1 walks columns with
// the inner dimension as the contiguous (vectorisable) loop.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/activation/activation_simd.h"
#include "kernels/elementwise/dtype_dispatch.h"
#include "tinyai/thread_pool.h"

namespace tinyai {
namespace {

enum class SoftmaxKind { Softmax, LogSoftmax, Hardmax };

// Numerically stable: exp() only ever sees x - max <= 0.
void normalize_row(SoftmaxKind kind, const float* x, float* y, int64_t n) {
  if (n == 0) return;
  float mx = x[0];
  int64_t arg = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > mx) mx = x[i], arg = i;
  switch (kind) {
    case SoftmaxKind::Hardmax:
      std::fill(y, y + n, 0.f);
      y[arg] = 1.f;
      return;
    case SoftmaxKind::Softmax: {
      float sum = 0.f;
      for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - mx));
      const float inv = 1.f / sum;
      for (int64_t i = 0; i < n; ++i) y[i] *= inv;
      return;
    }
    case SoftmaxKind::LogSoftmax: {
      float sum = 0.f;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
      const float shift = mx + std::log(sum);
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
      return;
    }
  }
}

// e^v over a contiguous run, in place: libm at SIMD level 0 (`vec` null), else the ISA's
// vector loop from the activation family.
void exp_inplace(const ActivationKernels* vec, float* v, int64_t n) {
  if (vec) {
    vec->map(ActKind::Exp, ActParams{}, v, v, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) v[i] = std::exp(v[i]);
}

// One [n, inner] slab normalised along n; `mx`, `sum` hold `inner` floats, `arg` inner ints.
void normalize_columns(SoftmaxKind kind, const float* x, float* y, int64_t n, int64_t inner,
                       float* mx, float* sum, int64_t* arg, const ActivationKernels* vec) {
  if (n == 0) return;
  std::copy(x, x + inner, mx);
  std::fill(arg, arg + inner, int64_t{0});
  for (int64_t r = 1; r < n; ++r) {
    const float* row = x + r * inner;
    for (int64_t j = 0; j < inner; ++j)
      if (row[j] > mx[j]) mx[j] = row[j], arg[j] = r;
  }
  if (kind == SoftmaxKind::Hardmax) {
    std::fill(y, y + n * inner, 0.f);
    for (int64_t j = 0; j < inner; ++j) y[arg[j] * inner + j] = 1.f;
    return;
  }
  std::fill(sum, sum + inner, 0.f);
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * inner;
    float* yr = y + r * inner;
    for (int64_t j = 0; j < inner; ++j) yr[j] = xr[j] - mx[j];
    exp_inplace(vec, yr, inner);
    for (int64_t j = 0; j < inner; ++j) sum[j] += yr[j];
  }
  if (kind == SoftmaxKind::Softmax) {
    for (int64_t j = 0; j < inner; ++j) sum[j] = 1.f / sum[j];
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < inner; ++j) y[r * inner + j] *= sum[j];
  } else {
    for (int64_t j = 0; j < inner; ++j) sum[j] = mx[j] + std::log(sum[j]);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < inner; ++j) y[r * inner + j] = x[r * inner + j] - sum[j];
  }
}

template <SoftmaxKind kKind>
class SoftmaxKernel final : public OpKernel {
 public:
  explicit SoftmaxKernel(const Node& node)
      : coerce_2d_(node.opset < 13), axis_(node.attr_int("axis", node.opset < 13 ? 1 : -1)) {}

  void run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) ctx.fail("needs an input");
    require_dtype_in(ctx.node(), x->dtype, kF32, "input");
    const int64_t rank = x->rank();
    Tensor& y = ctx.output(0, DType::Float32, x->shape);
    if (rank == 0) {  // a scalar is its own one-element row
      normalize_row(kKind, x->ptr<float>(), y.ptr<float>(), 1);
      return;
    }
    const int64_t axis = normalize_axis(ctx.node(), axis_, rank);
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    if (coerce_2d_) {
      for (int64_t d = axis; d < rank; ++d) n *= x->dim(d);
    } else {
      n = x->dim(axis);
      for (int64_t d = axis + 1; d < rank; ++d) inner *= x->dim(d);
    }
    const float* xp = x->ptr<float>();
    float* yp = y.ptr<float>();
    const Isa isa = select_isa(ctx.config(), SimdOp::Activation);
    if (inner == 1) {
      if (kKind == SoftmaxKind::Hardmax || isa == Isa::Scalar) {
        for (int64_t o = 0; o < outer; ++o) normalize_row(kKind, xp + o * n, yp + o * n, n);
        return;
      }
      const ActivationKernels& k = activation_kernels(isa);
      auto rows = [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
          k.softmax_row(xp + o * n, yp + o * n, n, kKind == SoftmaxKind::LogSoftmax);
      };
      // Attention scores: many rows; split them over the pool when there is enough work.
      if (ctx.pool() && outer > 1 && outer * n >= (1 << 15))
        ctx.pool()->parallel_for(outer, std::max<int64_t>(1, (1 << 13) / std::max<int64_t>(n, 1)), rows);
      else
        rows(0, outer);
      return;
    }
    auto* scratch = static_cast<char*>(
        ctx.scratch(static_cast<size_t>(inner) * (2 * sizeof(float) + sizeof(int64_t))));
    auto* arg = reinterpret_cast<int64_t*>(scratch);
    auto* mx = reinterpret_cast<float*>(arg + inner);
    float* sum = mx + inner;
    const ActivationKernels* vec = isa == Isa::Scalar ? nullptr : &activation_kernels(isa);
    for (int64_t o = 0; o < outer; ++o)
      normalize_columns(kKind, xp + o * n * inner, yp + o * n * inner, n, inner, mx, sum, arg,
                        vec);
  }

 private:
  bool coerce_2d_;
  int64_t axis_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Softmax", SoftmaxKernel<SoftmaxKind::Softmax>);
TINYAI_REGISTER_KERNEL("LogSoftmax", SoftmaxKernel<SoftmaxKind::LogSoftmax>);
TINYAI_REGISTER_KERNEL("Hardmax", SoftmaxKernel<SoftmaxKind::Hardmax>);

}  // namespace tinyai
