// One kernel class for every pooling op: geometry from PoolGeometry, arithmetic from a
// Reducer (max, average, Lp), optional argmax Indices output for MaxPool. The reducers' row
// loops come from the per-ISA table pool_row_kernels() (CONV family switch).
#pragma once
#include <memory>

#include "kernels/pool/pool_geometry.h"
#include "kernels/pool/pool_loop_scalar.h"
#include "kernels/pool/pool_rows.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

// Below this many input values a pooling op stays on the calling thread.
constexpr int64_t kMinParallelPoolWork = 1 << 15;

template <typename Reducer>
class PoolKernel : public OpKernel {
 public:
  PoolKernel(const Node& node, bool global, Reducer reducer)
      : global_(global), geometry_(node, global), reducer_(reducer),
        column_major_indices_(node.attr_int("storage_order", 0) != 0) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    require_dtype(ctx.node(), x, {DType::Float32}, "input");
    const PoolWindows w = geometry_.resolve(ctx, x.shape);
    Tensor& y = ctx.output(0, DType::Float32, w.output_shape);
    int64_t* indices = nullptr;
    if constexpr (Reducer::kTracksArg) {
      if (ctx.output_wanted(1))
        indices = ctx.output(1, DType::Int64, w.output_shape).template ptr<int64_t>();
    }
    if (y.numel() == 0) return;
    const int64_t planes = w.batch * w.channels, in_plane = w.in_plane(),
                  out_plane = w.out_plane();
    const float* xp = x.ptr<float>();
    float* yp = y.ptr<float>();
    Reducer reducer = reducer_;
    reducer.rows = &pool_row_kernels(select_isa(ctx.config(), SimdOp::Conv));
    // Planes are independent: a chunk of planes per task. Each result is computed exactly as
    // on one thread, so thread counts agree bit for bit.
    auto chunk = [&](int64_t p0, int64_t p1) {
      if (global_) {
        global_pool_scalar(xp + p0 * in_plane, yp + p0, p1 - p0, in_plane, reducer);
        return;
      }
      PoolWindows part = w;
      part.batch = 1;
      part.channels = p1 - p0;
      pool_scalar(xp + p0 * in_plane, yp + p0 * out_plane,
                  indices ? indices + p0 * out_plane : nullptr, part, reducer);
    };
    ThreadPool* pool = ctx.pool();
    if (pool && pool->size() > 1 && planes > 1 && planes * in_plane >= kMinParallelPoolWork)
      pool->parallel_for(planes, 1, chunk);
    else
      chunk(0, planes);
    if (indices) globalize_indices(indices, w);
  }

 private:
  // Plane-local row-major positions -> onnxruntime's Indices: offset by the plane
  // (n * C + c) and, for storage_order=1, the spatial position in column-major order.
  void globalize_indices(int64_t* idx, const PoolWindows& w) const {
    const int64_t in_plane = w.in_plane(), out_plane = w.out_plane();
    const int64_t n1 = w.axis[1].in, n2 = w.axis[2].in, n0 = w.axis[0].in;
    const int64_t planes = w.batch * w.channels;
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t o = 0; o < out_plane; ++o) {
        int64_t& v = idx[p * out_plane + o];
        if (v < 0) continue;
        if (column_major_indices_) {
          const int64_t i2 = v % n2, i1 = (v / n2) % n1, i0 = v / (n1 * n2);
          v = i0 + i1 * n0 + i2 * n0 * n1;
        }
        v += p * in_plane;
      }
  }

  bool global_;
  PoolGeometry geometry_;
  Reducer reducer_;
  bool column_major_indices_;
};

}  // namespace tinyai
