// One separable pass of linear interpolation along a single axis. Multi-linear resizes
// (bilinear, trilinear) apply one pass per resized axis.
#pragma once
#include <cstdint>
#include <vector>

namespace tinyai {

// Output position j along the axis blends source rows i0[j] and i1[j]: (1 - w1) * a + w1 * b.
struct LinearAxisTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w1;
};

// src is [outer, in_len, inner], dst is [outer, taps.size(), inner], both contiguous.
void resize_linear_axis(const float* src, float* dst, int64_t outer, int64_t in_len,
                        int64_t inner, const LinearAxisTaps& taps);

}  // namespace tinyai
