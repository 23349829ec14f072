// Plain loops the compiler vectorises for whatever ISA the including file is built for.
// Strides 1 and 2 (almost every pooling layer) get their own loops so the loads are
// contiguous or a fixed deinterleave instead of a gather.
//
// Everything here has internal linkage (anonymous namespace): each per-ISA file must keep
// its own copy, or the linker could pick the AVX-512 one for every caller.
#pragma once
#include <cstdint>
#include <limits>

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

// out[i] = op(...op(op(init, rows[0][i]), rows[1][i])..., rows[nrows-1][i]): every kernel
// row of an output row folded in one pass (two rows per pass after the first pair), so
// `out` is not re-read and re-written once per row.
template <typename Op>
inline void fold_rows(float* __restrict out, const float* const* rows, int64_t nrows, int64_t n,
                      float init, Op op) {
  if (nrows <= 0) {
    for (int64_t i = 0; i < n; ++i) out[i] = init;
    return;
  }
  int64_t r = 0;
  if (nrows == 1) {
    const float* __restrict a = rows[0];
    for (int64_t i = 0; i < n; ++i) out[i] = op(init, a[i]);
    return;
  }
  {
    const float* __restrict a = rows[0];
    const float* __restrict b = rows[1];
    for (int64_t i = 0; i < n; ++i) out[i] = op(op(init, a[i]), b[i]);
    r = 2;
  }
  for (; r + 1 < nrows; r += 2) {
    const float* __restrict a = rows[r];
    const float* __restrict b = rows[r + 1];
    for (int64_t i = 0; i < n; ++i) out[i] = op(op(out[i], a[i]), b[i]);
  }
  if (r < nrows) {
    const float* __restrict a = rows[r];
    for (int64_t i = 0; i < n; ++i) out[i] = op(out[i], a[i]);
  }
}

// out[i] = op(...op(init, col[i * stride]), ..., col[i * stride + (kernel - 1) * dilation]):
// the inner-axis taps in one pass; the usual 3/s1, 3/s2 and 2/s2 windows get fixed loops.
template <typename Op>
inline void fold_taps(float* __restrict out, const float* __restrict col, int64_t n,
                      int64_t stride, int64_t kernel, int64_t dilation, float init, Op op) {
  if (dilation == 1 && kernel == 3 && stride == 2) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = op(op(op(init, col[2 * i]), col[2 * i + 1]), col[2 * i + 2]);
  } else if (dilation == 1 && kernel == 3 && stride == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = op(op(op(init, col[i]), col[i + 1]), col[i + 2]);
  } else if (dilation == 1 && kernel == 2 && stride == 2) {
    for (int64_t i = 0; i < n; ++i) out[i] = op(op(init, col[2 * i]), col[2 * i + 1]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = init;
    for (int64_t k = 0; k < kernel; ++k) apply(out, col + k * dilation, n, stride, op);
  }
}

inline float larger(float a, float v) { return v > a ? v : a; }
inline float plus(float a, float v) { return a + v; }

inline void max_rows(float* out, const float* const* rows, int64_t nrows, int64_t n) {
  fold_rows(out, rows, nrows, n, std::numeric_limits<float>::lowest(), larger);
}
inline void sum_rows(float* out, const float* const* rows, int64_t nrows, int64_t n) {
  fold_rows(out, rows, nrows, n, 0.f, plus);
}
inline void max_taps(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                     int64_t dilation) {
  fold_taps(out, col, n, stride, kernel, dilation, std::numeric_limits<float>::lowest(), larger);
}
inline void sum_taps(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                     int64_t dilation) {
  fold_taps(out, col, n, stride, kernel, dilation, 0.f, plus);
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
