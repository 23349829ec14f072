// Scalar im2col / col2im / depthwise convolution. All three walk the grid one row segment at a
// time (consecutive w positions sharing d and h) so bounds are resolved once per segment and
// the inner loops are branch-free and contiguous on the column side.
#include <algorithm>
#include <cstring>

#include "kernels/conv/im2col.h"

namespace tinyai {

bool PatchGeometry::is_identity() const {
  for (int i = 0; i < 3; ++i)
    if (kernel[i] != 1 || stride[i] != 1 || pad[i] != 0 || image[i] != grid[i]) return false;
  return true;
}

namespace {

struct RowSegment {
  int64_t col_begin;    // first column of the segment, relative to the chunk start
  int64_t length;       // columns in the segment
  int64_t image_row;    // offset of image row (d, h) within a channel plane; -1: outside
  int64_t valid_begin;  // columns [valid_begin, valid_end) of the segment read the image
  int64_t valid_end;
  int64_t first_w;      // image w read by column valid_begin
};

int64_t ceil_div_nonneg(int64_t a, int64_t b) { return (a + b - 1) / b; }

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
    s.length = std::min(GW - gw, ncols - done);
    const int64_t id = gd * g.stride[0] + off_d, ih = gh * g.stride[1] + off_h;
    if (id < 0 || id >= g.image[0] || ih < 0 || ih >= g.image[1]) {
      s.image_row = -1;
      s.valid_begin = s.valid_end = 0;
      s.first_w = 0;
    } else {
      s.image_row = (id * g.image[1] + ih) * g.image[2];
      s.valid_begin = std::clamp(w_lo - gw, int64_t{0}, s.length);
      s.valid_end = std::clamp(w_hi - gw, s.valid_begin, s.length);
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

}  // namespace

void im2col(const PatchGeometry& geo, int64_t channels, const float* image, int64_t j0,
            int64_t ncols, float* col) {
  const int64_t ksize = geo.kernel_size(), plane = geo.image_size(), sw = geo.stride[2];
  for (int64_t c = 0; c < channels; ++c) {
    const float* img = image + c * plane;
    for_each_tap(geo, [&](int64_t tap, int64_t kd, int64_t kh, int64_t kw) {
      float* row = col + (c * ksize + tap) * ncols;
      walk_segments(geo, j0, ncols, kd, kh, kw, [&](const RowSegment& s) {
        float* dst = row + s.col_begin;
        std::fill(dst, dst + s.valid_begin, 0.f);
        if (s.valid_end > s.valid_begin) {
          const float* src = img + s.image_row + s.first_w;
          const int64_t n = s.valid_end - s.valid_begin;
          if (sw == 1)
            std::memcpy(dst + s.valid_begin, src, static_cast<size_t>(n) * sizeof(float));
          else
            for (int64_t t = 0; t < n; ++t) dst[s.valid_begin + t] = src[t * sw];
        }
        std::fill(dst + s.valid_end, dst + s.length, 0.f);
      });
    });
  }
}

void col2im_add(const PatchGeometry& geo, int64_t channels, const float* col, int64_t j0,
                int64_t ncols, float* image) {
  const int64_t ksize = geo.kernel_size(), plane = geo.image_size(), sw = geo.stride[2];
  for (int64_t c = 0; c < channels; ++c) {
    float* img = image + c * plane;
    for_each_tap(geo, [&](int64_t tap, int64_t kd, int64_t kh, int64_t kw) {
      const float* row = col + (c * ksize + tap) * ncols;
      walk_segments(geo, j0, ncols, kd, kh, kw, [&](const RowSegment& s) {
        if (s.valid_end <= s.valid_begin) return;
        const float* src = row + s.col_begin + s.valid_begin;
        float* dst = img + s.image_row + s.first_w;
        const int64_t n = s.valid_end - s.valid_begin;
        for (int64_t t = 0; t < n; ++t) dst[t * sw] += src[t];
      });
    });
  }
}

void depthwise_conv(const PatchGeometry& geo, const float* image, const float* weights,
                    float bias, float* out) {
  const int64_t n = geo.grid_size(), sw = geo.stride[2];
  std::fill(out, out + n, bias);
  // Tap-outer: the output plane is revisited once per tap, which keeps it in L1 for the
  // plane sizes depthwise layers use, and the inner loop is a contiguous multiply-add.
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

}  // namespace tinyai
