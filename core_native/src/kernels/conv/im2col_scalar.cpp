// Scalar im2col / col2im, and the depthwise dispatch (scalar and baseline run the plane loop
// compiled here; AVX2 / AVX-512 builds of the same loop live in depthwise_<isa>.cpp).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/conv/im2col.h"
#include "kernels/conv/patch_walk.h"
#include "tinyai/errors.h"

namespace tinyai {

bool PatchGeometry::is_identity() const {
  for (int i = 0; i < 3; ++i)
    if (kernel[i] != 1 || stride[i] != 1 || pad[i] != 0 || image[i] != grid[i]) return false;
  return true;
}

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

namespace {

// Runs here are at most one panel (32 floats) and usually a handful: inline 4-float moves
// beat a memcpy/memset call at these lengths. GCC turns such loops back into the calls
// (loop distribution), so the function that inlines them switches that off.
#if defined(__GNUC__) && !defined(__clang__)
#define TINYAI_NO_LIBCALL_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TINYAI_NO_LIBCALL_LOOPS
#endif

typedef float Float4 __attribute__((vector_size(16), aligned(4), may_alias));
inline void copy_short(float* __restrict d, const float* __restrict s, int64_t n) {
  int64_t t = 0;
  for (; t + 4 <= n; t += 4)
    *reinterpret_cast<Float4*>(d + t) = *reinterpret_cast<const Float4*>(s + t);
  for (; t < n; ++t) d[t] = s[t];
}
inline void zero_short(float* d, int64_t n) {
  int64_t t = 0;
  for (; t + 4 <= n; t += 4) *reinterpret_cast<Float4*>(d + t) = Float4{};
  for (; t < n; ++t) d[t] = 0.f;
}

}  // namespace

TINYAI_NO_LIBCALL_LOOPS
void im2col_panels(const PatchGeometry& geo, const float* image, int64_t k0, int64_t kc,
                   int64_t j0, int64_t ncols, int nr, float* dst) {
  // Panel-major: each panel (nr output positions) is written front to back, kc rows of nr
  // floats, while its few input rows per tap are read from cache. Row-major writes would
  // scatter every row over all panels, a panel apart in memory.
  const int64_t ksize = geo.kernel_size(), plane = geo.image_size(), sw = geo.stride[2];
  const int64_t GH = geo.grid[1], GW = geo.grid[2], IH = geo.image[1], IW = geo.image[2];
  struct RowTap {  // what row k0 + r reads: channel plane, tap offsets, in-image w range
    const float* img;
    int64_t off_d, off_h, off_w, w_lo, w_hi;
  };
  std::vector<RowTap> taps(static_cast<size_t>(kc));
  for (int64_t r = 0; r < kc; ++r) {
    const int64_t k = k0 + r, c = k / ksize, tap = k % ksize;
    const int64_t kw = tap % geo.kernel[2], kh = (tap / geo.kernel[2]) % geo.kernel[1],
                  kd = tap / (geo.kernel[2] * geo.kernel[1]);
    RowTap& t = taps[static_cast<size_t>(r)];
    t.img = image + c * plane;
    t.off_d = kd * geo.dilation[0] - geo.pad[0];
    t.off_h = kh * geo.dilation[1] - geo.pad[1];
    t.off_w = kw * geo.dilation[2] - geo.pad[2];
    // grid w positions whose tap lands inside the image: 0 <= w * sw + off_w < IW
    t.w_lo = t.off_w >= 0 ? 0 : (-t.off_w + sw - 1) / sw;
    t.w_hi = IW - t.off_w <= 0 ? 0 : (IW - t.off_w - 1) / sw + 1;
  }
  struct Piece {  // consecutive output positions of one grid row inside a panel
    int64_t col, len, gd, gh, gw;
  };
  constexpr int kMaxPanel = 64;  // every GEMM tile's NR is far below this
  if (nr < 1 || nr > kMaxPanel) throw ExecutionError("im2col_panels: panel width out of range");
  Piece pieces[kMaxPanel];  // a panel of nr positions spans at most nr grid rows
  int64_t gw = j0 % GW, gh = (j0 / GW) % GH, gd = j0 / (GW * GH);
  for (int64_t p0 = 0; p0 < ncols; p0 += nr) {
    const int64_t width = std::min<int64_t>(nr, ncols - p0);
    int pieces_n = 0;
    for (int64_t col = 0; col < width;) {
      const int64_t len = std::min(GW - gw, width - col);
      pieces[pieces_n++] = Piece{col, len, gd, gh, gw};
      col += len;
      gw += len;
      if (gw == GW) {
        gw = 0;
        if (++gh == GH) {
          gh = 0;
          ++gd;
        }
      }
    }
    float* panel = dst + p0 * kc;
    for (int64_t r = 0; r < kc; ++r) {
      const RowTap& t = taps[static_cast<size_t>(r)];
      float* out = panel + r * nr;
      for (int q = 0; q < pieces_n; ++q) {
        const Piece& pc = pieces[q];
        float* d = out + pc.col;
        const int64_t id = pc.gd * geo.stride[0] + t.off_d, ih = pc.gh * geo.stride[1] + t.off_h;
        if (id < 0 || id >= geo.image[0] || ih < 0 || ih >= IH) {
          zero_short(d, pc.len);
          continue;
        }
        const int64_t vb = std::clamp<int64_t>(t.w_lo - pc.gw, 0, pc.len);
        const int64_t ve = std::clamp<int64_t>(t.w_hi - pc.gw, vb, pc.len);
        zero_short(d, vb);
        const float* src = t.img + (id * IH + ih) * IW + (pc.gw + vb) * sw + t.off_w;
        if (sw == 1)
          copy_short(d + vb, src, ve - vb);
        else
          for (int64_t i = 0; i < ve - vb; ++i) d[vb + i] = src[i * sw];
        zero_short(d + ve, pc.len - ve);
      }
      zero_short(out + width, nr - width);
    }
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

void depthwise_conv(Isa isa, const PatchGeometry& geo, const float* image,
                    const float* weights, float bias, float* out) {
  const DepthwiseFn fn = depthwise_kernel(isa);
  fn(geo, image, weights, bias, out);
}

namespace {
void depthwise_baseline(const PatchGeometry& geo, const float* image, const float* weights,
                        float bias, float* out) {
  depthwise_conv_plane(geo, image, weights, bias, out);
}
}  // namespace

DepthwiseFn depthwise_kernel(Isa isa) {
#if TINYAI_X86_KERNELS
  if (isa == Isa::Avx512) return depthwise_conv_avx512f;
  if (isa == Isa::Avx2) return depthwise_conv_avx2;
#endif
  (void)isa;
  return depthwise_baseline;
}

}  // namespace tinyai
