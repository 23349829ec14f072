// Resize (opset 10+) and Upsample (opset 7-9): nearest for any dtype and rank, (multi-)linear
// for float32 by separable passes. Coordinate mapping follows onnxruntime so results match.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/shape/index_map_copy.h"
#include "kernels/shape/resize_linear.h"
#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

enum class CoordMode { HalfPixel, Asymmetric, AlignCorners, PytorchHalfPixel, TfHalfPixelForNN,
                       HalfPixelSymmetric };
enum class NearestMode { Simple, RoundPreferFloor, RoundPreferCeil, Floor, Ceil };
enum class AspectPolicy { Stretch, NotLarger, NotSmaller };

float original_coordinate(CoordMode m, float x, float scale, float out_len, float in_len) {
  switch (m) {
    case CoordMode::Asymmetric: return x / scale;
    case CoordMode::PytorchHalfPixel: return out_len > 1 ? (x + 0.5f) / scale - 0.5f : 0.f;
    case CoordMode::TfHalfPixelForNN: return (x + 0.5f) / scale;
    case CoordMode::AlignCorners: return out_len == 1 ? 0.f : x * (in_len - 1) / (out_len - 1);
    case CoordMode::HalfPixelSymmetric: {
      const float adjustment = out_len / (scale * in_len);
      const float offset = in_len / 2 * (1 - adjustment);
      return offset + (x + 0.5f) / scale - 0.5f;
    }
    case CoordMode::HalfPixel: break;
  }
  return (x + 0.5f) / scale - 0.5f;
}

int64_t nearest_index(NearestMode m, float x, bool downsampling) {
  switch (m) {
    case NearestMode::Simple:
      return downsampling ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
    case NearestMode::RoundPreferCeil: return static_cast<int64_t>(std::round(x));
    case NearestMode::Floor: return static_cast<int64_t>(std::floor(x));
    case NearestMode::Ceil: return static_cast<int64_t>(std::ceil(x));
    case NearestMode::RoundPreferFloor: break;
  }
  return x == std::floor(x) + 0.5f ? static_cast<int64_t>(std::floor(x))
                                   : static_cast<int64_t>(std::round(x));
}

class ResizeKernel : public OpKernel {
 public:
  explicit ResizeKernel(const Node& node) : opset_(effective_opset(node)) {
    const bool upsample = node.op_type == "Upsample";
    auto unsupported = [&](const std::string& why) {
      throw UnsupportedOperatorError(node.op_type, node.name, why);
    };
    if (upsample && opset_ < 7) unsupported("Upsample-1 (height_scale/width_scale) is not supported");
    const std::string mode = node.attr_string("mode", "nearest");
    if (mode == "nearest") linear_ = false;
    else if (mode == "linear" || mode == "bilinear") linear_ = true;
    else unsupported("mode '" + mode + "' (supported: nearest, linear)");

    if (upsample) {
      scales_from_attr_ = opset_ < 9;
      scales_attr_ = node.attr_floats("scales");
      scales_input_ = 1;
    } else if (opset_ < 11) {
      scales_input_ = 1;
    } else {
      scales_input_ = 2;
      sizes_input_ = 3;
      const std::string ct = node.attr_string("coordinate_transformation_mode", "half_pixel");
      if (ct == "half_pixel") coord_ = CoordMode::HalfPixel;
      else if (ct == "asymmetric") coord_ = CoordMode::Asymmetric;
      else if (ct == "align_corners") coord_ = CoordMode::AlignCorners;
      else if (ct == "pytorch_half_pixel") coord_ = CoordMode::PytorchHalfPixel;
      else if (ct == "tf_half_pixel_for_nn") coord_ = CoordMode::TfHalfPixelForNN;
      else if (ct == "half_pixel_symmetric") coord_ = CoordMode::HalfPixelSymmetric;
      else unsupported("coordinate_transformation_mode '" + ct + "'");
      const std::string nm = node.attr_string("nearest_mode", "round_prefer_floor");
      if (nm == "round_prefer_floor") nearest_ = NearestMode::RoundPreferFloor;
      else if (nm == "round_prefer_ceil") nearest_ = NearestMode::RoundPreferCeil;
      else if (nm == "floor") nearest_ = NearestMode::Floor;
      else if (nm == "ceil") nearest_ = NearestMode::Ceil;
      else unsupported("nearest_mode '" + nm + "'");
      if (node.attr_int("antialias", 0) != 0) unsupported("antialias=1");
      axes_ = node.attr_ints("axes");
      const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
      if (policy == "stretch") policy_ = AspectPolicy::Stretch;
      else if (policy == "not_larger") policy_ = AspectPolicy::NotLarger;
      else if (policy == "not_smaller") policy_ = AspectPolicy::NotSmaller;
      else unsupported("keep_aspect_ratio_policy '" + policy + "'");
    }
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const size_t r = x.shape.size();
    std::vector<float> scales(r, 1.f);
    Shape out = x.shape;
    resolve_output(ctx, x, &scales, &out);
    if (linear_) {
      require_dtype(ctx.node(), x, {DType::Float32}, "input (linear mode)");
      run_linear(ctx, x, scales, out);
    } else {
      run_nearest(ctx, x, scales, out);
    }
  }

