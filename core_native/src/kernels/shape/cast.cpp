// Cast and CastLike between the core's dtypes (float32, int32, int64, bool).
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

// float -> integer truncates toward zero; NaN and out-of-range values saturate (to the
// minimum for NaN, as x86 conversions produce) instead of being undefined behaviour.
template <typename I>
I float_to_int(float v) {
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (std::isnan(v)) return std::numeric_limits<I>::min();
  const double t = std::trunc(static_cast<double>(v));
  if (t <= lo) return std::numeric_limits<I>::min();
  if (t >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(t);
}

template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<From, float> && std::is_integral_v<To>) {
    return float_to_int<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <typename To, typename From>
void convert_all(const void* src, void* dst, int64_t n) {
  const From* s = static_cast<const From*>(src);
  To* d = static_cast<To*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = convert<To>(s[i]);
}

template <typename To>
void convert_from(DType from, const void* src, void* dst, int64_t n) {
  switch (from) {
    case DType::Float32: convert_all<To, float>(src, dst, n); break;
    case DType::Int32: convert_all<To, int32_t>(src, dst, n); break;
    case DType::Int64: convert_all<To, int64_t>(src, dst, n); break;
    case DType::Bool: convert_all<To, bool>(src, dst, n); break;
  }
}

void cast_into(const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  if (x.dtype == y.dtype) {
    std::memcpy(y.data, x.data, x.nbytes());
    return;
  }
  switch (y.dtype) {
    case DType::Float32: convert_from<float>(x.dtype, x.data, y.data, n); break;
    case DType::Int32: convert_from<int32_t>(x.dtype, x.data, y.data, n); break;
    case DType::Int64: convert_from<int64_t>(x.dtype, x.data, y.data, n); break;
    case DType::Bool: convert_from<bool>(x.dtype, x.data, y.data, n); break;
  }
}

class CastKernel : public OpKernel {
 public:
  explicit CastKernel(const Node& node) {
    int32_t to = 0;
    const Attribute* a = node.attr("to");
    if (a && a->kind == Attribute::Kind::String) {
      // Cast-1 names the type ("FLOAT", "INT64", ...).
      const std::string& s = a->s;
      to = s == "FLOAT" ? 1 : s == "INT32" ? 6 : s == "INT64" ? 7 : s == "BOOL" ? 9 : -1;
      if (to < 0)
        throw UnsupportedOperatorError(node.op_type, node.name, "cast to " + s +
                                       "; the core supports FLOAT, INT64, INT32 and BOOL");
    } else {
      to = static_cast<int32_t>(node.attr_int("to", 0));
    }
    if (!dtype_from_onnx(to, &to_))
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "cast to " + onnx_dtype_name(to) +
                                         "; the core supports float32, int64, int32 and bool");
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    cast_into(x, ctx.output(0, to_, x.shape));
  }

 private:
  DType to_ = DType::Float32;
};

class CastLikeKernel : public OpKernel {
 public:
  explicit CastLikeKernel(const Node&) {}
  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    cast_into(x, ctx.output(0, ctx.input(1)->dtype, x.shape));
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Cast", CastKernel);
TINYAI_REGISTER_KERNEL("CastLike", CastLikeKernel);

}  // namespace tinyai
