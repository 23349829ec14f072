// Static memory planning: from what one execution at an input signature allocated (sizes,
// which outputs were views of which inputs, scratch per node) compute an execution order
// and an activation arena with an offset per tensor, computed once per model/shape/config.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinyai/graph.h"

namespace tinyai {

// What a run at one input signature produced, in graph order.
struct RunRecord {
  struct ValueRecord {
    int64_t bytes = 0;     // storage the value allocated itself (0 for views and non-node values)
    int view_of = -1;      // value whose storage this output is a view of (-1: none)
    bool produced = false; // written by a node during the run
    int dtype = 0;
    Shape shape;
  };
  std::vector<ValueRecord> values;          // by value id
  std::vector<int64_t> node_scratch_bytes;  // by node index
};

struct PlanOptions {
  bool tensor_reuse = true;   // false: one slot per tensor (the naive baseline)
  bool in_place = true;       // elementwise outputs take over an input that dies there
  bool reorder = true;        // try a topological order that lowers the peak
};

struct MemoryPlan {
  // Node indices in execution order. With recomputation a node appears more than once: each
  // run of it produces a new instance of its outputs, with its own lifetime and arena slot.
  std::vector<int> order;
  std::vector<char> recomputed;         // per position: this step re-runs a node (a recompute)
  // Per position, the arena offset and in-place flag of each output instance the step
  // produces: entries [outputs_begin[p], outputs_begin[p+1]) follow node.outputs.
  std::vector<int> outputs_begin;
  std::vector<int64_t> output_offset;   // -1 = not arena-allocated
  std::vector<char> output_in_place;
  std::vector<int64_t> offset;          // by value id: arena offset of its first instance (-1: none)
  std::vector<int64_t> slot_bytes;      // by value id: bytes reserved at `offset`
  std::vector<int> in_place_of;         // by value id: value whose slot it reuses (-1: none)
  std::vector<int> last_use_pos;        // by value id: position in `order` of the last reader
  std::vector<int64_t> live_after;      // per position: intermediate bytes live at that step
  std::vector<int> step_of_node;        // node index -> first position in order
  int64_t arena_bytes = 0;
  int64_t naive_bytes = 0;              // sum of all intermediate tensors (no reuse)
  int64_t in_order_bound = 0;           // max live bytes over graph-order steps (no in-place)
  int64_t live_peak = 0;                // max live bytes in the chosen order
  int64_t scratch_peak = 0;
  int in_place_count = 0;
  int recompute_count = 0;              // recompute steps per run
  bool reordered = false;
  PlanOptions options;
};

// Which values are arena-allocated: produced by a node, own their storage, not graph outputs.
bool is_planned_value(const Graph& g, const RunRecord& rec, int value, const std::vector<char>& is_output);

MemoryPlan plan_memory(const Graph& g, const RunRecord& rec, const PlanOptions& options);

// What a planner that edits the step sequence (recomputation) needs to compare candidates.
struct PlanContext {
  std::vector<char> is_output;  // by value: a graph output
  std::vector<char> planned;    // by value: arena-allocated (is_planned_value)
  std::vector<int> root;        // by value: storage root (a planned value) or -1
};
PlanContext plan_context(const Graph& g, const RunRecord& rec);
// Max live intermediate bytes over `steps` (perfect packing); `peak_pos` gets the first
// position where it is reached.
int64_t steps_live_peak(const Graph& g, const RunRecord& rec, const PlanContext& ctx,
                        const std::vector<int>& steps, bool in_place, int* peak_pos = nullptr);
// Lays out an explicit step sequence (nodes may repeat) into a plan: lifetimes per output
// instance, in-place groups, arena offsets. `base` supplies the order-independent figures
// (in_order_bound, reordered, options).
MemoryPlan layout_steps(const Graph& g, const RunRecord& rec, const PlanContext& ctx,
                        const MemoryPlan& base, std::vector<int> steps, std::vector<char> recomputed);

// Predict the record from the graph's static shapes (import-time shape inference). False
// when any produced value's shape or dtype is not statically known. Scratch is unknown
// (0) until a run measures it.
bool predict_run_record(const Graph& g, RunRecord* rec);

}  // namespace tinyai
