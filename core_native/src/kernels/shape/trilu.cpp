// Trilu: keep the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix.
#include <algorithm>
#include <cstring>

#include "kernels/shape/shape_common.h"

namespace tinyai {

namespace {

class TriluKernel : public OpKernel {
 public:
  explicit TriluKernel(const Node& node) : upper_(node.attr_int("upper", 1) != 0) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (x.rank() < 2) ctx.fail("needs an input of rank >= 2, got " + shape_str(x.shape));
    int64_t k = 0;
    if (const Tensor* kt = ctx.input(1)) {
      if (kt->numel() != 1) ctx.fail("k must be a scalar");
      k = tensor_to_int64s(*kt)[0];
    }
    Tensor& y = ctx.output(0, x.dtype, x.shape);
    const int64_t rows = x.dim(-2), cols = x.dim(-1);
    const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
    const size_t es = dtype_size(x.dtype);
    const auto* src = static_cast<const char*>(x.data);
    auto* dst = static_cast<char*>(y.data);
    for (int64_t m = 0; m < mats; ++m) {
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t off = (m * rows + i) * cols;
        // Kept columns form one contiguous range [keep_lo, keep_hi).
        const int64_t keep_lo = upper_ ? std::clamp<int64_t>(i + k, 0, cols) : 0;
        const int64_t keep_hi = upper_ ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
        char* row = dst + off * static_cast<int64_t>(es);
        std::memset(row, 0, static_cast<size_t>(cols) * es);
        if (keep_hi > keep_lo)
          std::memcpy(row + keep_lo * static_cast<int64_t>(es),
                      src + (off + keep_lo) * static_cast<int64_t>(es),
                      static_cast<size_t>(keep_hi - keep_lo) * es);
      }
    }
  }

 private:
  bool upper_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Trilu", TriluKernel);

}  // namespace tinyai
