// The scalar pooling loop. Along the innermost axis, outputs whose window lies wholly inside
// the input are computed a row at a time (tap-major: one pass over the row per kernel tap),
// which has no per-output dependency chain and vectorises; border outputs, and MaxPool when
// it must report argmax indices, fold their in-bounds taps one output at a time.
//
// Reducer interface (rows: the per-ISA row loops the reducer uses):
//   void begin(); void add(float v, int64_t pos); float finish(int64_t valid, int64_t padded);
//       one window: tap values with their plane-local row-major index; in-input and
//       in-input+pads tap counts
//   int64_t arg() const;                          (only if kTracksArg) winning position
//   const PoolRowKernels* rows;
//   void row_init(float* acc, int64_t n) const;
//   void row_add(float* acc, const float* src, int64_t n, int64_t stride) const;
//       fold input values (Lp applies |v|^p here)
//   void fold_rows(float* out, const float* const* rows, int64_t nrows, int64_t n) const;
//       out = every row folded like row_init + row_add, in one pass
//   void fold_taps(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
//                  int64_t dilation) const;
//       out[i] = the partial results col[i * stride + k * dilation] (from fold_rows) combined
//       (max, or a plain sum), overwriting out
//   void row_finish(float* acc, int64_t n, int64_t valid, int64_t padded) const;
//   float reduce_plane(const float* x, int64_t n) const;   global pooling of n values
#pragma once
#include <vector>

#include "kernels/pool/pool_geometry.h"

namespace tinyai {

// Rows shorter than this gain nothing from the tap-major pass.
constexpr int64_t kMinPoolRow = 4;

// acc[i] = op(acc[i], src[i * stride]); the unit-stride case is split out so it vectorises.
template <typename Op>
inline void pool_row_apply(float* acc, const float* src, int64_t n, int64_t stride, Op op) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) acc[i] = op(acc[i], src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] = op(acc[i], src[i * stride]);
  }
}

// Folds x[0, n) with `step` into eight independent partial results (no single dependency
// chain), then merges them with `merge`; reassociation is fine for max and for sums at
// pooling tolerance.
template <typename Step, typename Merge>
inline float pool_reduce_lanes(const float* x, int64_t n, float init, Step step, Merge merge) {
  float lane[8] = {init, init, init, init, init, init, init, init};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] = step(lane[j], x[i + j]);
  for (; i < n; ++i) lane[0] = step(lane[0], x[i]);
  for (int j = 1; j < 8; ++j) lane[0] = merge(lane[0], lane[j]);
  return lane[0];
}

// Global pooling: each [N, C] plane reduces to one value.
template <typename Reducer>
void global_pool_scalar(const float* x, float* y, int64_t planes, int64_t plane_size,
                        const Reducer& r) {
  for (int64_t p = 0; p < planes; ++p) y[p] = r.reduce_plane(x + p * plane_size, plane_size);
}

