// The scalar pooling loop: every output position folds the in-bounds taps of its window
// through a Reducer. A SIMD variant would vectorise across output positions of one row.
//
// Reducer interface:
//   void begin();                         start a window
//   void add(float v, int64_t pos);       tap value and its plane-local row-major index
//   float finish(int64_t valid, int64_t padded) const;  in-input / in-input+pads tap counts
//   int64_t arg() const;                  (only if kTracksArg) winning plane-local index
#pragma once
#include "kernels/pool/pool_geometry.h"

namespace tinyai {

template <typename Reducer>
void pool_scalar(const float* x, float* y, int64_t* arg_out, const PoolWindows& w,
                 Reducer r) {
  const PoolAxis& a0 = w.axis[0];
  const PoolAxis& a1 = w.axis[1];
  const PoolAxis& a2 = w.axis[2];
  const int64_t planes = w.batch * w.channels;
  const int64_t in_plane = w.in_plane(), out_plane = w.out_plane();
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * in_plane;
    int64_t oi = p * out_plane;
    for (size_t o0 = 0; o0 < static_cast<size_t>(a0.out); ++o0) {
      for (size_t o1 = 0; o1 < static_cast<size_t>(a1.out); ++o1) {
        for (size_t o2 = 0; o2 < static_cast<size_t>(a2.out); ++o2, ++oi) {
          r.begin();
          for (int64_t k0 = a0.tap_begin[o0]; k0 < a0.tap_end[o0]; ++k0) {
            const int64_t i0 = a0.start[o0] + k0 * a0.dilation;
            for (int64_t k1 = a1.tap_begin[o1]; k1 < a1.tap_end[o1]; ++k1) {
              const int64_t row = (i0 * a1.in + a1.start[o1] + k1 * a1.dilation) * a2.in;
              const int64_t first = row + a2.start[o2];
              for (int64_t k2 = a2.tap_begin[o2]; k2 < a2.tap_end[o2]; ++k2) {
                const int64_t pos = first + k2 * a2.dilation;
                r.add(xp[pos], pos);
              }
            }
          }
          const int64_t valid = (a0.tap_end[o0] - a0.tap_begin[o0]) *
                                (a1.tap_end[o1] - a1.tap_begin[o1]) *
                                (a2.tap_end[o2] - a2.tap_begin[o2]);
          const int64_t padded = a0.padded_taps[o0] * a1.padded_taps[o1] * a2.padded_taps[o2];
          y[oi] = r.finish(valid, padded);
          if constexpr (Reducer::kTracksArg) {
            if (arg_out) arg_out[oi] = r.arg();
          }
        }
      }
    }
  }
}

}  // namespace tinyai
