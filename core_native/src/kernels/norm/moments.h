// Mean and (population) variance of a contiguous span, shared by the normalisation kernels.
// Two passes with double accumulators: the centred second pass avoids the cancellation of
// E[x^2] - E[x]^2 when the mean is large relative to the spread.
#pragma once
#include <cstdint>

namespace tinyai {

struct Moments {
  float mean = 0.f;
  float var = 0.f;
};

inline Moments span_moments(const float* x, int64_t n) {
  if (n <= 0) return {};
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    sq += d * d;
  }
  return {static_cast<float>(mean), static_cast<float>(sq / static_cast<double>(n))};
}

// y[i] = x[i] * a + b: the affine step every normalisation ends with.
inline void affine_run(const float* x, float* y, int64_t n, float a, float b) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

}  // namespace tinyai
