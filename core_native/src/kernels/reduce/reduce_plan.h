// Shape logic and the iteration order shared by the Reduce* kernels.
//
// The input is walked once in memory order. Its dimensions are collapsed into alternating
// runs of kept and reduced dims (size-1 dims dropped), so the innermost run is either
// "vertical" (a kept dim: acc[j] op= x[j], contiguous on both sides) or "horizontal" (a
// reduced dim: acc[0] op= fold(x[0..n))). Any axes pattern works the same way and every
// input byte is read exactly once, sequentially.
#pragma once
#include <cstdint>
#include <vector>

#include "tinyai/op.h"

namespace tinyai {

struct ReducePlan {
  Shape out_shape;                 // keepdims applied
  std::vector<int64_t> dims;       // collapsed input dims, outermost first; never empty
  std::vector<int64_t> out_strides;  // per collapsed dim: stride in the output (0 if reduced)
  bool inner_reduced = false;      // is the innermost collapsed dim a reduced one?
  int64_t out_numel = 1;
  int64_t reduce_count = 1;        // input elements folded into each output element

  int64_t inner() const { return dims.back(); }
};

// `axes` are already normalised (0 <= a < rank); duplicates are ignored.
ReducePlan plan_reduce(const Shape& in, const std::vector<int64_t>& axes, bool keepdims);

// Calls run(in_offset, out_offset, n) for each innermost run of n input elements. For a
// vertical run the outputs are out_offset .. out_offset + n - 1; for a horizontal one all n
// inputs fold into out_offset.
template <class Run>
void for_each_reduce_run(const ReducePlan& plan, int64_t in_numel, Run&& run) {
  if (in_numel == 0) return;
  const size_t rank = plan.dims.size();
  const int64_t n = plan.inner();
  std::vector<int64_t> idx(rank, 0);
  int64_t out = 0;
  for (int64_t in = 0; in < in_numel; in += n) {
    run(in, out, n);
    for (size_t d = rank - 1; d-- > 0;) {
      if (++idx[d] < plan.dims[d]) {
        out += plan.out_strides[d];
        break;
      }
      out -= plan.out_strides[d] * (plan.dims[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace tinyai
