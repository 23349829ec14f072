// Comparisons (-> bool) and the bool logic ops And/Or/Xor, as BinaryKernel functors.
#include "kernels/elementwise/binary_kernel.h"

namespace tinyai {
namespace {

struct EqualOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kAllDTypes;
  template <class T> bool operator()(T a, T b) const { return a == b; }
};
struct LessOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> bool operator()(T a, T b) const { return a < b; }
};
struct GreaterOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> bool operator()(T a, T b) const { return a > b; }
};
struct LessOrEqualOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> bool operator()(T a, T b) const { return a <= b; }
};
struct GreaterOrEqualOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> bool operator()(T a, T b) const { return a >= b; }
};

struct AndOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kBool;
  bool operator()(uint8_t a, uint8_t b) const { return (a != 0) & (b != 0); }
};
struct OrOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kBool;
  bool operator()(uint8_t a, uint8_t b) const { return (a != 0) | (b != 0); }
};
struct XorOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kBool;
  bool operator()(uint8_t a, uint8_t b) const { return (a != 0) != (b != 0); }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Equal", BinaryKernel<EqualOp>);
TINYAI_REGISTER_KERNEL("Less", BinaryKernel<LessOp>);
TINYAI_REGISTER_KERNEL("Greater", BinaryKernel<GreaterOp>);
TINYAI_REGISTER_KERNEL("LessOrEqual", BinaryKernel<LessOrEqualOp>);
TINYAI_REGISTER_KERNEL("GreaterOrEqual", BinaryKernel<GreaterOrEqualOp>);
TINYAI_REGISTER_KERNEL("And", BinaryKernel<AndOp>);
TINYAI_REGISTER_KERNEL("Or", BinaryKernel<OrOp>);
TINYAI_REGISTER_KERNEL("Xor", BinaryKernel<XorOp>);

}  // namespace tinyai
