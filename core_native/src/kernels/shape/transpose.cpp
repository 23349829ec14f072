// Transpose, DepthToSpace and SpaceToDepth: all are a permutation of (possibly split) axes,
// executed by strided_copy (which blocks the inner 2-D transposes).
#include "kernels/shape/shape_common.h"
#include "kernels/shape/strided_copy.h"

namespace tinyai {

namespace {

// Copies x, viewed with `view_shape` (same element order), into the output with its axes
// permuted by `perm` (output axis i is view axis perm[i]).
void permute_into(KernelContext& ctx, const Tensor& x, const Shape& view_shape,
                  const std::vector<int64_t>& perm, const Shape& out_shape) {
  const std::vector<int64_t> vstrides = contiguous_strides(view_shape);
  Shape walk(perm.size());
  std::vector<int64_t> src_strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    walk[i] = view_shape[static_cast<size_t>(perm[i])];
    src_strides[i] = vstrides[static_cast<size_t>(perm[i])];
  }
  Tensor& y = ctx.output(0, x.dtype, out_shape);
  strided_copy(x.data, src_strides, y.data, contiguous_strides(walk), walk, dtype_size(x.dtype),
               ctx.pool());
}

class TransposeKernel : public OpKernel {
 public:
  explicit TransposeKernel(const Node& node) : perm_(node.attr_ints("perm")) {
    std::vector<bool> seen(perm_.size(), false);
    for (int64_t p : perm_) {
      if (p < 0 || p >= static_cast<int64_t>(perm_.size()) || seen[static_cast<size_t>(p)])
        throw ModelError("Transpose node '" + node.name + "': perm is not a permutation");
      seen[static_cast<size_t>(p)] = true;
    }
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> perm = perm_;
    if (perm.empty())
      for (int64_t i = x.rank(); i-- > 0;) perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != x.rank())
      ctx.fail("perm has " + std::to_string(perm.size()) + " entries but the input " +
               shape_str(x.shape) + " has rank " + std::to_string(x.rank()));
    Shape out(perm.size());
    // Axes of extent 1 do not affect the element order: if the others stay in order, the
    // transpose is a view.
    bool in_order = true;
    int64_t last = -1;
    for (size_t i = 0; i < perm.size(); ++i) {
      out[i] = x.shape[static_cast<size_t>(perm[i])];
      if (out[i] == 1) continue;
      if (perm[i] < last) in_order = false;
      last = perm[i];
    }
    if (in_order) {
      ctx.output_alias(0, 0, out);
      return;
    }
    permute_into(ctx, x, x.shape, perm, out);
  }

 private:
  std::vector<int64_t> perm_;
};

// DepthToSpace (DCR/CRD) and SpaceToDepth on NCHW.
class DepthSpaceKernel : public OpKernel {
 public:
  explicit DepthSpaceKernel(const Node& node)
      : to_space_(node.op_type == "DepthToSpace"), b_(node.attr_int("blocksize", 0)) {
    if (b_ <= 0)
      throw ModelError(node.op_type + " node '" + node.name + "': blocksize must be positive");
    const std::string mode = node.attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD")
      throw UnsupportedOperatorError(node.op_type, node.name, "mode '" + mode + "'");
    crd_ = mode == "CRD";
  }

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (x.rank() != 4) ctx.fail("expects a 4-D NCHW input, got " + shape_str(x.shape));
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], b = b_;
    if (to_space_) {
      if (c % (b * b) != 0)
        ctx.fail("channels " + std::to_string(c) + " are not divisible by blocksize^2");
      const int64_t oc = c / (b * b);
      if (crd_)
        permute_into(ctx, x, {n, oc, b, b, h, w}, {0, 1, 4, 2, 5, 3}, {n, oc, h * b, w * b});
      else
        permute_into(ctx, x, {n, b, b, oc, h, w}, {0, 3, 4, 1, 5, 2}, {n, oc, h * b, w * b});
    } else {
      if (h % b != 0 || w % b != 0)
        ctx.fail("spatial dims of " + shape_str(x.shape) + " are not divisible by blocksize");
      permute_into(ctx, x, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4},
                   {n, c * b * b, h / b, w / b});
    }
  }

 private:
  bool to_space_;
  bool crd_ = false;
  int64_t b_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Transpose", TransposeKernel);
TINYAI_REGISTER_KERNEL("DepthToSpace", DepthSpaceKernel);
TINYAI_REGISTER_KERNEL("SpaceToDepth", DepthSpaceKernel);

}  // namespace tinyai
