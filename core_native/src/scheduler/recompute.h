// Activation checkpointing: turn a memory plan's order into a step sequence where some
// long-lived activations (skip connections, concat inputs, branch outputs) are dropped
// after their first use segment and recomputed from values still live before their later
// uses, so the activation peak fits scheduler.max_activation_memory.
#pragma once
#include <cstdint>
#include <vector>

#include "scheduler/memory_plan.h"
#include "tinyai/config.h"

namespace tinyai {

struct RecomputeOptions {
  bool enabled = false;         // scheduler.enable_checkpointing: off = the plan as without
  bool automatic = false;       // scheduler.recompute_activations: the planner picks values
  int64_t max_activation = 0;   // scheduler.max_activation_memory (0: no cap)
  bool minimize = false;        // no cap: recompute while it lowers the peak (tradeoff < 0.5)
  std::vector<CheckpointStrategy> layer_strategy;  // by layer; missing = Keep

  bool operator==(const RecomputeOptions& o) const {
    return enabled == o.enabled && automatic == o.automatic &&
           max_activation == o.max_activation && minimize == o.minimize &&
           layer_strategy == o.layer_strategy;
  }
};

// `base` is plan_memory's plan for the same record. Returns it unchanged when recomputation
// is off or chooses nothing. Throws BudgetError naming the lowest activation arena reached
// when max_activation cannot be met.
MemoryPlan plan_with_recompute(const Graph& g, const RunRecord& rec, const MemoryPlan& base,
                               const RecomputeOptions& options);

// Arena placement for the outputs of step `pos`: a recomputed instance may have a different
// slot than the value's first instance, so the executor points `patched` (a copy of `plan`
// handed to the NodeContext) at this step's instances before the step runs.
void point_outputs_at_step(const MemoryPlan& plan, size_t pos, const Node& node, MemoryPlan* patched);

}  // namespace tinyai
