// Walking a PatchGeometry one row segment at a time (consecutive w positions sharing d and
// h), so bounds are resolved once per segment and inner loops are branch-free and contiguous
// on the column side. Shared by im2col/col2im and the per-ISA depthwise convolutions, so it
// has internal linkage and calls no out-of-line library code (see gemm_blocked.h for why).
#pragma once
#include <cstdint>

#include "kernels/conv/im2col.h"

namespace tinyai {
namespace {  // NOLINT: one private copy per translation unit, on purpose

struct RowSegment {
  int64_t col_begin;    // first column of the segment, relative to the chunk start
  int64_t length;       // columns in the segment
  int64_t image_row;    // offset of image row (d, h) within a channel plane; -1: outside
  int64_t valid_begin;  // columns [valid_begin, valid_end) of the segment read the image
  int64_t valid_end;
  int64_t first_w;      // image w read by column valid_begin
};

int64_t ceil_div_nonneg(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Calls visit(RowSegment) for grid positions [j0, j0 + ncols) and kernel tap (kd, kh, kw).
template <typename Visit>
void walk_segments(const PatchGeometry& g, int64_t j0, int64_t ncols, int64_t kd, int64_t kh,
                   int64_t kw, Visit&& visit) {
  const int64_t GH = g.grid[1], GW = g.grid[2];
  const int64_t sw = g.stride[2];
  const int64_t off_w = kw * g.dilation[2] - g.pad[2];
  // Grid w positions whose tap lands inside the image: 0 <= w * sw + off_w < image_w.
  const int64_t w_lo = off_w >= 0 ? 0 : ceil_div_nonneg(-off_w, sw);
  const int64_t w_hi = g.image[2] - off_w <= 0 ? 0 : (g.image[2] - off_w - 1) / sw + 1;
  const int64_t off_d = kd * g.dilation[0] - g.pad[0];
  const int64_t off_h = kh * g.dilation[1] - g.pad[1];

  int64_t gw = j0 % GW, gh = (j0 / GW) % GH, gd = j0 / (GW * GH);
  int64_t done = 0;
  while (done < ncols) {
    RowSegment s;
    s.col_begin = done;
    s.length = (GW - gw < ncols - done ? GW - gw : ncols - done);
    const int64_t id = gd * g.stride[0] + off_d, ih = gh * g.stride[1] + off_h;
    if (id < 0 || id >= g.image[0] || ih < 0 || ih >= g.image[1]) {
      s.image_row = -1;
      s.valid_begin = s.valid_end = 0;
      s.first_w = 0;
    } else {
      s.image_row = (id * g.image[1] + ih) * g.image[2];
      s.valid_begin = clamp64(w_lo - gw, 0, s.length);
      s.valid_end = clamp64(w_hi - gw, s.valid_begin, s.length);
      s.first_w = (gw + s.valid_begin) * sw + off_w;
    }
    visit(s);
    done += s.length;
    gw = 0;
    if (++gh == GH) {
      gh = 0;
      ++gd;
    }
  }
}

// Visits every (tap index, kd, kh, kw) of the kernel in row-major order.
template <typename Fn>
void for_each_tap(const PatchGeometry& g, Fn&& fn) {
  int64_t tap = 0;
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw) fn(tap++, kd, kh, kw);
}

// out[grid] = bias + sum_k weights[k] * image[tap(grid, k)], tap-outer: the output plane is
// revisited once per tap, which keeps it in L1 for the plane sizes depthwise layers use, and
// the inner loop is a contiguous multiply-add the compiler vectorises for the target ISA.
void depthwise_conv_plane(const PatchGeometry& geo, const float* image, const float* weights,
                          float bias, float* out) {
  const int64_t n = geo.grid_size(), sw = geo.stride[2];
  for (int64_t i = 0; i < n; ++i) out[i] = bias;
  for_each_tap(geo, [&](int64_t tap, int64_t kd, int64_t kh, int64_t kw) {
    const float w = weights[tap];
    walk_segments(geo, 0, n, kd, kh, kw, [&](const RowSegment& s) {
      if (s.valid_end <= s.valid_begin) return;
      const float* src = image + s.image_row + s.first_w;
      float* dst = out + s.col_begin + s.valid_begin;
      const int64_t len = s.valid_end - s.valid_begin;
      if (sw == 1)
        for (int64_t t = 0; t < len; ++t) dst[t] += w * src[t];
      else
        for (int64_t t = 0; t < len; ++t) dst[t] += w * src[t * sw];
    });
  });
}

}  // namespace
}  // namespace tinyai
