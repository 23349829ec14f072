// Small helpers the data-movement kernels share: strides, byte copies that tolerate empty
// tensors, and the int lists ONNX moved from attributes to inputs over the opsets.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "tinyai/op.h"

namespace tinyai {

// A model without a recorded opset gets the newest semantics.
inline int effective_opset(const Node& node) { return node.opset > 0 ? node.opset : 1 << 20; }

// Row-major element strides of `shape`.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// memcpy that accepts n == 0 with null pointers (empty constants have no storage).
inline void copy_bytes(void* dst, const void* src, size_t n) {
  if (n != 0) std::memcpy(dst, src, n);
}

// Product of shape[begin, end).
int64_t dims_product(const Shape& shape, size_t begin, size_t end);

// An int list that is an attribute before `since_opset` and input `input_index` from then on
// (Squeeze/Unsqueeze axes, Split sizes, Slice starts/ends, Pad pads, Reshape shape).
class IntListArg {
 public:
  IntListArg(const Node& node, const char* attr, size_t input_index, int since_opset);
  // False when the (optional) list is absent.
  bool get(const KernelContext& ctx, std::vector<int64_t>* out) const;
  bool from_input() const { return from_input_; }

 private:
  bool from_input_;
  size_t input_index_;
  bool has_attr_;
  std::vector<int64_t> attr_;
};

// The input as a list of ints; the op fails with a clear message when it is missing.
std::vector<int64_t> required_int_input(const KernelContext& ctx, size_t index, const char* what);

}  // namespace tinyai
