#include "kernels/reduce/reduce_axes.h"

#include <algorithm>

namespace tinyai {

std::vector<int64_t> ReduceAxesSpec::resolve(const KernelContext& ctx, int64_t rank,
                                             bool* noop) const {
  std::vector<int64_t> axes = attr_axes;
  if (from_input) {
    const Tensor* t = ctx.input(1);
    if (t) {
      if (t->dtype != DType::Int64 && t->dtype != DType::Int32)
        ctx.unsupported(std::string("axes input has dtype ") + dtype_name(t->dtype) +
                        "; expected int64");
      axes = tensor_to_int64s(*t);
    } else {
      axes.clear();
    }
  }
  *noop = axes.empty() && noop_with_empty_axes;
  if (axes.empty()) {
    if (!*noop)
      for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
    return axes;
  }
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank)
      ctx.fail("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

}  // namespace tinyai
