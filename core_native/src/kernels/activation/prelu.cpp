// PRelu: y = x < 0 ? slope * x : x, with slope broadcast onto x.
#include "kernels/elementwise/binary_kernel.h"

namespace tinyai {
namespace {

struct PReluOp : BinaryOpTraits {
  static constexpr unsigned kTypes = kNumeric;
  template <class T> T operator()(T x, T slope) const { return x < T(0) ? wrap_mul(slope, x) : x; }

  // From opset 7 the slope broadcasts numpy-style (unidirectionally). Before that a 1-D slope
  // of length C meant one value per channel (axis 1), which is what old exporters (PyTorch's
  // PReLU with num_parameters=C) relied on.
  static Shape align_b(const Node& node, const Shape& x, const Shape& slope) {
    if (node.opset >= 7 || slope.size() != 1 || x.size() < 2 || slope[0] == 1 ||
        slope[0] != x[1])
      return slope;
    Shape per_channel(x.size(), 1);
    per_channel[1] = slope[0];
    return per_channel;
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("PRelu", BinaryKernel<PReluOp>);

}  // namespace tinyai
