#include "kernels/conv/conv_attributes.h"

#include <algorithm>
#include <string>

namespace tinyai {

namespace {

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

ConvAttributes::ConvAttributes(const Node& node, bool transpose) : transpose_(transpose) {
  auto unsupported = [&](const std::string& why) {
    throw UnsupportedOperatorError(node.op_type, node.name, why);
  };
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty())
    auto_pad_ = AutoPad::NotSet;
  else if (auto_pad == "SAME_UPPER")
    auto_pad_ = AutoPad::SameUpper;
  else if (auto_pad == "SAME_LOWER")
    auto_pad_ = AutoPad::SameLower;
  else if (auto_pad == "VALID")
    auto_pad_ = AutoPad::Valid;
  else
    unsupported("auto_pad '" + auto_pad + "' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)");

  group_ = node.attr_int("group", 1);
  if (group_ < 1) unsupported("group " + std::to_string(group_) + " (must be >= 1)");

  kernel_shape_ = node.attr_ints("kernel_shape");
  strides_ = node.attr_ints("strides");
  dilations_ = node.attr_ints("dilations");
  pads_ = node.attr_ints("pads");
  if (transpose) {
    output_padding_ = node.attr_ints("output_padding");
    output_shape_ = node.attr_ints("output_shape");
  }
  auto require = [&](const std::vector<int64_t>& v, const char* name, int64_t min) {
    for (int64_t x : v)
      if (x < min)
        unsupported(std::string(name) + " " + ints_str(v) + " (values must be >= " +
                    std::to_string(min) + ")");
  };
  require(kernel_shape_, "kernel_shape", 1);
  require(strides_, "strides", 1);
  require(dilations_, "dilations", 1);
  require(pads_, "pads", 0);
  require(output_padding_, "output_padding", 0);
  require(output_shape_, "output_shape", 0);
  if (pads_.size() % 2 != 0) unsupported("pads " + ints_str(pads_) + " has an odd length");

