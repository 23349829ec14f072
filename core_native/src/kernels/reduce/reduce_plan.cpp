#include "kernels/reduce/reduce_plan.h"

namespace tinyai {

ReducePlan plan_reduce(const Shape& in, const std::vector<int64_t>& axes, bool keepdims) {
  const size_t rank = in.size();
  std::vector<bool> is_reduced(rank, false);
  for (int64_t a : axes) is_reduced[static_cast<size_t>(a)] = true;

  ReducePlan plan;
  for (size_t d = 0; d < rank; ++d) {
    if (is_reduced[d]) {
      plan.reduce_count *= in[d];
      if (keepdims) plan.out_shape.push_back(1);
    } else {
      plan.out_shape.push_back(in[d]);
      plan.out_numel *= in[d];
    }
  }

  // Collapse: drop size-1 dims, merge neighbours of the same kind.
  std::vector<bool> kinds;
  for (size_t d = 0; d < rank; ++d) {
    if (in[d] == 1) continue;
    if (!kinds.empty() && kinds.back() == is_reduced[d]) {
      plan.dims.back() *= in[d];
    } else {
      plan.dims.push_back(in[d]);
      kinds.push_back(is_reduced[d]);
    }
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    kinds.push_back(false);
  }
  plan.out_strides.assign(plan.dims.size(), 0);
  int64_t stride = 1;
  for (size_t d = plan.dims.size(); d-- > 0;) {
    if (kinds[d]) continue;
    plan.out_strides[d] = stride;
    stride *= plan.dims[d];
  }
  plan.inner_reduced = kinds.back();
  return plan;
}

}  // namespace tinyai
