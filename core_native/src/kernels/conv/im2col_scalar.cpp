// Scalar im2col / col2im, and the depthwise dispatch (scalar and baseline run the plane loop
// compiled here; AVX2 / AVX-512 builds of the same loop live in depthwise_<isa>.cpp).
#include <algorithm>
#include <cstring>

#include "kernels/conv/im2col.h"
#include "kernels/conv/patch_walk.h"

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
