// Window geometry shared by MaxPool, AveragePool, LpPool and their Global variants: attribute
// parsing, output size (pads, auto_pad, ceil_mode, dilations) and, per output position, the
// range of kernel taps that land inside the input.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tinyai/op.h"

namespace tinyai {

// Spatial dims are right-aligned into kMaxPoolDims slots; unused leading slots have extent 1.
constexpr int kMaxPoolDims = 3;

// Along one spatial axis, output position o reads input positions start[o] + k * dilation for
// taps k in [tap_begin[o], tap_end[o]) (the ones inside the input); padded_taps[o] counts the
// taps inside input+pads (AveragePool's count_include_pad divisor).
struct PoolAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1;
  std::vector<int64_t> start, tap_begin, tap_end, padded_taps;
};

struct PoolWindows {
  int spatial = 0;  // number of real spatial dims
  int64_t batch = 0, channels = 0;
  PoolAxis axis[kMaxPoolDims];
  Shape output_shape;  // [N, C, out...]
  int64_t in_plane() const { return axis[0].in * axis[1].in * axis[2].in; }
  int64_t out_plane() const { return axis[0].out * axis[1].out * axis[2].out; }
};

class PoolGeometry {
 public:
  // Parses and validates kernel_shape/strides/pads/dilations/auto_pad/ceil_mode (a global
  // pool covers the whole input instead). Throws ModelError / UnsupportedOperatorError.
  PoolGeometry(const Node& node, bool global);
  // Resolves the windows for an input of shape [N, C, spatial...] (1 to 3 spatial dims).
  PoolWindows resolve(const KernelContext& ctx, const Shape& x) const;

 private:
  enum class AutoPad { NotSet, Valid, SameUpper, SameLower };
  bool global_;
  AutoPad auto_pad_ = AutoPad::NotSet;
  bool ceil_mode_ = false;
  std::vector<int64_t> kernel_, strides_, pads_, dilations_;
};

}  // namespace tinyai
