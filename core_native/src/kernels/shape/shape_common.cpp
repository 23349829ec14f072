#include "kernels/shape/shape_common.h"

namespace tinyai {

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

int64_t dims_product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) n *= shape[i];
  return n;
}

IntListArg::IntListArg(const Node& node, const char* attr, size_t input_index, int since_opset)
    : from_input_(effective_opset(node) >= since_opset),
      input_index_(input_index),
      has_attr_(node.has_attr(attr)),
      attr_(node.attr_ints(attr)) {}

bool IntListArg::get(const KernelContext& ctx, std::vector<int64_t>* out) const {
  if (!from_input_) {
    if (!has_attr_) return false;
    *out = attr_;
    return true;
  }
  const Tensor* t = ctx.input(input_index_);
  if (!t) return false;
  if (t->dtype != DType::Int64 && t->dtype != DType::Int32)
    ctx.fail("input " + std::to_string(input_index_) + " must be int64, got " +
             dtype_name(t->dtype));
  *out = tensor_to_int64s(*t);
  return true;
}

std::vector<int64_t> required_int_input(const KernelContext& ctx, size_t index, const char* what) {
  const Tensor* t = ctx.input(index);
  if (!t) ctx.fail(std::string("missing required input '") + what + "'");
  if (t->dtype == DType::Float32)
    ctx.fail(std::string("input '") + what + "' must be an integer tensor, got float32");
  return tensor_to_int64s(*t);
}

}  // namespace tinyai
