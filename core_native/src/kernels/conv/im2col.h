// Patch extraction between an image and a column matrix, shared by Conv (im2col, then GEMM)
// and ConvTranspose (GEMM, then col2im), plus the direct depthwise convolution that walks the
// same geometry without a column matrix.
//
// Every shape is 3-D: 1-D and 2-D convolutions use leading dimensions of size 1 (kernel 1,
// stride 1, dilation 1, pad 0), so one implementation serves all ranks.
#pragma once
#include <cstdint>

#include "simd/dispatch.h"

namespace tinyai {

struct PatchGeometry {
  // Grid position g and kernel tap k read image position g * stride - pad + k * dilation.
  int64_t image[3];     // spatial dims of the image side (Conv input, ConvTranspose output)
  int64_t grid[3];      // spatial dims of the column side (Conv output, ConvTranspose input)
  int64_t kernel[3];
  int64_t stride[3];
  int64_t dilation[3];
  int64_t pad[3];       // padding before the first image element (may be negative)

  int64_t image_size() const { return image[0] * image[1] * image[2]; }
  int64_t grid_size() const { return grid[0] * grid[1] * grid[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  // Kernel 1, stride 1, no padding, same size: the column matrix would equal the image.
  bool is_identity() const;
};

// Writes rows (channel, kd, kh, kw) x columns [j0, j0 + ncols) of grid positions (flattened
// d, h, w) into col (row-major, ncols per row); taps outside the image read as 0.
void im2col(const PatchGeometry& geo, int64_t channels, const float* image, int64_t j0,
            int64_t ncols, float* col);

// The same rows (channel, kd, kh, kw) [k0, k0 + kc) x grid columns [j0, j0 + ncols), written
// straight in the GEMM's packed-B panel layout (GemmBPacker): panels of nr columns, panel p
// at dst + p * kc * nr, kc rows of nr floats each, columns past ncols zero. The convolution
// then never materialises the column matrix, and the data is copied once instead of twice.
void im2col_panels(const PatchGeometry& geo, const float* image, int64_t k0, int64_t kc,
                   int64_t j0, int64_t ncols, int nr, float* dst);

// The adjoint: adds each column entry into the image position it was read from; taps that
// fall outside the image are dropped.
void col2im_add(const PatchGeometry& geo, int64_t channels, const float* col, int64_t j0,
                int64_t ncols, float* image);

// out[grid] = bias + sum_k weights[k] * image[tap(grid, k)] for one channel pair: a direct
// convolution for groups with a single input channel (depthwise), no column matrix needed.
// `isa` picks the build of the loop (the compiler vectorises it for that ISA).
void depthwise_conv(Isa isa, const PatchGeometry& geo, const float* image,
                    const float* weights, float bias, float* out);

using DepthwiseFn = void (*)(const PatchGeometry& geo, const float* image, const float* weights,
                             float bias, float* out);
DepthwiseFn depthwise_kernel(Isa isa);
// Built on x86-64 only, with their own target flags (TINYAI_X86_KERNELS).
void depthwise_conv_avx2(const PatchGeometry& geo, const float* image, const float* weights,
                         float bias, float* out);
void depthwise_conv_avx512f(const PatchGeometry& geo, const float* image,
                            const float* weights, float bias, float* out);

}  // namespace tinyai
