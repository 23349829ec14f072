#include "executor/node_context.h"

#include <algorithm>
#include <cstring>

#include "executor/weight_streaming.h"

namespace tinyai {

void NodeContext::prepare(int node_index, const Node& node, const std::vector<TensorPtr>& values,
                          const std::vector<int>& last_use) {
  node_ = &node;
  node_index_ = node_index;
  inputs_.clear();
  streams_.clear();
  for (int in : node.inputs) {
    inputs_.push_back(in >= 0 ? values[in].get() : nullptr);
    streams_.push_back(in >= 0 ? streamed_input_of(values[in]) : nullptr);
  }
  num_outputs_ = node.outputs.size();
  wanted_.assign(num_outputs_, false);
  // An output nobody reads (Dropout's mask, say) is not wanted: kernels may skip it.
  for (size_t i = 0; i < num_outputs_; ++i)
    wanted_[i] = node.outputs[i] >= 0 && last_use[node.outputs[i]] >= 0;
  produced_.assign(num_outputs_, nullptr);
}

void NodeContext::check_output_index(size_t i) const {
  if (i >= num_outputs_)
    fail("kernel wrote output " + std::to_string(i) + " but the node has " +
         std::to_string(num_outputs_) + " outputs");
}

void NodeContext::check_budget(size_t bytes, const char* what) const {
  if (budget_ == 0) return;
  const int64_t total = tracker_->snapshot().total_current;
  if (total + static_cast<int64_t>(bytes) <= static_cast<int64_t>(budget_)) return;
  const int64_t needed = total + static_cast<int64_t>(bytes);
  throw BudgetError("memory budget of " + std::to_string(budget_) + " bytes would be exceeded by " +
                        std::string(what) + " of node '" + node_->name + "' (" + node_->op_type +
                        "): " + std::to_string(needed) + " bytes needed at that point; call "
                        "estimate_memory_usage() (without a budget) to learn the minimum "
                        "feasible budget",
                    static_cast<size_t>(needed));
}

Tensor& NodeContext::output(size_t i, DType dtype, const Shape& shape) {
  check_output_index(i);
  for (int64_t d : shape)
    if (d < 0) fail("computed a negative output dimension " + shape_str(shape));
  auto t = std::make_shared<Tensor>();
  t->dtype = dtype;
  t->shape = shape;
  const int v = node_->outputs[i];
  const size_t bytes = t->nbytes();
  if (plan_ && v >= 0 && plan_->offset[v] >= 0) {
    if (static_cast<int64_t>(bytes) <= plan_->slot_bytes[v]) {
      t->buffer = arena_;
      t->data = static_cast<char*>(arena_->data()) + plan_->offset[v];
      produced_[i] = t;
      return *t;
    }
    plan_mismatch_ = true;  // fall through: correct, just not planned
  } else if (plan_ && v >= 0 && !is_output_[v] && bytes > 0 && plan_->last_use_pos[v] >= 0) {
    plan_mismatch_ = true;  // predicted as a view but the kernel allocated
  }
  const MemCategory cat =
      (v >= 0 && is_output_[v]) ? MemCategory::Output : MemCategory::Activation;
  check_budget(bytes, "an output");
  t->buffer = std::make_shared<Buffer>(tracker_, cat, bytes);
  t->data = t->buffer->data();
  if (record_ && v >= 0) {
    auto& r = record_->values[v];
    r.bytes = static_cast<int64_t>(bytes);
    r.view_of = -1;
  }
  produced_[i] = t;
  return *t;
}

Tensor& NodeContext::output_alias(size_t i, size_t input_index, const Shape& shape) {
  check_output_index(i);
  const Tensor* src = input(input_index);
  if (!src) fail("aliased input " + std::to_string(input_index) + " is missing");
  if (shape_numel(shape) != src->numel())
    fail("cannot view " + shape_str(src->shape) + " as " + shape_str(shape));
  const int v = node_->outputs[i];
  if (plan_ && v >= 0 && plan_->offset[v] >= 0) {
    // The plan gave this output its own slot (it did not expect a view): the source's slot
    // may be reused before this output dies, so copy into the slot instead of aliasing.
    Tensor& t = output(i, src->dtype, shape);
    if (src->nbytes()) std::memmove(t.data, src->data, src->nbytes());
    return t;
  }
  auto t = std::make_shared<Tensor>(*src);  // shares the buffer: no copy, no new bytes
  t->shape = shape;
  if (record_ && v >= 0) {
    auto& r = record_->values[v];
    r.bytes = 0;
    r.view_of = node_->inputs[input_index];
  }
  produced_[i] = t;
  return *t;
}

void* NodeContext::scratch(size_t bytes) {
  check_budget(bytes, "scratch memory");
  if (scratch_per_node_) (*scratch_per_node_)[node_index_] += static_cast<int64_t>(bytes);
  scratch_.push_back(std::make_shared<Buffer>(tracker_, MemCategory::Scratch, bytes));
  return scratch_.back()->data();
}

BufferPtr NodeContext::persistent(size_t bytes, size_t from_input) {
  if (!held_ || bytes == 0) return nullptr;
  // Only a constant's bytes stay the same from run to run: the loader's Weight buffers hold
  // nothing else (activations and graph inputs live elsewhere).
  const Tensor* src = input(from_input);
  if (!src || !src->buffer || src->buffer->category() != MemCategory::Weight ||
      streamed_input(from_input))
    return nullptr;
  check_budget(bytes, "packed weights kept across runs");
  auto buf = std::make_shared<Buffer>(tracker_, MemCategory::Weight, bytes);
  held_->erase(std::remove_if(held_->begin(), held_->end(),
                              [](const std::weak_ptr<Buffer>& b) { return b.expired(); }),
               held_->end());
  held_->push_back(buf);
  return buf;
}

void NodeContext::collect_outputs(std::vector<TensorPtr>& values, const std::vector<int>& last_use) {
  for (size_t i = 0; i < num_outputs_; ++i) {
    const int id = node_->outputs[i];
    if (id < 0) continue;
    if (!produced_[i]) {
      if (!wanted_[i]) continue;
      fail("kernel did not produce output " + std::to_string(i));
    }
    if (record_) {
      auto& r = record_->values[id];
      r.produced = true;
      r.dtype = static_cast<int>(produced_[i]->dtype);
      r.shape = produced_[i]->shape;
    }
    // An output nobody reads (e.g. Dropout's mask) is freed right away.
    if (last_use[id] >= 0) values[id] = std::move(produced_[i]);
    produced_[i].reset();
  }
}

}  // namespace tinyai