template <typename Reducer>
void pool_scalar(const float* x, float* y, int64_t* arg_out, const PoolWindows& w,
                 Reducer r) {
  const PoolAxis& a0 = w.axis[0];
  const PoolAxis& a1 = w.axis[1];
  const PoolAxis& a2 = w.axis[2];
  const int64_t planes = w.batch * w.channels;
  const int64_t in_plane = w.in_plane(), out_plane = w.out_plane();

  // [full_lo, full_hi): inner-axis outputs whose window has every tap inside the input.
  int64_t full_lo = 0, full_hi = 0;
  const bool want_arg = Reducer::kTracksArg && arg_out != nullptr;
  if (!want_arg) {
    const auto full = [&](int64_t o) {
      return a2.tap_begin[static_cast<size_t>(o)] == 0 &&
             a2.tap_end[static_cast<size_t>(o)] == a2.kernel;
    };
    while (full_lo < a2.out && !full(full_lo)) ++full_lo;
    full_hi = full_lo;
    while (full_hi < a2.out && full(full_hi)) ++full_hi;
    if (full_hi - full_lo < kMinPoolRow) full_lo = full_hi = 0;
  }
  // Input columns the full outputs read, and a buffer for their kernel rows folded together.
  const int64_t span = full_hi > full_lo ? (full_hi - full_lo - 1) * a2.stride +
                                               (a2.kernel - 1) * a2.dilation + 1
                                         : 0;
  std::vector<float> column_buffer(static_cast<size_t>(span));
  float* column = column_buffer.data();
  std::vector<const float*> kernel_rows(static_cast<size_t>(a0.kernel * a1.kernel));

  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * in_plane;
    int64_t oi = p * out_plane;
    for (size_t o0 = 0; o0 < static_cast<size_t>(a0.out); ++o0) {
      for (size_t o1 = 0; o1 < static_cast<size_t>(a1.out); ++o1, oi += a2.out) {
        const int64_t rows_valid = (a0.tap_end[o0] - a0.tap_begin[o0]) *
                                   (a1.tap_end[o1] - a1.tap_begin[o1]);
        const int64_t rows_padded = a0.padded_taps[o0] * a1.padded_taps[o1];
        // Calls f(row_offset) for every in-input kernel row of this output row.
        const auto for_each_row = [&](auto&& f) {
          for (int64_t k0 = a0.tap_begin[o0]; k0 < a0.tap_end[o0]; ++k0) {
            const int64_t i0 = a0.start[o0] + k0 * a0.dilation;
            for (int64_t k1 = a1.tap_begin[o1]; k1 < a1.tap_end[o1]; ++k1)
              f((i0 * a1.in + a1.start[o1] + k1 * a1.dilation) * a2.in);
          }
        };

        if (full_hi > full_lo) {
          float* acc = y + oi + full_lo;
          const int64_t n = full_hi - full_lo;
          const int64_t first_col = a2.start[static_cast<size_t>(full_lo)];
          if (rows_valid > 1) {
            // Fold the kernel rows first with unit stride over the span the outputs read
            // (one vectorised pass; a kernel row is read once instead of once per inner
            // tap), then the inner taps in one more pass.
            int64_t nrows = 0;
            for_each_row([&](int64_t row) { kernel_rows[nrows++] = xp + row + first_col; });
            r.fold_rows(column, kernel_rows.data(), nrows, span);
            r.fold_taps(acc, column, n, a2.stride, a2.kernel, a2.dilation);
          } else {
            r.row_init(acc, n);
            for_each_row([&](int64_t row) {
              const float* src = xp + row + first_col;
              for (int64_t k2 = 0; k2 < a2.kernel; ++k2)
                r.row_add(acc, src + k2 * a2.dilation, n, a2.stride);
            });
          }
          r.row_finish(acc, n, rows_valid * a2.kernel, rows_padded * a2.kernel);
        }

        for (size_t o2 = 0; o2 < static_cast<size_t>(a2.out); ++o2) {
          if (static_cast<int64_t>(o2) == full_lo && full_hi > full_lo) {
            o2 = static_cast<size_t>(full_hi) - 1;
            continue;
          }
          r.begin();
          for_each_row([&](int64_t row) {
            const int64_t first = row + a2.start[o2];
            for (int64_t k2 = a2.tap_begin[o2]; k2 < a2.tap_end[o2]; ++k2) {
              const int64_t pos = first + k2 * a2.dilation;
              r.add(xp[pos], pos);
            }
          });
          const int64_t o = oi + static_cast<int64_t>(o2);
          y[o] = r.finish(rows_valid * (a2.tap_end[o2] - a2.tap_begin[o2]),
                          rows_padded * a2.padded_taps[o2]);
          if constexpr (Reducer::kTracksArg) {
            if (arg_out) arg_out[o] = r.arg();
          }
        }
      }
    }
  }
}

}  // namespace tinyai
