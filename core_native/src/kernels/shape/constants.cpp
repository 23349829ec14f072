// Ops whose output comes from attributes or from input metadata only: Constant,
// ConstantOfShape, Shape, Size.
#include <algorithm>
#include <cstring>

#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

// A small tensor held by value (from a Constant's or ConstantOfShape's attribute).
struct HostTensor {
  DType dtype = DType::Float32;
  Shape shape;
  std::vector<unsigned char> bytes;
};

HostTensor tensor_attr(const Node& node, const Attribute& a) {
  HostTensor t;
  if (!dtype_from_onnx(a.tensor_dtype, &t.dtype))
    throw UnsupportedOperatorError(node.op_type, node.name,
                                   "tensor attribute of dtype " + onnx_dtype_name(a.tensor_dtype) +
                                       "; the core supports float32, int64, int32 and bool");
  t.shape = a.tensor_shape;
  t.bytes = a.tensor_data;
  if (t.bytes.size() != static_cast<size_t>(shape_numel(t.shape)) * dtype_size(t.dtype))
    throw ModelError(node.op_type + " node '" + node.name + "': tensor attribute holds " +
                     std::to_string(t.bytes.size()) + " bytes for shape " + shape_str(t.shape));
  return t;
}

template <typename T>
HostTensor host_tensor(DType dt, Shape shape, const std::vector<T>& values) {
  HostTensor t;
  t.dtype = dt;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(T));
  copy_bytes(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

class ConstantKernel : public OpKernel {
 public:
  explicit ConstantKernel(const Node& node) {
    if (const Attribute* a = node.attr("value")) {
      value_ = tensor_attr(node, *a);
    } else if (const Attribute* f = node.attr("value_float")) {
      value_ = host_tensor(DType::Float32, {}, std::vector<float>{f->f});
    } else if (const Attribute* fs = node.attr("value_floats")) {
      value_ = host_tensor(DType::Float32, {static_cast<int64_t>(fs->floats.size())}, fs->floats);
    } else if (const Attribute* i = node.attr("value_int")) {
      value_ = host_tensor(DType::Int64, {}, std::vector<int64_t>{i->i});
    } else if (const Attribute* is = node.attr("value_ints")) {
      value_ = host_tensor(DType::Int64, {static_cast<int64_t>(is->ints.size())}, is->ints);
    } else {
      throw UnsupportedOperatorError(node.op_type, node.name,
                                     "only value, value_float(s) and value_int(s) are supported "
                                     "(not strings or sparse tensors)");
    }
  }

  void run(KernelContext& ctx) override {
    Tensor& y = ctx.output(0, value_.dtype, value_.shape);
    copy_bytes(y.data, value_.bytes.data(), value_.bytes.size());
  }

 private:
  HostTensor value_;
};

class ConstantOfShapeKernel : public OpKernel {
 public:
  explicit ConstantOfShapeKernel(const Node& node) {
    if (const Attribute* a = node.attr("value")) {
      value_ = tensor_attr(node, *a);
      if (shape_numel(value_.shape) != 1)
        throw ModelError("ConstantOfShape node '" + node.name + "': value must hold one element");
    } else {
      value_ = host_tensor(DType::Float32, {1}, std::vector<float>{0.f});
    }
  }

  void run(KernelContext& ctx) override {
    const Shape shape = required_int_input(ctx, 0, "input");
    for (int64_t d : shape)
      if (d < 0) ctx.fail("negative dimension in " + shape_str(shape));
    Tensor& y = ctx.output(0, value_.dtype, shape);
    const size_t es = dtype_size(value_.dtype);
    auto* dst = static_cast<unsigned char*>(y.data);
    const int64_t n = y.numel();
    if (es == 1) {
      std::fill(dst, dst + n, value_.bytes[0]);
      return;
    }
    // Doubling copies: log(n) memcpy calls regardless of the element size.
    if (n == 0) return;
    std::memcpy(dst, value_.bytes.data(), es);
    const auto total = static_cast<size_t>(n) * es;
    for (size_t done = es; done < total;) {
      const size_t chunk = std::min(done, total - done);
      std::memcpy(dst + done, dst, chunk);
      done += chunk;
    }
  }

 private:
  HostTensor value_;
};

class ShapeKernel : public OpKernel {
 public:
  explicit ShapeKernel(const Node& node)
      : start_(node.attr_int("start", 0)),
        end_(node.attr_int("end", INT64_MAX)),
        has_end_(node.has_attr("end")) {}

  void run(KernelContext& ctx) override {
    const Shape& s = ctx.input(0)->shape;
    const auto r = static_cast<int64_t>(s.size());
    int64_t b = start_ < 0 ? start_ + r : start_;
    int64_t e = has_end_ ? (end_ < 0 ? end_ + r : end_) : r;
    b = std::clamp<int64_t>(b, 0, r);
    e = std::clamp<int64_t>(e, 0, r);
    const int64_t n = std::max<int64_t>(0, e - b);
    Tensor& y = ctx.output(0, DType::Int64, {n});
    std::copy(s.begin() + b, s.begin() + b + n, y.ptr<int64_t>());
  }

 private:
  int64_t start_, end_;
  bool has_end_;
};

class SizeKernel : public OpKernel {
 public:
  explicit SizeKernel(const Node&) {}
  void run(KernelContext& ctx) override {
    ctx.output(0, DType::Int64, {}).ptr<int64_t>()[0] = ctx.input(0)->numel();
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Constant", ConstantKernel);
TINYAI_REGISTER_KERNEL("ConstantOfShape", ConstantOfShapeKernel);
TINYAI_REGISTER_KERNEL("Shape", ShapeKernel);
TINYAI_REGISTER_KERNEL("Size", SizeKernel);

}  // namespace tinyai
