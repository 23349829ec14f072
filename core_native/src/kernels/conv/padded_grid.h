// 2-D convolution on a zero-padded, stride-phase-split copy of the image, over an output
// grid as wide as a phase row.
//
// The padded image is split by the stride into sh x sw phase planes (phase (qh, qw) holds
// padded rows qh, qh + sh, ... and columns qw, qw + sw, ...), each hq x wq. Kernel tap
// (kh, kw) of output (oh, ow) then reads phase ((kh*dh) % sh, (kw*dw) % sw) at row
// oh + (kh*dh) / sh, column ow + (kw*dw) / sw: for a fixed tap that is one contiguous run over
// the extended positions e = oh * wq + ow. Packing the GEMM's B is whole-panel copies with no
// bounds checks or zero fill, where im2col splits every run at row ends and padding and
// gathers strided columns one by one. Each output row gets wq - ow extra columns, computed
// and dropped when the rows are compacted into Y (for common shapes they mostly fill GEMM
// panels that would have been padding anyway).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/conv/im2col.h"

namespace tinyai {

class ThreadPool;

struct PaddedGrid {
  int64_t channels = 0;
  int64_t sh = 1, sw = 1;             // strides: phases per channel = sh * sw
  int64_t hq = 0, wq = 0;             // one phase plane
  int64_t phase_plane = 0, channel_floats = 0;
  int64_t slack = 0;                  // floats readable past the last plane (discarded columns)
  int64_t oh = 0, ow = 0;             // the real output grid
  int64_t row_chunk = 0;              // output rows per GEMM call (bounds the extended output)
  std::vector<int64_t> tap_offset;    // per kernel tap (kh, kw), from the channel's start
  std::vector<char> phase_read;       // per phase: read by some tap (1x1 stride 2: only one)

  static bool applies(const PatchGeometry& geo);
  // `maps` output channels per GEMM: the extended output of a chunk stays about 1 MiB.
  static PaddedGrid plan(const PatchGeometry& geo, int64_t channels, int64_t maps);

  // Whether the extended grid needs at most ~10 % more GEMM panels of nr columns than the
  // real one (measured: 3x3 convs on 27x27 and larger gain, on 13x13 they lose).
  bool fills_panels(int nr) const;

  int64_t padded_floats() const { return channels * channel_floats + slack; }
  int64_t chunk_columns() const { return row_chunk * wq; }

  // The phase planes of x padded with pad[1] rows above and pad[2] columns left, zeros
  // elsewhere.
  void pad(const PatchGeometry& geo, const float* x, float* padded, ThreadPool* pool) const;
  // GEMM B rows [k0, k0 + kc) (channel-major, then taps) x extended columns [e0, e0 + n) in
  // packed panels of nr columns (GemmBPacker layout).
  void pack(const float* padded, int64_t k0, int64_t kc, int64_t e0, int64_t n, int nr,
            float* dst) const;
  // y rows [oh0, oh0 + rows) of each of `maps` channels from the extended output `ext`
  // (maps x rows * wq).
  void compact(int64_t maps, const float* ext, int64_t oh0, int64_t rows, float* y,
               ThreadPool* pool) const;
};

}  // namespace tinyai
