#include "kernels/pool/pool_geometry.h"

#include <algorithm>

namespace tinyai {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

void fill_axis(PoolAxis& ax, int64_t in, int64_t out, int64_t kernel, int64_t stride,
               int64_t pad_begin, int64_t pad_end, int64_t dilation) {
  ax.in = in;
  ax.out = out;
  ax.kernel = kernel;
  ax.stride = stride;
  ax.dilation = dilation;
  const auto n = static_cast<size_t>(out);
  ax.start.resize(n);
  ax.tap_begin.resize(n);
  ax.tap_end.resize(n);
  ax.padded_taps.resize(n);
  for (int64_t o = 0; o < out; ++o) {
    const int64_t s = o * stride - pad_begin;
    const auto i = static_cast<size_t>(o);
    ax.start[i] = s;
    ax.tap_begin[i] = std::min(kernel, s >= 0 ? 0 : ceil_div(-s, dilation));
    ax.tap_end[i] = std::clamp<int64_t>(floor_div(in - 1 - s, dilation) + 1, 0, kernel);
    ax.tap_end[i] = std::max(ax.tap_end[i], ax.tap_begin[i]);
    // Taps at positions < in + pad_end; the window never starts left of -pad_begin.
    ax.padded_taps[i] = std::clamp<int64_t>(ceil_div(in + pad_end - s, dilation), 0, kernel);
  }
}

}  // namespace

PoolGeometry::PoolGeometry(const Node& node, bool global) : global_(global) {
  if (global) return;
  auto bad = [&](const std::string& why) {
    throw ModelError(node.op_type + " node '" + node.name + "': " + why);
  };
  kernel_ = node.attr_ints("kernel_shape");
  const size_t nd = kernel_.size();
  if (nd == 0) bad("missing kernel_shape");
  if (nd > kMaxPoolDims)
    throw UnsupportedOperatorError(node.op_type, node.name,
                                   std::to_string(nd) + "-D pooling (supported: 1-D to 3-D)");
  strides_ = node.attr_ints("strides", std::vector<int64_t>(nd, 1));
  dilations_ = node.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  pads_ = node.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (strides_.empty()) strides_.assign(nd, 1);
  if (dilations_.empty()) dilations_.assign(nd, 1);
  if (pads_.empty()) pads_.assign(2 * nd, 0);
  if (strides_.size() != nd || dilations_.size() != nd || pads_.size() != 2 * nd)
    bad("strides, dilations and pads must match kernel_shape's rank");
  for (size_t i = 0; i < nd; ++i) {
    if (kernel_[i] <= 0 || strides_[i] <= 0 || dilations_[i] <= 0)
      bad("kernel_shape, strides and dilations must be positive");
    if (pads_[i] < 0 || pads_[i + nd] < 0) bad("pads must be non-negative");
  }
  ceil_mode_ = node.attr_int("ceil_mode", 0) != 0;
  const std::string ap = node.attr_string("auto_pad", "NOTSET");
  if (ap == "NOTSET" || ap.empty()) auto_pad_ = AutoPad::NotSet;
  else if (ap == "VALID") auto_pad_ = AutoPad::Valid;
  else if (ap == "SAME_UPPER") auto_pad_ = AutoPad::SameUpper;
  else if (ap == "SAME_LOWER") auto_pad_ = AutoPad::SameLower;
  else throw UnsupportedOperatorError(node.op_type, node.name, "auto_pad '" + ap + "'");
}

PoolWindows PoolGeometry::resolve(const KernelContext& ctx, const Shape& x) const {
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank < 3 || rank > 2 + kMaxPoolDims)
    ctx.fail("expects [N, C, spatial...] with 1 to 3 spatial dims, got " + shape_str(x));
  const auto nd = static_cast<size_t>(rank - 2);
  if (!global_ && nd != kernel_.size())
    ctx.fail("kernel_shape has " + std::to_string(kernel_.size()) + " dims but the input " +
             shape_str(x) + " has " + std::to_string(nd) + " spatial dims");
  PoolWindows w;
  w.spatial = static_cast<int>(nd);
  w.batch = x[0];
  w.channels = x[1];
  w.output_shape = {x[0], x[1]};
  const size_t lead = kMaxPoolDims - nd;
  for (size_t s = 0; s < lead; ++s) fill_axis(w.axis[s], 1, 1, 1, 1, 0, 0, 1);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t in = x[2 + i];
    if (global_) {
      fill_axis(w.axis[lead + i], in, 1, in, 1, 0, 0, 1);
      w.output_shape.push_back(1);
      continue;
    }
    const int64_t k = kernel_[i], s = strides_[i], d = dilations_[i];
    const int64_t span = d * (k - 1) + 1;  // dilated kernel extent
    int64_t pb = pads_[i], pe = pads_[i + nd], out = 0;
    if (auto_pad_ == AutoPad::SameUpper || auto_pad_ == AutoPad::SameLower) {
      out = ceil_div(in, s);
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in);
      pb = auto_pad_ == AutoPad::SameUpper ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (auto_pad_ == AutoPad::Valid) pb = pe = 0;
      const int64_t room = in + pb + pe - span;
      out = (ceil_mode_ ? ceil_div(room, s) : floor_div(room, s)) + 1;
      // A ceil_mode window must start inside the input or the leading pad.
      if (ceil_mode_ && out > 0 && (out - 1) * s >= in + pb) --out;
      out = std::max<int64_t>(out, 0);
    }
    fill_axis(w.axis[lead + i], in, out, k, s, pb, pe, d);
    w.output_shape.push_back(out);
  }
  return w;
}

}  // namespace tinyai
