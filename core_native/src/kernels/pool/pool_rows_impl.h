// Plain loops the compiler vectorises for whatever ISA the including file is built for.
// Strides 1 and 2 (almost every pooling layer) get their own loops so the loads are
// contiguous or a fixed deinterleave instead of a gather.
//
// Everything here has internal linkage (anonymous namespace): each per-ISA file must keep
// its own copy, or the linker could pick the AVX-512 one for every caller.
#pragma once
#include <cstdint>

namespace tinyai {
namespace pool_rows {
namespace {

template <typename Op>
inline void apply(float* __restrict acc, const float* __restrict src, int64_t n, int64_t stride,
                  Op op) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) acc[i] = op(acc[i], src[i]);
  } else if (stride == 2) {
    for (int64_t i = 0; i < n; ++i) acc[i] = op(acc[i], src[2 * i]);
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] = op(acc[i], src[i * stride]);
  }
}

inline void max(float* acc, const float* src, int64_t n, int64_t stride) {
  apply(acc, src, n, stride, [](float a, float v) { return v > a ? v : a; });
}

inline void sum(float* acc, const float* src, int64_t n, int64_t stride) {
  apply(acc, src, n, stride, [](float a, float v) { return a + v; });
}

}  // namespace
}  // namespace pool_rows
}  // namespace tinyai
