#include "kernels/shape/resize_linear.h"

namespace tinyai {

void resize_linear_axis(const float* src, float* dst, int64_t outer, int64_t in_len,
                        int64_t inner, const LinearAxisTaps& taps) {
  const auto out_len = static_cast<int64_t>(taps.i0.size());
  for (int64_t o = 0; o < outer; ++o) {
    const float* s = src + o * in_len * inner;
    float* d = dst + o * out_len * inner;
    if (inner == 1) {
      for (int64_t j = 0; j < out_len; ++j) {
        const float w1 = taps.w1[j];
        d[j] = s[taps.i0[j]] * (1.f - w1) + s[taps.i1[j]] * w1;
      }
      continue;
    }
    for (int64_t j = 0; j < out_len; ++j) {
      const float w1 = taps.w1[j], w0 = 1.f - w1;
      const float* a = s + taps.i0[j] * inner;
      const float* b = s + taps.i1[j] * inner;
      float* row = d + j * inner;
      for (int64_t k = 0; k < inner; ++k) row[k] = a[k] * w0 + b[k] * w1;
    }
  }
}

}  // namespace tinyai
