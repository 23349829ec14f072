// What Conv and ConvTranspose share: attribute parsing and shape arithmetic (auto_pad, pads,
// strides, dilations, group, kernel_shape, output_padding, output_shape) turned into the 3-D
// PatchGeometry the patch routines use, and the sizing of column-matrix chunks.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/conv/im2col.h"
#include "kernels/matmul/gemm.h"
#include "tinyai/op.h"

namespace tinyai {

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

// A convolution's tensors once present and float32: X, W and the optional bias B.
struct ConvOperands {
  const Tensor& x;
  const Tensor& w;
  const Tensor* b;  // null when omitted
};

class ConvAttributes {
 public:
  // Validates what does not depend on input shapes; throws UnsupportedOperatorError.
  ConvAttributes(const Node& node, bool transpose);

  int64_t group() const { return group_; }
  // The activation fused into a Conv at import (attribute `activation`, importer/
  // conv_fusion.py); None for ConvTranspose and for Convs read from a file.
  GemmActivation activation() const { return activation_; }

  // Inputs 0..2 of the node: X and W present, all float32, X/W shapes checked as
  // check_inputs does (ctx.fail / UnsupportedOperatorError otherwise).
  ConvOperands operands(const KernelContext& ctx) const;
  // B, when present, must be [maps].
  static void check_bias(const KernelContext& ctx, const Tensor* b, int64_t maps);

  // Checks X [N, C, spatial...] and W against the attributes (ctx.fail on mismatch).
  // Conv: W [M, C/group, k...]. ConvTranspose: W [C, M/group, k...].
  void check_inputs(const KernelContext& ctx, const Tensor& x, const Tensor& w) const;

  // Conv: image = input spatial dims, grid = output spatial dims.
  PatchGeometry conv_geometry(const KernelContext& ctx, const Shape& x, const Shape& w) const;
  // ConvTranspose: image = output spatial dims, grid = input spatial dims.
  PatchGeometry transpose_geometry(const KernelContext& ctx, const Shape& x,
                                   const Shape& w) const;

 private:
  // Per-axis attribute value for spatial axis i, or `dflt` when the attribute is absent.
  int64_t at(const std::vector<int64_t>& v, size_t i, int64_t dflt) const;
  void check_lengths(const KernelContext& ctx, size_t nd) const;
  // Fills the leading (unused) axes of a geometry with the identity.
  static PatchGeometry identity_geometry();

  bool transpose_;
  AutoPad auto_pad_ = AutoPad::NotSet;
  int64_t group_ = 1;
  GemmActivation activation_ = GemmActivation::None;
  std::vector<int64_t> kernel_shape_, strides_, dilations_, pads_, output_padding_,
      output_shape_;
};

// Columns per im2col/col2im chunk for a column matrix with `rows` rows and `cols` columns in
// total: chunking bounds the scratch memory (the full matrix of a 3x3 conv on a 56x56 map with
// 64 channels would be 7 MiB) while keeping each GEMM wide enough to run at full speed.
int64_t column_chunk(int64_t rows, int64_t cols);

// Sets each of `channels` planes of `plane` floats to act(its bias) (or 0 without a bias).
void fill_with_bias(float* y, int64_t channels, int64_t plane, const float* bias,
                    GemmActivation activation = GemmActivation::None);

}  // namespace tinyai
