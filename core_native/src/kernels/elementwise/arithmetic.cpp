// Add, Sub, Mul, Div, Pow, Mod: broadcasting arithmetic as BinaryKernel functors.
#include <cmath>
#include <limits>

#include "kernels/elementwise/binary_kernel.h"

namespace tinyai {
namespace {

struct AddOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T a, T b) const { return wrap_add(a, b); }
};

struct SubOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T a, T b) const { return wrap_sub(a, b); }
};

struct MulOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T a, T b) const { return wrap_mul(a, b); }
};

// Integer division truncates toward zero (C and ONNX agree); MIN / -1 wraps instead of trapping.
struct DivOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  static constexpr bool kNonzeroIntDivisor = true;
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return b == T(-1) ? wrap_sub(T(0), a) : static_cast<T>(a / b);
    else
      return a / b;
  }
};

// Converts a double to T without undefined behaviour when it does not fit (NaN -> 0).
template <class T> T saturate_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// The exponent may have another dtype than the base (opset 12+); the result has the base's.
struct PowOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  static constexpr unsigned kBTypes = kNumeric;
  template <class TA, class TB> TA operator()(TA a, TB b) const {
    if constexpr (std::is_same_v<TA, float> && std::is_same_v<TB, float>) {
      return std::pow(a, b);
    } else if constexpr (std::is_integral_v<TA> && std::is_integral_v<TB>) {
      return int_pow(a, b);
    } else {
      return saturate_cast<TA>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    }
  }

  // Exact integer power by squaring; negative exponents truncate like 1 / a^-b.
  template <class TA, class TB> static TA int_pow(TA a, TB b) {
    if (b < 0) {
      if (a == 1) return 1;
      if (a == -1) return (b % 2 == 0) ? 1 : -1;
      return 0;  // also 0^-b, where a float pow would give inf
    }
    TA result = 1;
    for (TA base = a; b > 0; b /= 2) {
      if (b % 2 == 1) result = wrap_mul(result, base);
      base = wrap_mul(base, base);
    }
    return result;
  }
};

// fmod=1: the result takes the dividend's sign (C fmod / %); fmod=0: the divisor's (Python).
struct ModOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  static constexpr bool kNonzeroIntDivisor = true;
  bool c_fmod = false;

  ModOp() = default;
  explicit ModOp(const Node& node) : c_fmod(node.attr_int("fmod", 0) != 0) {}

  template <class T> T operator()(T a, T b) const {
    T r;
    if constexpr (std::is_integral_v<T>)
      r = b == T(-1) ? T(0) : static_cast<T>(a % b);
    else
      r = std::fmod(a, b);
    if (!c_fmod && r != T(0) && ((r < T(0)) != (b < T(0)))) r = wrap_add(r, b);
    return r;
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Add", BinaryKernel<AddOp>);
TINYAI_REGISTER_KERNEL("Sub", BinaryKernel<SubOp>);
TINYAI_REGISTER_KERNEL("Mul", BinaryKernel<MulOp>);
TINYAI_REGISTER_KERNEL("Div", BinaryKernel<DivOp>);
TINYAI_REGISTER_KERNEL("Pow", BinaryKernel<PowOp>);
TINYAI_REGISTER_KERNEL("Mod", BinaryKernel<ModOp>);

}  // namespace tinyai
