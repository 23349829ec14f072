#include "kernels/elementwise/broadcast.h"

#include <string>

namespace tinyai {

Shape broadcast_all(const Node& node, const std::vector<const Shape*>& shapes) {
  Shape out;
  for (const Shape* s : shapes) out = broadcast_shapes(node, out, *s);
  return out;
}

BroadcastPlan plan_broadcast(const Shape& out_shape, const std::vector<const Shape*>& in_shapes) {
  BroadcastPlan plan;
  plan.out_shape = out_shape;
  plan.num_operands = in_shapes.size();
  const size_t rank = out_shape.size();
  const size_t nk = in_shapes.size();

  // Per output dim, each operand's contiguous stride (0 where it broadcasts).
  std::vector<std::array<int64_t, kMaxBroadcastOperands>> full(rank);
  for (size_t k = 0; k < nk; ++k) {
    const Shape& s = *in_shapes[k];
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      const size_t pad = rank - s.size();
      const int64_t dim = d < pad ? 1 : s[d - pad];
      full[d][k] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }

  for (size_t d = 0; d < rank; ++d) {
    if (out_shape[d] == 1) continue;  // contributes nothing to any offset
    if (!plan.dims.empty()) {
      // Merge into the previous collapsed dim when every operand continues its run.
      auto& prev = plan.strides.back();
      bool mergeable = true;
      for (size_t k = 0; k < nk; ++k)
        if (prev[k] != full[d][k] * out_shape[d]) mergeable = false;
      if (mergeable) {
        plan.dims.back() *= out_shape[d];
        prev = full[d];
        continue;
      }
    }
    plan.dims.push_back(out_shape[d]);
    plan.strides.push_back(full[d]);
  }
  if (plan.dims.empty()) {  // a scalar output (or all dims 1)
    plan.dims.push_back(1);
    plan.strides.push_back({});
  }
  return plan;
}

Shape legacy_broadcast_shape(const Node& node, const Shape& a, const Shape& b) {
  if (node.attr_int("broadcast", 0) == 0) {
    if (a != b)
      throw ModelError(node.op_type + " node '" + node.name + "': shapes " + shape_str(a) +
                       " and " + shape_str(b) +
                       " differ and the node (opset < 7) does not set broadcast=1");
    return b;
  }
  const int64_t ra = static_cast<int64_t>(a.size());
  const int64_t rb = static_cast<int64_t>(b.size());
  if (rb > ra)
    throw ModelError(node.op_type + " node '" + node.name + "': B " + shape_str(b) +
                     " has more dimensions than A " + shape_str(a));
  int64_t axis = ra - rb;
  if (node.has_attr("axis")) {
    axis = node.attr_int("axis", 0);
    if (axis < 0) axis += ra;
    if (axis < 0 || axis + rb > ra)
      throw ModelError(node.op_type + " node '" + node.name + "': broadcast axis " +
                       std::to_string(node.attr_int("axis", 0)) + " does not fit B " +
                       shape_str(b) + " into A " + shape_str(a));
  }
  Shape padded(static_cast<size_t>(ra), 1);
  for (int64_t i = 0; i < rb; ++i) padded[static_cast<size_t>(axis + i)] = b[static_cast<size_t>(i)];
  return padded;
}

}  // namespace tinyai
