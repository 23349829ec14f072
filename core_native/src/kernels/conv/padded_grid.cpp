#include "kernels/conv/padded_grid.h"

#include <algorithm>
#include <cstring>

#include "tinyai/thread_pool.h"

namespace tinyai {

namespace {

// Below this many floats a copy loop stays on the calling thread.
constexpr int64_t kMinParallelCopy = 1 << 16;
// Extended output floats per GEMM call (maps x rows x wp): about 1 MiB.
constexpr int64_t kChunkFloats = 1 << 18;

template <typename Fn>
void for_range(ThreadPool* pool, int64_t n, int64_t work, Fn&& fn) {
  if (pool && pool->size() > 1 && n > 1 && work >= kMinParallelCopy)
    pool->parallel_for(n, 1, fn);
  else
    fn(0, n);
}

}  // namespace

bool PaddedGrid::applies(const PatchGeometry& geo) {
  return geo.kernel[0] == 1 && geo.image[0] == 1 && geo.grid[0] == 1 && geo.pad[0] == 0 &&
         geo.stride[1] == 1 && geo.stride[2] == 1 && geo.pad[1] >= 0 && geo.pad[2] >= 0 &&
         geo.kernel_size() > 1;
}

PaddedGrid PaddedGrid::plan(const PatchGeometry& geo, int64_t channels, int64_t maps) {
  PaddedGrid g;
  g.channels = channels;
  g.oh = geo.grid[1];
  g.ow = geo.grid[2];
  // Stride 1: the padded extent is exactly what the outputs read.
  g.hp = g.oh + (geo.kernel[1] - 1) * geo.dilation[1];
  g.wp = g.ow + (geo.kernel[2] - 1) * geo.dilation[2];
  g.plane = g.hp * g.wp;
  g.slack = (geo.kernel[2] - 1) * geo.dilation[2];
  for (int64_t kh = 0; kh < geo.kernel[1]; ++kh)
    for (int64_t kw = 0; kw < geo.kernel[2]; ++kw)
      g.tap_offset.push_back(kh * geo.dilation[1] * g.wp + kw * geo.dilation[2]);
  g.row_chunk = std::clamp<int64_t>(kChunkFloats / std::max<int64_t>(1, maps * g.wp), 1, g.oh);
  return g;
}

void PaddedGrid::pad(const PatchGeometry& geo, const float* x, float* padded,
                     ThreadPool* pool) const {
  const int64_t ih = geo.image[1], iw = geo.image[2], top = geo.pad[1], left = geo.pad[2];
  // Image columns [c0, c1) land in padded columns [c0 + left, c1 + left) inside [0, wp).
  const int64_t c0 = 0, c1 = std::min(iw, wp - left);
  for_range(pool, channels, channels * plane, [&](int64_t a, int64_t b) {
    for (int64_t c = a; c < b; ++c) {
      float* dst = padded + c * plane;
      const float* src = x + c * ih * iw;
      for (int64_t r = 0; r < hp; ++r) {
        float* row = dst + r * wp;
        const int64_t sr = r - top;
        if (sr < 0 || sr >= ih || c1 <= c0) {
          std::fill(row, row + wp, 0.f);
          continue;
        }
        std::fill(row, row + left, 0.f);
        std::memcpy(row + left, src + sr * iw + c0, static_cast<size_t>(c1 - c0) * sizeof(float));
        std::fill(row + left + (c1 - c0), row + wp, 0.f);
      }
    }
  });
  std::fill(padded + channels * plane, padded + channels * plane + slack, 0.f);
}

void PaddedGrid::pack(const float* padded, int64_t k0, int64_t kc, int64_t e0, int64_t n,
                      int nr, float* dst) const {
  const int64_t ksize = static_cast<int64_t>(tap_offset.size());
  for (int64_t p0 = 0; p0 < n; p0 += nr) {
    const int64_t width = std::min<int64_t>(nr, n - p0);
    float* panel = dst + p0 * kc;
    for (int64_t r = 0; r < kc; ++r) {
      const int64_t k = k0 + r;
      const float* src = padded + (k / ksize) * plane + tap_offset[static_cast<size_t>(k % ksize)] +
                         e0 + p0;
      float* out = panel + r * nr;
      std::memcpy(out, src, static_cast<size_t>(width) * sizeof(float));
      if (width < nr) std::fill(out + width, out + nr, 0.f);
    }
  }
}

void PaddedGrid::compact(int64_t maps, const float* ext, int64_t oh0, int64_t rows, float* y,
                         ThreadPool* pool) const {
  const int64_t ext_cols = rows * wp, out_plane = oh * ow;
  for_range(pool, maps, maps * rows * ow, [&](int64_t a, int64_t b) {
    for (int64_t m = a; m < b; ++m)
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(y + m * out_plane + (oh0 + r) * ow, ext + m * ext_cols + r * wp,
                    static_cast<size_t>(ow) * sizeof(float));
  });
}

}  // namespace tinyai
