// ConvTranspose (1-D, 2-D, 3-D; groups, strides, dilations, pads, output_padding,
// output_shape, auto_pad, optional bias): per group a GEMM W_g^T x X_g gives one column per
// input position, and col2im adds the columns into the output. The output starts as the bias,
// so positions no tap reaches (output_shape beyond the natural size) hold just the bias.
#include <algorithm>

#include "kernels/conv/conv_attributes.h"
#include "kernels/conv/im2col.h"
#include "kernels/matmul/gemm.h"
#include "tinyai/op.h"

namespace tinyai {

namespace {

class ConvTranspose final : public OpKernel {
 public:
  explicit ConvTranspose(const Node& node) : attrs_(node, /*transpose=*/true) {}

  void run(KernelContext& ctx) override {
    const ConvOperands in = attrs_.operands(ctx);
    const Tensor* x = &in.x;
    const Tensor* w = &in.w;
    const Tensor* b = in.b;
    const PatchGeometry geo = attrs_.transpose_geometry(ctx, x->shape, w->shape);

    const int64_t groups = attrs_.group();
    const int64_t batch = x->dim(0), channels = x->dim(1);
    const int64_t group_channels = channels / groups, group_maps = w->dim(1);
    const int64_t maps = group_maps * groups;
    ConvAttributes::check_bias(ctx, b, maps);
    Shape out_shape{batch, maps};
    for (int64_t i = 3 - (x->rank() - 2); i < 3; ++i) out_shape.push_back(geo.image[i]);
    Tensor& y = ctx.output(0, DType::Float32, out_shape);
    if (y.numel() == 0) return;

    const int64_t in_plane = geo.grid_size(), out_plane = geo.image_size();
    const float* bias = b ? b->ptr<float>() : nullptr;
    for (int64_t n = 0; n < batch; ++n)
      fill_with_bias(y.ptr<float>() + n * maps * out_plane, maps, out_plane, bias);
    if (in_plane == 0 || group_channels == 0) return;

    const int64_t rows = group_maps * geo.kernel_size();  // of the column matrix
    const bool direct = geo.is_identity();
    const int64_t chunk = direct ? in_plane : column_chunk(rows, in_plane);
    float* col = direct ? nullptr
                        : static_cast<float*>(ctx.scratch(static_cast<size_t>(rows * chunk) *
                                                          sizeof(float)));
    const GemmRuntime rt = gemm_runtime(ctx, SimdOp::Conv);
    void* workspace = ctx.scratch(sgemm_workspace_bytes(rt, rows, chunk, group_channels));

    for (int64_t n = 0; n < batch; ++n)
      for (int64_t g = 0; g < groups; ++g) {
        const float* x_g = x->ptr<float>() + (n * channels + g * group_channels) * in_plane;
        const float* w_g = w->ptr<float>() + g * group_channels * rows;
        float* y_g = y.ptr<float>() + (n * maps + g * group_maps) * out_plane;
        if (direct) {  // the columns are the output itself: accumulate onto the bias
          sgemm(rt, true, false, rows, in_plane, group_channels, 1.f, w_g, rows, x_g, in_plane,
                1.f, y_g, out_plane, workspace);
          continue;
        }
        for (int64_t j0 = 0; j0 < in_plane; j0 += chunk) {
          const int64_t cols = std::min(chunk, in_plane - j0);
          sgemm(rt, true, false, rows, cols, group_channels, 1.f, w_g, rows, x_g + j0, in_plane,
                0.f, col, cols, workspace);
          col2im_add(geo, group_maps, col, j0, cols, y_g);
        }
      }
  }

 private:
  ConvAttributes attrs_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("ConvTranspose", ConvTranspose);

}  // namespace tinyai
