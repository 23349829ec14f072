// NonZero: coordinates of non-zero elements, [rank, count] int64; the count is only known
// after reading the data, so the output is sized at run time.
#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

template <typename T>
void nonzero(KernelContext& ctx, const Tensor& x) {
  const T* v = x.ptr<T>();
  const int64_t n = x.numel();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += v[i] != T(0);
  // A scalar behaves like a one-element vector (as in onnxruntime).
  const Shape shape = x.rank() == 0 ? Shape{1} : x.shape;
  const size_t r = shape.size();
  int64_t* y = ctx.output(0, DType::Int64, {static_cast<int64_t>(r), count}).ptr<int64_t>();
  std::vector<int64_t> pos(r, 0);
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] != T(0)) {
      for (size_t d = 0; d < r; ++d) y[static_cast<int64_t>(d) * count + k] = pos[d];
      ++k;
    }
    for (size_t d = r; d-- > 0;) {
      if (++pos[d] < shape[d]) break;
      pos[d] = 0;
    }
  }
}

class NonZeroKernel : public OpKernel {
 public:
  explicit NonZeroKernel(const Node&) {}
  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    switch (x.dtype) {
      case DType::Float32: nonzero<float>(ctx, x); break;
      case DType::Int32: nonzero<int32_t>(ctx, x); break;
      case DType::Int64: nonzero<int64_t>(ctx, x); break;
      case DType::Bool: nonzero<uint8_t>(ctx, x); break;
    }
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("NonZero", NonZeroKernel);

}  // namespace tinyai
