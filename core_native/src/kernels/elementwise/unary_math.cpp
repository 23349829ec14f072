// Elementwise math functions and predicates as UnaryKernel functors.
#include <cmath>

#include "kernels/elementwise/unary_kernel.h"

namespace tinyai {
namespace {

// Most ops are a plain float function; one macro keeps each of them to one line.
#define TINYAI_FLOAT_UNARY(NAME, EXPR)                                \
  struct NAME##Op {                                                   \
    static constexpr unsigned kTypes = kF32;                          \
    float operator()(float x) const { return EXPR; }                  \
  };                                                                  \
  TINYAI_REGISTER_KERNEL(#NAME, UnaryKernel<NAME##Op>)

TINYAI_FLOAT_UNARY(Log, std::log(x));
TINYAI_FLOAT_UNARY(Sqrt, std::sqrt(x));
TINYAI_FLOAT_UNARY(Reciprocal, 1.f / x);
TINYAI_FLOAT_UNARY(Floor, std::floor(x));
TINYAI_FLOAT_UNARY(Ceil, std::ceil(x));
TINYAI_FLOAT_UNARY(Round, std::nearbyint(x));  // default rounding mode: half to even
TINYAI_FLOAT_UNARY(Sin, std::sin(x));
TINYAI_FLOAT_UNARY(Cos, std::cos(x));
TINYAI_FLOAT_UNARY(Tan, std::tan(x));
TINYAI_FLOAT_UNARY(Asin, std::asin(x));
TINYAI_FLOAT_UNARY(Acos, std::acos(x));
TINYAI_FLOAT_UNARY(Atan, std::atan(x));
TINYAI_FLOAT_UNARY(Sinh, std::sinh(x));
TINYAI_FLOAT_UNARY(Cosh, std::cosh(x));
TINYAI_FLOAT_UNARY(Asinh, std::asinh(x));
TINYAI_FLOAT_UNARY(Acosh, std::acosh(x));
TINYAI_FLOAT_UNARY(Atanh, std::atanh(x));

#undef TINYAI_FLOAT_UNARY

// Exp and Erf also have vector builds (ACTIVATION family, fast polynomial approximations).
struct ExpOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return std::exp(x); }
  ActKind simd_kind() const { return ActKind::Exp; }
};

struct ErfOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return std::erf(x); }
  ActKind simd_kind() const { return ActKind::Erf; }
};

struct AbsOp {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T x) const { return x < T(0) ? wrap_sub(T(0), x) : x; }
};

struct NegOp {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T x) const { return wrap_sub(T(0), x); }
};

struct SignOp {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T x) const {
    return static_cast<T>((x > T(0)) - (x < T(0)));  // NaN -> 0
  }
};

struct IsNaNOp {
  static constexpr unsigned kTypes = kF32;
  bool operator()(float x) const { return std::isnan(x); }
};

struct IsInfOp {
  static constexpr unsigned kTypes = kF32;
  bool negative = true, positive = true;
  IsInfOp() = default;
  explicit IsInfOp(const Node& node)
      : negative(node.attr_int("detect_negative", 1) != 0),
        positive(node.attr_int("detect_positive", 1) != 0) {}
  bool operator()(float x) const {
    return std::isinf(x) && ((x > 0.f) ? positive : negative);
  }
};

struct NotOp {
  static constexpr unsigned kTypes = kBool;
  bool operator()(uint8_t x) const { return x == 0; }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Exp", UnaryKernel<ExpOp>);
TINYAI_REGISTER_KERNEL("Erf", UnaryKernel<ErfOp>);
TINYAI_REGISTER_KERNEL("Abs", UnaryKernel<AbsOp>);
TINYAI_REGISTER_KERNEL("Neg", UnaryKernel<NegOp>);
TINYAI_REGISTER_KERNEL("Sign", UnaryKernel<SignOp>);
TINYAI_REGISTER_KERNEL("IsNaN", UnaryKernel<IsNaNOp>);
TINYAI_REGISTER_KERNEL("IsInf", UnaryKernel<IsInfOp>);
TINYAI_REGISTER_KERNEL("Not", UnaryKernel<NotOp>);

}  // namespace tinyai
