// The gather family: Gather (whole slices along an axis), GatherElements (element-wise
// along an axis) and GatherND (index tuples addressing slices, with batch dims).
#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

// Reads indices as int64, wrapping negatives against `dim`; fails on out-of-range values.
std::vector<int64_t> checked_indices(const KernelContext& ctx, const Tensor& t, int64_t dim) {
  require_dtype(ctx.node(), t, {DType::Int64, DType::Int32}, "indices");
  std::vector<int64_t> idx = tensor_to_int64s(t);
  for (int64_t& i : idx) {
    const int64_t raw = i;
    if (i < 0) i += dim;
    if (i < 0 || i >= dim)
      ctx.fail("index " + std::to_string(raw) + " is out of range for a dimension of size " +
               std::to_string(dim));
  }
  return idx;
}

class GatherKernel : public OpKernel {
 public:
  explicit GatherKernel(const Node& node) : axis_(node.attr_int("axis", 0)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    const auto axis = static_cast<size_t>(normalize_axis(ctx.node(), axis_, x.rank()));
    const int64_t dim = x.shape[axis];
    const std::vector<int64_t> idx = checked_indices(ctx, ind, dim);
    Shape out(x.shape.begin(), x.shape.begin() + static_cast<std::ptrdiff_t>(axis));
    out.insert(out.end(), ind.shape.begin(), ind.shape.end());
    out.insert(out.end(), x.shape.begin() + static_cast<std::ptrdiff_t>(axis) + 1, x.shape.end());
    Tensor& y = ctx.output(0, x.dtype, out);
    const int64_t outer = dims_product(x.shape, 0, axis);
    const auto slice =
        static_cast<size_t>(dims_product(x.shape, axis + 1, x.shape.size())) * dtype_size(x.dtype);
    const auto* src = static_cast<const char*>(x.data);
    auto* dst = static_cast<char*>(y.data);
    for (int64_t o = 0; o < outer; ++o) {
      const char* base = src + static_cast<size_t>(o * dim) * slice;
      for (int64_t i : idx) {
        copy_bytes(dst, base + static_cast<size_t>(i) * slice, slice);
        dst += slice;
      }
    }
  }

 private:
  int64_t axis_;
};

template <typename T>
void gather_elements(const T* src, T* dst, const Shape& xshape, const Shape& ishape, size_t axis,
                     const std::vector<int64_t>& idx) {
  const std::vector<int64_t> xs = contiguous_strides(xshape);
  const size_t r = ishape.size();
  const int64_t n = shape_numel(ishape);
  std::vector<int64_t> pos(r, 0);
  int64_t base = 0;  // data offset of `pos` ignoring the axis coordinate
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = src[base + idx[static_cast<size_t>(i)] * xs[axis]];
    for (size_t d = r; d-- > 0;) {
      if (d != axis) base += xs[d];
      if (++pos[d] < ishape[d]) break;
      if (d != axis) base -= xs[d] * ishape[d];
      pos[d] = 0;
    }
  }
}

class GatherElementsKernel : public OpKernel {
 public:
  explicit GatherElementsKernel(const Node& node) : axis_(node.attr_int("axis", 0)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    const auto axis = static_cast<size_t>(normalize_axis(ctx.node(), axis_, x.rank()));
    if (ind.rank() != x.rank()) ctx.fail("indices and data must have the same rank");
    for (size_t d = 0; d < x.shape.size(); ++d)
      if (d != axis && ind.shape[d] > x.shape[d])
        ctx.fail("indices shape " + shape_str(ind.shape) + " exceeds data shape " +
                 shape_str(x.shape));
    const std::vector<int64_t> idx = checked_indices(ctx, ind, x.shape[axis]);
    Tensor& y = ctx.output(0, x.dtype, ind.shape);
    if (y.numel() == 0) return;
    switch (dtype_size(x.dtype)) {
      case 1:
        gather_elements(x.ptr<uint8_t>(), y.ptr<uint8_t>(), x.shape, ind.shape, axis, idx);
        break;
      case 4:
        gather_elements(x.ptr<uint32_t>(), y.ptr<uint32_t>(), x.shape, ind.shape, axis, idx);
        break;
      default:
        gather_elements(x.ptr<uint64_t>(), y.ptr<uint64_t>(), x.shape, ind.shape, axis, idx);
    }
  }

 private:
  int64_t axis_;
};

class GatherNDKernel : public OpKernel {
 public:
  explicit GatherNDKernel(const Node& node) : batch_dims_(node.attr_int("batch_dims", 0)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    require_dtype(ctx.node(), ind, {DType::Int64, DType::Int32}, "indices");
    const auto b = static_cast<size_t>(batch_dims_);
    const size_t r = x.shape.size(), q = ind.shape.size();
    if (batch_dims_ < 0 || q < 1 || b >= q || b >= r) ctx.fail("invalid batch_dims for ranks");
    const auto k = static_cast<size_t>(ind.shape[q - 1]);
    if (k < 1 || b + k > r)
      ctx.fail("index tuples of length " + std::to_string(k) + " do not fit data rank " +
               std::to_string(r));
    for (size_t d = 0; d < b; ++d)
      if (x.shape[d] != ind.shape[d]) ctx.fail("batch dimensions of data and indices differ");

    Shape out(ind.shape.begin(), ind.shape.end() - 1);
    out.insert(out.end(), x.shape.begin() + static_cast<std::ptrdiff_t>(b + k), x.shape.end());
    Tensor& y = ctx.output(0, x.dtype, out);
    const std::vector<int64_t> idx = tensor_to_int64s(ind);
    const std::vector<int64_t> xs = contiguous_strides(x.shape);
    const int64_t batches = dims_product(x.shape, 0, b);
    const int64_t batch_stride = b > 0 ? xs[b - 1] : 0;
    const int64_t tuples_per_batch = dims_product(ind.shape, b, q - 1);
    const size_t es = dtype_size(x.dtype);
    const auto slice = static_cast<size_t>(dims_product(x.shape, b + k, r)) * es;
    const auto* src = static_cast<const char*>(x.data);
    auto* dst = static_cast<char*>(y.data);
    const int64_t* t = idx.data();
    for (int64_t bi = 0; bi < batches; ++bi) {
      for (int64_t j = 0; j < tuples_per_batch; ++j, t += k) {
        int64_t off = bi * batch_stride;
        for (size_t e = 0; e < k; ++e) {
          const int64_t dim = x.shape[b + e];
          const int64_t v = t[e] < 0 ? t[e] + dim : t[e];
          if (v < 0 || v >= dim)
            ctx.fail("index " + std::to_string(t[e]) + " is out of range for a dimension of size " +
                     std::to_string(dim));
          off += v * xs[b + e];
        }
        copy_bytes(dst, src + static_cast<size_t>(off) * es, slice);
        dst += slice;
      }
    }
  }

 private:
  int64_t batch_dims_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Gather", GatherKernel);
TINYAI_REGISTER_KERNEL("GatherElements", GatherElementsKernel);
TINYAI_REGISTER_KERNEL("GatherND", GatherNDKernel);

}  // namespace tinyai
