// Pointwise activation functions as UnaryKernel functors; attributes are read once here.
#include <cmath>
#include <string>

#include "kernels/elementwise/unary_kernel.h"

namespace tinyai {
namespace {

// exp() of a large positive argument overflows; both branches keep the argument <= 0.
inline float stable_sigmoid(float x) {
  if (x >= 0.f) return 1.f / (1.f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.f + e);
}

inline float stable_softplus(float x) {
  return x > 0.f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

struct ReluOp {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T x) const { return x > T(0) ? x : T(0); }
  ActKind simd_kind() const { return ActKind::Relu; }
};

struct SigmoidOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return stable_sigmoid(x); }
  ActKind simd_kind() const { return ActKind::Sigmoid; }
};

struct TanhOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return std::tanh(x); }
  ActKind simd_kind() const { return ActKind::Tanh; }
};

struct LeakyReluOp {
  static constexpr unsigned kTypes = kF32;
  float alpha = 0.01f;
  LeakyReluOp() = default;
  explicit LeakyReluOp(const Node& n) : alpha(n.attr_float("alpha", 0.01f)) {}
  float operator()(float x) const { return x >= 0.f ? x : alpha * x; }
  ActKind simd_kind() const { return ActKind::LeakyRelu; }
  ActParams simd_params() const { return {alpha, 0.f}; }
};

struct EluOp {
  static constexpr unsigned kTypes = kF32;
  float alpha = 1.f;
  EluOp() = default;
  explicit EluOp(const Node& n) : alpha(n.attr_float("alpha", 1.f)) {}
  float operator()(float x) const { return x >= 0.f ? x : alpha * std::expm1(x); }
};

struct SeluOp {
  static constexpr unsigned kTypes = kF32;
  float alpha = 1.67326319217681884765625f, gamma = 1.05070102214813232421875f;
  SeluOp() = default;
  explicit SeluOp(const Node& n)
      : alpha(n.attr_float("alpha", 1.67326319217681884765625f)),
        gamma(n.attr_float("gamma", 1.05070102214813232421875f)) {}
  float operator()(float x) const { return x > 0.f ? gamma * x : gamma * alpha * std::expm1(x); }
};

struct CeluOp {
  static constexpr unsigned kTypes = kF32;
  float alpha = 1.f;
  CeluOp() = default;
  explicit CeluOp(const Node& n) : alpha(n.attr_float("alpha", 1.f)) {
    if (alpha == 0.f) throw UnsupportedOperatorError(n.op_type, n.name, "alpha must not be 0");
  }
  float operator()(float x) const { return x > 0.f ? x : alpha * std::expm1(x / alpha); }
};

struct SoftplusOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return stable_softplus(x); }
};

struct SoftsignOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return x / (1.f + std::fabs(x)); }
};

struct HardSigmoidOp {
  static constexpr unsigned kTypes = kF32;
  float alpha = 0.2f, beta = 0.5f;
  HardSigmoidOp() = default;
  explicit HardSigmoidOp(const Node& n)
      : alpha(n.attr_float("alpha", 0.2f)), beta(n.attr_float("beta", 0.5f)) {}
  float operator()(float x) const { return std::fmin(1.f, std::fmax(0.f, alpha * x + beta)); }
  ActKind simd_kind() const { return ActKind::HardSigmoid; }
  ActParams simd_params() const { return {alpha, beta}; }
};

struct HardSwishOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const {
    return x * std::fmin(1.f, std::fmax(0.f, x * (1.f / 6.f) + 0.5f));
  }
  ActKind simd_kind() const { return ActKind::HardSwish; }
};

struct GeluOp {
  static constexpr unsigned kTypes = kF32;
  bool tanh_approx = false;
  GeluOp() = default;
  explicit GeluOp(const Node& n) {
    const std::string mode = n.attr_string("approximate", "none");
    if (mode == "tanh")
      tanh_approx = true;
    else if (mode != "none")
      throw UnsupportedOperatorError(n.op_type, n.name,
                                     "approximate='" + mode + "' (supported: none, tanh)");
  }
  float operator()(float x) const {
    if (tanh_approx) {
      constexpr float kSqrt2OverPi = 0.7978845608028654f;
      return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    }
    constexpr float kInvSqrt2 = 0.7071067811865476f;
    return 0.5f * x * (1.f + std::erf(x * kInvSqrt2));
  }
  ActKind simd_kind() const { return tanh_approx ? ActKind::GeluTanh : ActKind::Gelu; }
};

struct MishOp {
  static constexpr unsigned kTypes = kF32;
  float operator()(float x) const { return x * std::tanh(stable_softplus(x)); }
};

struct ThresholdedReluOp {
  static constexpr unsigned kTypes = kF32;
  float alpha = 1.f;
  ThresholdedReluOp() = default;
  explicit ThresholdedReluOp(const Node& n) : alpha(n.attr_float("alpha", 1.f)) {}
  float operator()(float x) const { return x > alpha ? x : 0.f; }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Relu", UnaryKernel<ReluOp>);
TINYAI_REGISTER_KERNEL("Sigmoid", UnaryKernel<SigmoidOp>);
TINYAI_REGISTER_KERNEL("Tanh", UnaryKernel<TanhOp>);
TINYAI_REGISTER_KERNEL("LeakyRelu", UnaryKernel<LeakyReluOp>);
TINYAI_REGISTER_KERNEL("Elu", UnaryKernel<EluOp>);
TINYAI_REGISTER_KERNEL("Selu", UnaryKernel<SeluOp>);
TINYAI_REGISTER_KERNEL("Celu", UnaryKernel<CeluOp>);
TINYAI_REGISTER_KERNEL("Softplus", UnaryKernel<SoftplusOp>);
TINYAI_REGISTER_KERNEL("Softsign", UnaryKernel<SoftsignOp>);
TINYAI_REGISTER_KERNEL("HardSigmoid", UnaryKernel<HardSigmoidOp>);
TINYAI_REGISTER_KERNEL("HardSwish", UnaryKernel<HardSwishOp>);
TINYAI_REGISTER_KERNEL("Gelu", UnaryKernel<GeluOp>);
TINYAI_REGISTER_KERNEL("Mish", UnaryKernel<MishOp>);
TINYAI_REGISTER_KERNEL("ThresholdedRelu", UnaryKernel<ThresholdedReluOp>);

}  // namespace tinyai