  const std::string activation = transpose ? "" : node.attr_string("activation", "");
  if (activation == "Relu")
    activation_ = GemmActivation::Relu;
  else if (!activation.empty())
    unsupported("activation '" + activation + "' (only Relu is fused into a Conv)");
}

ConvOperands ConvAttributes::operands(const KernelContext& ctx) const {
  const Node& node = ctx.node();
  const Tensor* x = ctx.input(0);
  const Tensor* w = ctx.input(1);
  const Tensor* b = ctx.input(2);
  if (!x || !w) ctx.fail("needs inputs X and W");
  require_dtype(node, *x, {DType::Float32}, "input X");
  require_dtype(node, *w, {DType::Float32}, "weights W");
  if (b) require_dtype(node, *b, {DType::Float32}, "bias B");
  check_inputs(ctx, *x, *w);
  return ConvOperands{*x, *w, b};
}

void ConvAttributes::check_bias(const KernelContext& ctx, const Tensor* b, int64_t maps) {
  if (b && (b->rank() != 1 || b->dim(0) != maps))
    ctx.fail("bias B " + shape_str(b->shape) + " should be [" + std::to_string(maps) + "]");
}

int64_t ConvAttributes::at(const std::vector<int64_t>& v, size_t i, int64_t dflt) const {
  return i < v.size() ? v[i] : dflt;
}

void ConvAttributes::check_lengths(const KernelContext& ctx, size_t nd) const {
  auto check = [&](const std::vector<int64_t>& v, const char* name, size_t want) {
    if (!v.empty() && v.size() != want)
      ctx.fail(std::string(name) + " " + ints_str(v) + " should have " + std::to_string(want) +
               " values for " + std::to_string(nd) + " spatial dimensions");
  };
  check(kernel_shape_, "kernel_shape", nd);
  check(strides_, "strides", nd);
  check(dilations_, "dilations", nd);
  check(pads_, "pads", 2 * nd);
  check(output_padding_, "output_padding", nd);
  if (!output_shape_.empty() && output_shape_.size() != nd + 2) check(output_shape_, "output_shape", nd);
}

void ConvAttributes::check_inputs(const KernelContext& ctx, const Tensor& x,
                                  const Tensor& w) const {
  if (x.rank() < 3 || x.rank() > 5)
    ctx.fail("input X has shape " + shape_str(x.shape) +
             "; expected [N, C, D1(, D2(, D3))] with 1 to 3 spatial dimensions");
  if (w.rank() != x.rank())
    ctx.fail("weights W " + shape_str(w.shape) + " and input X " + shape_str(x.shape) +
             " must have the same rank");
  const size_t nd = static_cast<size_t>(x.rank() - 2);
  check_lengths(ctx, nd);
  const int64_t channels = x.dim(1);
  if (transpose_) {
    if (w.dim(0) != channels || channels % group_ != 0)
      ctx.fail("weights W " + shape_str(w.shape) + " do not match " +
               std::to_string(channels) + " input channels in " + std::to_string(group_) +
               " groups (expected [C, M/group, k...])");
  } else {
    if (w.dim(1) * group_ != channels || w.dim(0) % group_ != 0)
      ctx.fail("weights W " + shape_str(w.shape) + " do not match " +
               std::to_string(channels) + " input channels in " + std::to_string(group_) +
               " groups (expected [M, C/group, k...])");
  }
  for (size_t i = 0; i < nd; ++i)
    if (!kernel_shape_.empty() && kernel_shape_[i] != w.dim(static_cast<int64_t>(i) + 2))
      ctx.fail("kernel_shape " + ints_str(kernel_shape_) + " disagrees with weights " +
               shape_str(w.shape));
}

PatchGeometry ConvAttributes::identity_geometry() {
  PatchGeometry g;
  for (int i = 0; i < 3; ++i) {
    g.image[i] = g.grid[i] = g.kernel[i] = g.stride[i] = g.dilation[i] = 1;
    g.pad[i] = 0;
  }
  return g;
}

PatchGeometry ConvAttributes::conv_geometry(const KernelContext& ctx, const Shape& x,
                                            const Shape& w) const {
  const size_t nd = x.size() - 2;
  PatchGeometry g = identity_geometry();
  for (size_t i = 0; i < nd; ++i) {
    const size_t a = 3 - nd + i;
    const int64_t in = x[2 + i], k = w[2 + i];
    const int64_t s = at(strides_, i, 1), d = at(dilations_, i, 1);
    const int64_t extent = (k - 1) * d + 1;
    int64_t out = 0, pad_begin = 0;
    if (auto_pad_ == AutoPad::SameUpper || auto_pad_ == AutoPad::SameLower) {
      out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      // The odd padding element goes at the end for SAME_UPPER, the beginning for SAME_LOWER.
      pad_begin = auto_pad_ == AutoPad::SameUpper ? total / 2 : total - total / 2;
    } else {
      int64_t pad_end = 0;
      if (auto_pad_ == AutoPad::NotSet) {
        pad_begin = at(pads_, i, 0);
        pad_end = at(pads_, i + nd, 0);
      }
      const int64_t span = in + pad_begin + pad_end - extent;
      if (span < 0)
        ctx.fail("the kernel (extent " + std::to_string(extent) + " with dilation) is larger " +
                 "than the padded input along spatial axis " + std::to_string(i) + " (size " +
                 std::to_string(in + pad_begin + pad_end) + ")");
      out = span / s + 1;
    }
    g.image[a] = in;
    g.grid[a] = out;
    g.kernel[a] = k;
    g.stride[a] = s;
    g.dilation[a] = d;
    g.pad[a] = pad_begin;
  }
  return g;
}

PatchGeometry ConvAttributes::transpose_geometry(const KernelContext& ctx, const Shape& x,
                                                 const Shape& w) const {
  const size_t nd = x.size() - 2;
  const size_t shape_offset = output_shape_.size() == nd + 2 ? 2 : 0;
  PatchGeometry g = identity_geometry();
  for (size_t i = 0; i < nd; ++i) {
    const size_t a = 3 - nd + i;
    const int64_t in = x[2 + i], k = w[2 + i];
    const int64_t s = at(strides_, i, 1), d = at(dilations_, i, 1);
    const int64_t natural = s * (in - 1) + at(output_padding_, i, 0) + (k - 1) * d + 1;
    int64_t out = 0, pad_begin = 0;
    const bool same = auto_pad_ == AutoPad::SameUpper || auto_pad_ == AutoPad::SameLower;
    if (!output_shape_.empty() || same) {
      out = !output_shape_.empty() ? output_shape_[shape_offset + i] : in * s;
      // A requested size beyond the natural one leaves the tail to the bias (as onnxruntime).
      // The odd padding element goes at the end only for SAME_UPPER (spec and onnxruntime).
      const int64_t total = std::max<int64_t>(0, natural - out);
      pad_begin = auto_pad_ == AutoPad::SameUpper ? total / 2 : total - total / 2;
    } else {
      if (auto_pad_ == AutoPad::NotSet) pad_begin = at(pads_, i, 0);
      const int64_t pad_end = auto_pad_ == AutoPad::NotSet ? at(pads_, i + nd, 0) : 0;
      out = natural - pad_begin - pad_end;
    }
    if (out < 0)
      ctx.fail("computed a negative output size " + std::to_string(out) +
               " along spatial axis " + std::to_string(i) + " (pads exceed the output)");
    g.image[a] = out;
    g.grid[a] = in;
    g.kernel[a] = k;
    g.stride[a] = s;
    g.dilation[a] = d;
    g.pad[a] = pad_begin;
  }
  return g;
}

int64_t column_chunk(int64_t rows, int64_t cols) {
  constexpr int64_t kColumnBudgetBytes = 2 << 20;
  constexpr int64_t kMinColumns = 64;
  const int64_t fit = kColumnBudgetBytes / (std::max<int64_t>(rows, 1) * int64_t{sizeof(float)});
  return std::min(cols, std::max(fit, kMinColumns));
}

void fill_with_bias(float* y, int64_t channels, int64_t plane, const float* bias,
                    GemmActivation activation) {
  const bool relu = activation == GemmActivation::Relu;
  for (int64_t c = 0; c < channels; ++c) {
    const float v = bias ? bias[c] : 0.f;
    std::fill(y + c * plane, y + (c + 1) * plane, relu && v < 0.f ? 0.f : v);
  }
}

}  // namespace tinyai
