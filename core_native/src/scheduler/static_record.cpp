// A run record predicted from the imported graph's static shapes, so models with fixed
// input shapes are planned (and budget-checked) before their first run. Runs verify it: a
// kernel that allocates differently marks the plan stale and the next run profiles.
#include "scheduler/memory_plan.h"

#include <set>

namespace tinyai {

namespace {
// Kernels that return a view of input 0 (no storage of their own).
bool is_view_op(const std::string& op) {
  static const std::set<std::string> ops = {"Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                            "Identity", "Dropout"};
  return ops.count(op) != 0;
}
}  // namespace

bool predict_run_record(const Graph& g, RunRecord* rec) {
  std::vector<char> read(g.values.size(), 0);
  for (const Node& n : g.nodes)
    for (int in : n.inputs)
      if (in >= 0) read[in] = 1;
  for (int v : g.outputs) read[v] = 1;
  rec->values.assign(g.values.size(), {});
  rec->node_scratch_bytes.assign(g.nodes.size(), 0);
  for (int v : g.inputs)
    for (int64_t d : g.values[v].shape)
      if (!g.values[v].has_shape || d < 0) return false;
  for (const Node& n : g.nodes) {
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      const int o = n.outputs[i];
      if (o < 0) continue;
      const Value& val = g.values[o];
      DType dt;
      if (!read[o] && !val.has_shape) continue;  // e.g. Dropout's unused mask: freed at once
      if (!val.has_shape || !dtype_from_onnx(val.onnx_dtype, &dt)) return false;
      for (int64_t d : val.shape)
        if (d < 0) return false;
      auto& r = rec->values[o];
      r.produced = true;
      r.dtype = static_cast<int>(dt);
      r.shape = val.shape;
      if (i == 0 && is_view_op(n.op_type) && !n.inputs.empty() && n.inputs[0] >= 0) {
        r.view_of = n.inputs[0];
        r.bytes = 0;
      } else {
        r.bytes = shape_numel(val.shape) * static_cast<int64_t>(dtype_size(dt));
      }
    }
  }
  return true;
}

}  // namespace tinyai
