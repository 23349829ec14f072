// Numpy-style multidirectional broadcasting, written once for every elementwise op.
//
// A BroadcastPlan collapses the output shape into as few dimensions as possible: dimensions
// of size 1 are dropped and neighbours are merged whenever every operand walks them as one
// contiguous (or one broadcast) run. Same-shape operands collapse to a single dimension,
// scalar/row/channel broadcasts to two or three, so the innermost run is long and every
// operand's stride in it is 0 or 1. Kernels only write that innermost loop.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "tinyai/op.h"

namespace tinyai {

constexpr size_t kMaxBroadcastOperands = 3;  // Where has three inputs; variadic ops fold pairs

struct BroadcastPlan {
  Shape out_shape;                // the full broadcast output shape
  std::vector<int64_t> dims;      // collapsed, outermost first; never empty
  // strides[d][k]: element stride of operand k along collapsed dim d (0 = broadcast).
  std::vector<std::array<int64_t, kMaxBroadcastOperands>> strides;
  size_t num_operands = 0;

  int64_t inner() const { return dims.back(); }
  int64_t inner_stride(size_t k) const { return strides.back()[k]; }
};

// The broadcast output shape of all `shapes` (throws ModelError naming the node if they are
// incompatible).
Shape broadcast_all(const Node& node, const std::vector<const Shape*>& shapes);

// Plan operands of `in_shapes` against `out_shape`, which must already be their broadcast
// (or a shape they broadcast to unidirectionally).
BroadcastPlan plan_broadcast(const Shape& out_shape, const std::vector<const Shape*>& in_shapes);

// Calls run(offsets, out_offset, n) for the innermost runs [first, last) (run r starts at
// output element r * n, n == plan.inner()), where offsets[k] is operand k's element offset
// at the start of the run. Runs are visited in output order; disjoint ranges of runs can go
// to different threads.
template <class Run>
void for_each_inner_run_in(const BroadcastPlan& plan, int64_t first, int64_t last, Run&& run) {
  const size_t rank = plan.dims.size();
  const size_t nk = plan.num_operands;
  const int64_t n = plan.inner();
  std::array<int64_t, kMaxBroadcastOperands> off{};
  std::vector<int64_t> idx(rank, 0);
  int64_t rest = first;  // mixed-radix digits of `first` over the outer dims
  for (size_t d = rank - 1; d-- > 0;) {
    idx[d] = rest % plan.dims[d];
    rest /= plan.dims[d];
    for (size_t k = 0; k < nk; ++k) off[k] += idx[d] * plan.strides[d][k];
  }
  for (int64_t r = first; r < last; ++r) {
    run(off, r * n, n);
    for (size_t d = rank - 1; d-- > 0;) {
      if (++idx[d] < plan.dims[d]) {
        for (size_t k = 0; k < nk; ++k) off[k] += plan.strides[d][k];
        break;
      }
      for (size_t k = 0; k < nk; ++k) off[k] -= plan.strides[d][k] * (plan.dims[d] - 1);
      idx[d] = 0;
    }
  }
}

// Calls run(offsets, out_offset, n) for every innermost run, in output order.
template <class Run>
void for_each_inner_run(const BroadcastPlan& plan, Run&& run) {
  const int64_t total = shape_numel(plan.out_shape);
  if (total == 0) return;
  for_each_inner_run_in(plan, 0, total / plan.inner(), run);
}

// Copies `src` (shape src_shape) broadcast into the contiguous `dst` of shape dst_shape.
template <class T>
void broadcast_copy(const T* src, const Shape& src_shape, T* dst, const Shape& dst_shape) {
  const BroadcastPlan plan = plan_broadcast(dst_shape, {&src_shape});
  const int64_t stride = plan.inner_stride(0);
  for_each_inner_run(plan, [&](const std::array<int64_t, kMaxBroadcastOperands>& off,
                               int64_t out_off, int64_t n) {
    const T* s = src + off[0];
    T* d = dst + out_off;
    for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
  });
}

// Legacy (opset < 7) broadcasting of B onto A: with broadcast=1, B's dims line up with A's
// starting at `axis` (default: suffix alignment). Returns B's shape padded to A's rank so
// the numpy machinery handles it; without broadcast=1 the shapes must already be equal.
Shape legacy_broadcast_shape(const Node& node, const Shape& a, const Shape& b);

}  // namespace tinyai
