#include "executor/node_context.h"

namespace tinyai {

void NodeContext::prepare(const Node& node, const std::vector<TensorPtr>& values) {
  node_ = &node;
  inputs_.clear();
  for (int in : node.inputs) inputs_.push_back(in >= 0 ? values[in].get() : nullptr);
  num_outputs_ = node.outputs.size();
  wanted_.assign(num_outputs_, false);
  for (size_t i = 0; i < num_outputs_; ++i) wanted_[i] = node.outputs[i] >= 0;
  produced_.assign(num_outputs_, nullptr);
}

void NodeContext::check_output_index(size_t i) const {
  if (i >= num_outputs_)
    fail("kernel wrote output " + std::to_string(i) + " but the node has " +
         std::to_string(num_outputs_) + " outputs");
}

Tensor& NodeContext::output(size_t i, DType dtype, const Shape& shape) {
  check_output_index(i);
  for (int64_t d : shape)
    if (d < 0) fail("computed a negative output dimension " + shape_str(shape));
  auto t = std::make_shared<Tensor>();
  t->dtype = dtype;
  t->shape = shape;
  t->buffer = std::make_shared<Buffer>(tracker_, MemCategory::Activation, t->nbytes());
  t->data = t->buffer->data();
  produced_[i] = t;
  return *t;
}

Tensor& NodeContext::output_alias(size_t i, size_t input_index, const Shape& shape) {
  check_output_index(i);
  const Tensor* src = input(input_index);
  if (!src) fail("aliased input " + std::to_string(input_index) + " is missing");
  if (shape_numel(shape) != src->numel())
    fail("cannot view " + shape_str(src->shape) + " as " + shape_str(shape));
  auto t = std::make_shared<Tensor>(*src);  // shares the buffer: no copy, no new bytes
  t->shape = shape;
  produced_[i] = t;
  return *t;
}

void* NodeContext::scratch(size_t bytes) {
  scratch_.push_back(std::make_shared<Buffer>(tracker_, MemCategory::Scratch, bytes));
  return scratch_.back()->data();
}

int64_t NodeContext::collect_outputs(std::vector<TensorPtr>& values,
                                     const std::vector<int>& last_use) {
  int64_t bytes = 0;
  for (size_t i = 0; i < num_outputs_; ++i) {
    const int id = node_->outputs[i];
    if (id < 0) continue;
    if (!produced_[i]) fail("kernel did not produce output " + std::to_string(i));
    const bool fresh = produced_[i]->buffer && produced_[i]->buffer.use_count() == 1;
    if (fresh) bytes += static_cast<int64_t>(produced_[i]->nbytes());
    // An output nobody reads (e.g. Dropout's mask) is freed right away.
    if (last_use[id] >= 0) values[id] = std::move(produced_[i]);
    produced_[i].reset();
  }
  return bytes;
}

}  // namespace tinyai
