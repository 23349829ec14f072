// The depthwise plane loop built with -mavx512f -mavx2 -mfma (CMakeLists.txt); reached only through
// depthwise_kernel() after cpuid said the CPU has it.
#include "kernels/conv/patch_walk.h"

namespace tinyai {

void depthwise_conv_avx512f(const PatchGeometry& geo, const float* image, const float* weights,
                            float bias, float* out) {
  depthwise_conv_plane(geo, image, weights, bias, out);
}

}  // namespace tinyai
