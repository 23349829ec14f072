// The executor's KernelContext: hands a kernel its inputs, places its outputs (in the
// activation arena when a plan is active, otherwise one tracked buffer each) and scratch,
// records what it allocated for the planner, and moves results into the value table.
#pragma once
#include <memory>
#include <vector>

#include "scheduler/memory_plan.h"
#include "tinyai/op.h"

namespace tinyai {

class NodeContext final : public KernelContext {
 public:
  NodeContext(std::shared_ptr<MemoryTracker> tracker, const std::vector<char>& is_output)
      : tracker_(std::move(tracker)), is_output_(is_output) {}

  // Arena mode: outputs with a planned slot are placed at arena + offset.
  void use_arena(const MemoryPlan* plan, BufferPtr arena) {
    plan_ = plan;
    arena_ = std::move(arena);
  }
  // Profiling mode: sizes and views are written into `record`.
  void record_into(RunRecord* record) { record_ = record; }
  // Scratch bytes per node are added here in every mode (scratch is measured, not predicted).
  void measure_scratch_into(std::vector<int64_t>* per_node) { scratch_per_node_ = per_node; }
  // Refuse any allocation that would take the tracked total above `budget` bytes (0 = off).
  void enforce_budget(size_t budget) { budget_ = budget; }
  // Allow persistent() (the session keeps packed weights): each buffer handed out is listed
  // in `held` so the session can count the live ones in its estimate.
  void keep_persistent_in(std::vector<std::weak_ptr<Buffer>>* held) { held_ = held; }

  void prepare(int node_index, const Node& node, const std::vector<TensorPtr>& values,
               const std::vector<int>& last_use);
  Tensor& output(size_t i, DType dtype, const Shape& shape) override;
  Tensor& output_alias(size_t i, size_t input_index, const Shape& shape) override;
  void* scratch(size_t bytes) override;
  BufferPtr persistent(size_t bytes, size_t from_input) override;
  StreamedInput* streamed_input(size_t i) const override {
    return i < streams_.size() ? streams_[i] : nullptr;
  }

  // Moves produced outputs into `values`; outputs nobody reads are dropped at once.
  void collect_outputs(std::vector<TensorPtr>& values, const std::vector<int>& last_use);
  void release_scratch() { scratch_.clear(); }
  // True if a planned slot was too small for what a kernel asked (the plan is stale).
  bool plan_mismatch() const { return plan_mismatch_; }

 private:
  void check_output_index(size_t i) const;
  void check_budget(size_t bytes, const char* what) const;

  std::shared_ptr<MemoryTracker> tracker_;
  const std::vector<char>& is_output_;
  const MemoryPlan* plan_ = nullptr;
  BufferPtr arena_;
  RunRecord* record_ = nullptr;
  std::vector<int64_t>* scratch_per_node_ = nullptr;
  size_t budget_ = 0;
  std::vector<std::weak_ptr<Buffer>>* held_ = nullptr;  // null: persistent() refuses
  int node_index_ = -1;
  bool plan_mismatch_ = false;
  std::vector<StreamedInput*> streams_;  // per input: its pieces when streamed (weight_streaming.h)
  std::vector<TensorPtr> produced_;
  std::vector<BufferPtr> scratch_;
};

}  // namespace tinyai
