// Pad: constant / reflect / edge / wrap, pads as attribute (opset < 11) or input, optional
// axes (opset 18), negative pads crop. Every mode is a per-axis index map.
#include <cstring>

#include "kernels/shape/index_map_copy.h"
#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

enum class PadMode { Constant, Reflect, Edge, Wrap };

// Output coordinate -> input coordinate along one axis (-1 = constant). Negative pads crop
// first; the remaining positive pads then reflect/replicate/wrap the cropped range, as
// onnxruntime and numpy do.
std::vector<int64_t> pad_axis_map(const KernelContext& ctx, PadMode mode, int64_t dim,
                                  int64_t before, int64_t after) {
  const int64_t lo = before < 0 ? -before : 0;
  const int64_t kept = dim - lo - (after < 0 ? -after : 0);
  if (kept < 0) ctx.fail("negative pads remove more than the whole axis");
  const int64_t pb = before > 0 ? before : 0, pa = after > 0 ? after : 0;
  if (kept == 0 && mode != PadMode::Constant && pb + pa > 0)
    ctx.fail("cannot pad an empty axis in this mode");
  std::vector<int64_t> map(static_cast<size_t>(kept + pb + pa));
  for (int64_t o = 0; o < static_cast<int64_t>(map.size()); ++o) {
    int64_t i = o - pb;
    if (i < 0 || i >= kept) {
      switch (mode) {
        case PadMode::Constant: i = -1; break;
        case PadMode::Edge: i = i < 0 ? 0 : kept - 1; break;
        case PadMode::Wrap: i = ((i % kept) + kept) % kept; break;
        case PadMode::Reflect: {
          if (kept == 1) {  // nothing to mirror: numpy repeats the element
            i = 0;
            break;
          }
          const int64_t period = 2 * (kept - 1);
          i = ((i % period) + period) % period;
          if (i >= kept) i = period - i;
          break;
        }
      }
    }
    map[static_cast<size_t>(o)] = i < 0 ? -1 : lo + i;
  }
  return map;
}

class PadKernel : public OpKernel {
 public:
  explicit PadKernel(const Node& node)
      : opset_(effective_opset(node)),
        pads_(node, opset_ < 2 ? "paddings" : "pads", 1, 11),
        value_attr_(node.attr_float("value", 0.f)) {
    const std::string mode = node.attr_string("mode", "constant");
    if (mode == "constant") mode_ = PadMode::Constant;
    else if (mode == "reflect") mode_ = PadMode::Reflect;
    else if (mode == "edge") mode_ = PadMode::Edge;
    else if (mode == "wrap") mode_ = PadMode::Wrap;
    else throw UnsupportedOperatorError(node.op_type, node.name, "mode '" + mode + "'");
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const size_t r = x.shape.size();
    std::vector<int64_t> pads;
    if (!pads_.get(ctx, &pads)) ctx.fail("missing pads");
    std::vector<int64_t> axes;
    const Tensor* axes_t = opset_ >= 18 ? ctx.input(3) : nullptr;
    if (axes_t) {
      for (int64_t a : tensor_to_int64s(*axes_t))
        axes.push_back(normalize_axis(ctx.node(), a, x.rank()));
    } else {
      for (size_t a = 0; a < r; ++a) axes.push_back(static_cast<int64_t>(a));
    }
    if (pads.size() != 2 * axes.size())
      ctx.fail("expected " + std::to_string(2 * axes.size()) + " pads for input " +
               shape_str(x.shape) + ", got " + std::to_string(pads.size()));
    std::vector<int64_t> before(r, 0), after(r, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      before[static_cast<size_t>(axes[i])] = pads[i];
      after[static_cast<size_t>(axes[i])] = pads[i + axes.size()];
    }

    std::vector<std::vector<int64_t>> maps(r);
    Shape out(r);
    for (size_t a = 0; a < r; ++a) {
      maps[a] = pad_axis_map(ctx, mode_, x.shape[a], before[a], after[a]);
      out[a] = static_cast<int64_t>(maps[a].size());
    }
    Tensor& y = ctx.output(0, x.dtype, out);
    if (y.numel() == 0) return;
    if (x.numel() == 0) {
      // Nothing to read: every output element is the constant.
      for (auto& m : maps) std::fill(m.begin(), m.end(), -1);
    }
    alignas(8) unsigned char fill[8] = {};
    constant_bytes(ctx, x.dtype, fill);
    index_map_copy(x.data, x.shape, y.data, maps, dtype_size(x.dtype), fill);
  }

 private:
  void constant_bytes(const KernelContext& ctx, DType dt, unsigned char* out) const {
    if (opset_ >= 11) {
      const Tensor* c = ctx.input(2);
      if (c && c->numel() > 0) {
        if (c->dtype != dt) ctx.fail("constant_value dtype differs from the data's");
        std::memcpy(out, c->data, dtype_size(dt));
      }
      return;
    }
    switch (dt) {
      case DType::Float32: std::memcpy(out, &value_attr_, 4); break;
      case DType::Int32: { const auto i = static_cast<int32_t>(value_attr_); std::memcpy(out, &i, 4); break; }
      case DType::Int64: { const auto i = static_cast<int64_t>(value_attr_); std::memcpy(out, &i, 8); break; }
      case DType::Bool: out[0] = value_attr_ != 0; break;
    }
  }

  int opset_;
  IntListArg pads_;
  float value_attr_;
  PadMode mode_ = PadMode::Constant;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Pad", PadKernel);

}  // namespace tinyai
