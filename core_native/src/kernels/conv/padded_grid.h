// Stride-1 2-D convolution on a zero-padded copy of the image, over an output grid as wide as
// the padded image. With stride 1, the patch row of channel c and tap (kh, kw) at extended
// output position e = oh * wp + ow is padded[c][kh * dh * wp + kw * dw + e]: one contiguous
// run across output rows. Packing the GEMM's B is then whole-panel copies with no bounds
// checks or zero fill, where im2col splits every run at row ends and padding. The extra
// wp - ow columns per row are computed and dropped when the rows are compacted into Y (for
// 3x3 kernels on 7..56-wide images they mostly fill GEMM panels that were padding anyway).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/conv/im2col.h"

namespace tinyai {

class ThreadPool;

struct PaddedGrid {
  int64_t channels = 0;
  int64_t hp = 0, wp = 0, plane = 0;  // padded image: channels planes of hp x wp
  int64_t slack = 0;                  // floats readable past the last plane (discarded columns)
  int64_t oh = 0, ow = 0;             // the real output grid
  int64_t row_chunk = 0;              // output rows per GEMM call (bounds the extended output)
  std::vector<int64_t> tap_offset;    // per kernel tap (kh, kw): kh * dh * wp + kw * dw

  static bool applies(const PatchGeometry& geo);
  // `maps` output channels per GEMM: the extended output of a chunk stays about 1 MiB.
  static PaddedGrid plan(const PatchGeometry& geo, int64_t channels, int64_t maps);

  int64_t padded_floats() const { return channels * plane + slack; }
  int64_t chunk_columns() const { return row_chunk * wp; }

  // padded = x with pad[1] rows above, pad[2] columns left, zeros elsewhere.
  void pad(const PatchGeometry& geo, const float* x, float* padded, ThreadPool* pool) const;
  // GEMM B rows [k0, k0 + kc) (channel-major, then taps) x extended columns [e0, e0 + n) in
  // packed panels of nr columns (GemmBPacker layout).
  void pack(const float* padded, int64_t k0, int64_t kc, int64_t e0, int64_t n, int nr,
            float* dst) const;
  // y rows [oh0, oh0 + rows) of each of `maps` channels from the extended output `ext`
  // (maps x rows * wp).
  void compact(int64_t maps, const float* ext, int64_t oh0, int64_t rows, float* y,
               ThreadPool* pool) const;
};

}  // namespace tinyai
