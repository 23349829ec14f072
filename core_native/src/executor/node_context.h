// The executor's KernelContext: hands a kernel its inputs, allocates its outputs and scratch
// through the session's tracked allocators, and moves the results into the value table.
#pragma once
#include <memory>
#include <vector>

#include "tinyai/op.h"

namespace tinyai {

class NodeContext final : public KernelContext {
 public:
  explicit NodeContext(std::shared_ptr<MemoryTracker> tracker) : tracker_(std::move(tracker)) {}

  void prepare(const Node& node, const std::vector<TensorPtr>& values);
  Tensor& output(size_t i, DType dtype, const Shape& shape) override;
  Tensor& output_alias(size_t i, size_t input_index, const Shape& shape) override;
  void* scratch(size_t bytes) override;

  // Moves produced outputs into `values` (dropping those nobody consumes); returns the bytes
  // of newly allocated outputs.
  int64_t collect_outputs(std::vector<TensorPtr>& values, const std::vector<int>& last_use);
  void release_scratch() { scratch_.clear(); }

 private:
  void check_output_index(size_t i) const;

  std::shared_ptr<MemoryTracker> tracker_;
  std::vector<TensorPtr> produced_;
  std::vector<BufferPtr> scratch_;
};

}  // namespace tinyai
