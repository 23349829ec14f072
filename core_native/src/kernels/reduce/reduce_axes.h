// Reading a Reduce*/Arg* node's axes: an attribute before the op's axes-as-input opset,
// the optional second input from it on.
#pragma once
#include <vector>

#include "tinyai/op.h"

namespace tinyai {

struct ReduceAxesSpec {
  bool from_input = false;
  std::vector<int64_t> attr_axes;
  bool keepdims = true;
  bool noop_with_empty_axes = false;

  ReduceAxesSpec(const Node& node, int axes_input_opset)
      : from_input(node.opset >= axes_input_opset),
        attr_axes(node.attr_ints("axes")),
        keepdims(node.attr_int("keepdims", 1) != 0),
        noop_with_empty_axes(node.attr_int("noop_with_empty_axes", 0) != 0) {}

  // Normalised, sorted, unique axes. `*noop` is set when the op must pass X through.
  std::vector<int64_t> resolve(const KernelContext& ctx, int64_t rank, bool* noop) const;
};

}  // namespace tinyai
