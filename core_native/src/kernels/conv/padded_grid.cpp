// PaddedGrid (padded_grid.h): planning, padding into stride phases, packing, compaction.
#include "kernels/conv/padded_grid.h"

#include <algorithm>
#include <cstring>

#include "tinyai/thread_pool.h"

namespace tinyai {

namespace {

// Below this many floats a copy loop stays on the calling thread.
constexpr int64_t kMinParallelCopy = 1 << 16;
// Extended output floats per GEMM call (maps x rows x wq): about 1 MiB.
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
         geo.pad[1] >= 0 && geo.pad[2] >= 0 && geo.stride[1] >= 1 && geo.stride[2] >= 1 &&
         !geo.is_identity();
}

PaddedGrid PaddedGrid::plan(const PatchGeometry& geo, int64_t channels, int64_t maps) {
  PaddedGrid g;
  g.channels = channels;
  g.sh = geo.stride[1];
  g.sw = geo.stride[2];
  g.oh = geo.grid[1];
  g.ow = geo.grid[2];
  // The padded extent the outputs read, split into phases (rounded up to whole phase rows).
  const int64_t hp = (g.oh - 1) * g.sh + (geo.kernel[1] - 1) * geo.dilation[1] + 1;
  const int64_t wp = (g.ow - 1) * g.sw + (geo.kernel[2] - 1) * geo.dilation[2] + 1;
  g.hq = (hp + g.sh - 1) / g.sh;
  g.wq = (wp + g.sw - 1) / g.sw;
  g.phase_plane = g.hq * g.wq;
  g.channel_floats = g.sh * g.sw * g.phase_plane;
  g.phase_read.assign(static_cast<size_t>(g.sh * g.sw), 0);
  for (int64_t kh = 0; kh < geo.kernel[1]; ++kh)
    for (int64_t kw = 0; kw < geo.kernel[2]; ++kw) {
      const int64_t dh = kh * geo.dilation[1], dw = kw * geo.dilation[2];
      const int64_t phase = (dh % g.sh) * g.sw + dw % g.sw;
      g.phase_read[static_cast<size_t>(phase)] = 1;
      const int64_t offset = phase * g.phase_plane + (dh / g.sh) * g.wq + dw / g.sw;
      g.tap_offset.push_back(offset);
      // Extended columns of the last row read up to wq - 1 past the tap's own column.
      g.slack = std::max(g.slack, offset + g.oh * g.wq - g.channel_floats);
    }
  g.row_chunk = std::clamp<int64_t>(kChunkFloats / std::max<int64_t>(1, maps * g.wq), 1, g.oh);
  return g;
}

bool PaddedGrid::fills_panels(int nr) const {
  const auto panels = [nr](int64_t columns) { return (columns + nr - 1) / nr; };
  const int64_t cols = chunk_columns(), real = row_chunk * ow;
  return panels(cols) * 10 <= panels(real) * 11;
}

void PaddedGrid::pad(const PatchGeometry& geo, const float* x, float* padded,
                     ThreadPool* pool) const {
  const int64_t ih = geo.image[1], iw = geo.image[2], top = geo.pad[1], left = geo.pad[2];
  for_range(pool, channels, channels * channel_floats, [&](int64_t a, int64_t b) {
    for (int64_t c = a; c < b; ++c) {
      const float* src = x + c * ih * iw;
      for (int64_t qh = 0; qh < sh; ++qh)
        for (int64_t qw = 0; qw < sw; ++qw) {
          float* plane = padded + c * channel_floats + (qh * sw + qw) * phase_plane;
          if (!phase_read[static_cast<size_t>(qh * sw + qw)]) {
            // No tap reads it, only dropped columns may run into it: zeros, no gather.
            std::fill(plane, plane + phase_plane, 0.f);
            continue;
          }
          // Phase column j is padded column j * sw + qw, image column j * sw + qw - left:
          // inside the image for j in [j0, j1).
          const int64_t first = qw - left;  // image column of j = 0
          const int64_t j0 = first >= 0 ? 0 : (-first + sw - 1) / sw;
          const int64_t j1 = std::clamp<int64_t>(iw - first <= 0 ? 0 : (iw - first - 1) / sw + 1, j0, wq);
          for (int64_t i = 0; i < hq; ++i) {
            float* row = plane + i * wq;
            const int64_t r = i * sh + qh - top;  // image row
            if (r < 0 || r >= ih || j1 <= j0) {
              std::fill(row, row + wq, 0.f);
              continue;
            }
            std::fill(row, row + j0, 0.f);
            const float* s = src + r * iw + (j0 * sw + first);  // image column of j0 (>= 0)
            if (sw == 1)
              std::memcpy(row + j0, s, static_cast<size_t>(j1 - j0) * sizeof(float));
            else
              for (int64_t j = j0; j < j1; ++j) row[j] = s[(j - j0) * sw];
            std::fill(row + j1, row + wq, 0.f);
          }
        }
    }
  });
  std::fill(padded + channels * channel_floats, padded + channels * channel_floats + slack, 0.f);
}

void PaddedGrid::pack(const float* padded, int64_t k0, int64_t kc, int64_t e0, int64_t n,
                      int nr, float* dst) const {
  const int64_t ksize = static_cast<int64_t>(tap_offset.size());
  for (int64_t p0 = 0; p0 < n; p0 += nr) {
    const int64_t width = std::min<int64_t>(nr, n - p0);
    float* panel = dst + p0 * kc;
    for (int64_t r = 0; r < kc; ++r) {
      const int64_t k = k0 + r;
      const float* src = padded + (k / ksize) * channel_floats +
                         tap_offset[static_cast<size_t>(k % ksize)] + e0 + p0;
      float* out = panel + r * nr;
      std::memcpy(out, src, static_cast<size_t>(width) * sizeof(float));
      if (width < nr) std::fill(out + width, out + nr, 0.f);
    }
  }
}

void PaddedGrid::compact(int64_t maps, const float* ext, int64_t oh0, int64_t rows, float* y,
                         ThreadPool* pool) const {
  const int64_t ext_cols = rows * wq, out_plane = oh * ow;
  for_range(pool, maps, maps * rows * ow, [&](int64_t a, int64_t b) {
    for (int64_t m = a; m < b; ++m)
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(y + m * out_plane + (oh0 + r) * ow, ext + m * ext_cols + r * wq,
                    static_cast<size_t>(ow) * sizeof(float));
  });
}

}  // namespace tinyai