 private:
  // Axes the scales/sizes inputs refer to (all, or the opset-18 `axes` attribute).
  std::vector<size_t> target_axes(const KernelContext& ctx, size_t rank) const {
    std::vector<size_t> axes;
    if (axes_.empty()) {
      for (size_t a = 0; a < rank; ++a) axes.push_back(a);
    } else {
      for (int64_t a : axes_)
        axes.push_back(static_cast<size_t>(normalize_axis(ctx.node(), a, static_cast<int64_t>(rank))));
    }
    return axes;
  }

  void resolve_output(const KernelContext& ctx, const Tensor& x, std::vector<float>* scales,
                      Shape* out) const {
    const std::vector<size_t> axes = target_axes(ctx, x.shape.size());
    std::vector<float> given;
    if (scales_from_attr_) {
      given = scales_attr_;
    } else if (const Tensor* s = ctx.input(scales_input_); s && s->numel() > 0) {
      if (s->dtype != DType::Float32) ctx.fail("scales must be float32");
      given.assign(s->ptr<float>(), s->ptr<float>() + s->numel());
    }
    if (!given.empty()) {
      if (given.size() != axes.size())
        ctx.fail("scales has " + std::to_string(given.size()) + " entries for " +
                 std::to_string(axes.size()) + " axes");
      for (size_t i = 0; i < axes.size(); ++i) {
        if (!(given[i] > 0)) ctx.fail("scales must be positive");
        (*scales)[axes[i]] = given[i];
        (*out)[axes[i]] =
            static_cast<int64_t>(given[i] * static_cast<float>(x.shape[axes[i]]));
      }
      return;
    }
    const Tensor* sz = sizes_input_ ? ctx.input(sizes_input_) : nullptr;
    if (!sz || sz->numel() == 0) ctx.fail("needs either scales or sizes");
    const std::vector<int64_t> sizes = tensor_to_int64s(*sz);
    if (sizes.size() != axes.size())
      ctx.fail("sizes has " + std::to_string(sizes.size()) + " entries for " +
               std::to_string(axes.size()) + " axes");
    for (size_t i = 0; i < axes.size(); ++i) (*out)[axes[i]] = sizes[i];
    if (policy_ != AspectPolicy::Stretch) {
      // One scale for all resized axes keeps the aspect ratio; coordinates use that scale.
      float common = policy_ == AspectPolicy::NotLarger ? std::numeric_limits<float>::max() : 0.f;
      for (size_t i = 0; i < axes.size(); ++i) {
        if (x.shape[axes[i]] == 0) ctx.fail("cannot keep the aspect ratio of an empty axis");
        const float s = static_cast<float>(sizes[i]) / static_cast<float>(x.shape[axes[i]]);
        common = policy_ == AspectPolicy::NotLarger ? std::min(common, s) : std::max(common, s);
      }
      for (size_t a : axes) {
        (*out)[a] = static_cast<int64_t>(std::round(common * static_cast<float>(x.shape[a])));
        (*scales)[a] = common;
      }
      return;
    }
    for (size_t a : axes) {
      if ((*out)[a] < 0) ctx.fail("negative output size");
      if (x.shape[a] == 0) {
        if ((*out)[a] != 0) ctx.fail("cannot resize an empty axis to a non-empty one");
        continue;
      }
      (*scales)[a] = static_cast<float>((*out)[a]) / static_cast<float>(x.shape[a]);
    }
  }

