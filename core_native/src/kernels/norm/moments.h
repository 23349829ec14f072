// Mean and (population) variance of a contiguous span, shared by the normalisation kernels.
// Two passes, the second centred, which avoids the cancellation of E[x^2] - E[x]^2 when the
// mean is large relative to the spread. Sums run in blocks of float lanes (a loop that
// vectorises) flushed into a double per block, so long spans keep double-level accuracy.
#pragma once
#include <algorithm>
#include <cstdint>

namespace tinyai {

struct Moments {
  float mean = 0.f;
  float var = 0.f;
};

// sum of f(x[i]) over the span; f is applied lane-wise inside vectorisable blocks.
template <class F> double blocked_sum(const float* x, int64_t n, F f) {
  constexpr int kLanes = 8;
  constexpr int64_t kBlock = 512;
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    float lanes[kLanes] = {};
    int64_t i = b;
    for (; i + kLanes <= e; i += kLanes)
      for (int l = 0; l < kLanes; ++l) lanes[l] += f(x[i + l]);
    float part = 0.f;
    for (; i < e; ++i) part += f(x[i]);
    for (int l = 0; l < kLanes; ++l) part += lanes[l];
    total += part;
  }
  return total;
}

inline Moments span_moments(const float* x, int64_t n) {
  if (n <= 0) return {};
  const double inv_n = 1.0 / static_cast<double>(n);
  const float mean = static_cast<float>(blocked_sum(x, n, [](float v) { return v; }) * inv_n);
  const double sq = blocked_sum(x, n, [mean](float v) { return (v - mean) * (v - mean); });
  return {mean, static_cast<float>(sq * inv_n)};
}

// y[i] = x[i] * a + b: the affine step every normalisation ends with.
inline void affine_run(const float* x, float* y, int64_t n, float a, float b) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

// y[i] = max(x[i] * a + b, 0): the affine step with a Relu fused at import.
inline void affine_relu_run(const float* x, float* y, int64_t n, float a, float b) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * a + b;
    y[i] = v > 0.f ? v : 0.f;
  }
}

}  // namespace tinyai