  float source_coordinate(int64_t o, float scale, int64_t out_len, int64_t in_len) const {
    return original_coordinate(coord_, static_cast<float>(o), scale, static_cast<float>(out_len),
                               static_cast<float>(in_len));
  }

  void run_nearest(KernelContext& ctx, const Tensor& x, const std::vector<float>& scales,
                   const Shape& out) const {
    std::vector<std::vector<int64_t>> maps(out.size());
    for (size_t a = 0; a < out.size(); ++a) {
      const int64_t in_len = x.shape[a];
      maps[a].resize(static_cast<size_t>(out[a]));
      // Unscaled axes are copied as is (onnxruntime does too, even for tf_half_pixel_for_nn
      // whose formula would shift them by half a pixel).
      const bool identity = scales[a] == 1.f;
      for (int64_t o = 0; o < out[a]; ++o) {
        if (identity) {
          maps[a][static_cast<size_t>(o)] = std::min(o, in_len - 1);
          continue;
        }
        const float c = source_coordinate(o, scales[a], out[a], in_len);
        const int64_t i = nearest_index(nearest_, c, scales[a] < 1);
        maps[a][static_cast<size_t>(o)] = std::clamp<int64_t>(i, 0, in_len - 1);
      }
    }
    Tensor& y = ctx.output(0, x.dtype, out);
    if (y.numel() == 0) return;
    index_map_copy(x.data, x.shape, y.data, maps, dtype_size(x.dtype), nullptr);
  }

  void run_linear(KernelContext& ctx, const Tensor& x, const std::vector<float>& scales,
                  const Shape& out) const {
    std::vector<size_t> passes;
    for (size_t a = 0; a < out.size(); ++a)
      if (scales[a] != 1.f || out[a] != x.shape[a]) passes.push_back(a);
    if (passes.empty()) {
      ctx.output_alias(0, 0, out);
      return;
    }
    Tensor& y = ctx.output(0, x.dtype, out);
    if (y.numel() == 0) return;
    // Intermediate shapes: axes resized so far take their output size.
    Shape cur = x.shape;
    int64_t biggest = 0;
    for (size_t p = 0; p + 1 < passes.size(); ++p) {
      cur[passes[p]] = out[passes[p]];
      biggest = std::max(biggest, shape_numel(cur));
    }
    float* bufs[2] = {nullptr, nullptr};
    if (passes.size() > 1)
      bufs[0] = static_cast<float*>(ctx.scratch(static_cast<size_t>(biggest) * sizeof(float)));
    if (passes.size() > 2)
      bufs[1] = static_cast<float*>(ctx.scratch(static_cast<size_t>(biggest) * sizeof(float)));

    cur = x.shape;
    const float* src = x.ptr<float>();
    for (size_t p = 0; p < passes.size(); ++p) {
      const size_t a = passes[p];
      const int64_t in_len = cur[a];
      LinearAxisTaps taps;
      for (int64_t o = 0; o < out[a]; ++o) {
        const float c = std::clamp(source_coordinate(o, scales[a], out[a], in_len), 0.f,
                                   static_cast<float>(in_len - 1));
        const int64_t i0 = std::min(static_cast<int64_t>(c), in_len - 1);
        taps.i0.push_back(i0);
        taps.i1.push_back(std::min(i0 + 1, in_len - 1));
        taps.w1.push_back(c - static_cast<float>(i0));
      }
      float* dst = p + 1 == passes.size() ? y.ptr<float>() : bufs[p % 2];
      resize_linear_axis(src, dst, dims_product(cur, 0, a), in_len,
                         dims_product(cur, a + 1, cur.size()), taps);
      cur[a] = out[a];
      src = dst;
    }
  }

  int opset_;
  bool linear_ = false;
  bool scales_from_attr_ = false;
  std::vector<float> scales_attr_;
  size_t scales_input_ = 1;
  size_t sizes_input_ = 0;  // 0: no sizes input
  CoordMode coord_ = CoordMode::Asymmetric;
  NearestMode nearest_ = NearestMode::Simple;
  AspectPolicy policy_ = AspectPolicy::Stretch;
  std::vector<int64_t> axes_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Resize", ResizeKernel);
TINYAI_REGISTER_KERNEL("Upsample", ResizeKernel);

}  // namespace tinyai
