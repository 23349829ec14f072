// The pooling ops: reducers plugged into PoolKernel.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/pool/pool_kernel.h"

namespace tinyai {

namespace {

struct MaxReducer {
  static constexpr bool kTracksArg = true;
  const PoolRowKernels* rows = &kPoolRowsBaseline;
  float best = 0.f;
  int64_t best_pos = -1;
  void begin() {
    best = std::numeric_limits<float>::lowest();
    best_pos = -1;
  }
  // Strict '>' keeps the first maximum, as onnxruntime does.
  void add(float v, int64_t pos) {
    if (v > best) {
      best = v;
      best_pos = pos;
    }
  }
  float finish(int64_t, int64_t) const { return best; }
  int64_t arg() const { return best_pos; }

  void row_init(float* acc, int64_t n) const {
    std::fill(acc, acc + n, std::numeric_limits<float>::lowest());
  }
  void row_add(float* acc, const float* src, int64_t n, int64_t stride) const {
    rows->max(acc, src, n, stride);
  }
  void fold_rows(float* out, const float* const* src, int64_t nrows, int64_t n) const {
    rows->max_rows(out, src, nrows, n);
  }
  void fold_taps(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                 int64_t dilation) const {
    rows->max_taps(out, col, n, stride, kernel, dilation);
  }
  void row_finish(float*, int64_t, int64_t, int64_t) const {}
  float reduce_plane(const float* x, int64_t n) const {
    const auto larger = [](float a, float v) { return v > a ? v : a; };
    return pool_reduce_lanes(x, n, std::numeric_limits<float>::lowest(), larger, larger);
  }
};

struct AverageReducer {
  static constexpr bool kTracksArg = false;
  const PoolRowKernels* rows = &kPoolRowsBaseline;
  bool count_include_pad = false;
  float sum = 0.f;
  void begin() { sum = 0.f; }
  void add(float v, int64_t) { sum += v; }
  float finish(int64_t valid, int64_t padded) const {
    const int64_t n = count_include_pad ? padded : valid;
    return n > 0 ? sum / static_cast<float>(n) : 0.f;
  }

  void row_init(float* acc, int64_t n) const { std::fill(acc, acc + n, 0.f); }
  void row_add(float* acc, const float* src, int64_t n, int64_t stride) const {
    rows->sum(acc, src, n, stride);
  }
  void fold_rows(float* out, const float* const* src, int64_t nrows, int64_t n) const {
    rows->sum_rows(out, src, nrows, n);
  }
  void fold_taps(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                 int64_t dilation) const {
    rows->sum_taps(out, col, n, stride, kernel, dilation);
  }
  void row_finish(float* acc, int64_t n, int64_t valid, int64_t padded) const {
    const int64_t count = count_include_pad ? padded : valid;
    const float scale = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
    for (int64_t i = 0; i < n; ++i) acc[i] *= scale;
  }
  float reduce_plane(const float* x, int64_t n) const {
    const auto plus = [](float a, float v) { return a + v; };
    const float sum = pool_reduce_lanes(x, n, 0.f, plus, plus);
    return n > 0 ? sum / static_cast<float>(n) : 0.f;
  }
};

struct LpReducer {
  static constexpr bool kTracksArg = false;
  const PoolRowKernels* rows = &kPoolRowsBaseline;
  float p = 2.f;
  float sum = 0.f;
  void begin() { sum = 0.f; }
  void add(float v, int64_t) {
    const float a = std::fabs(v);
    sum += p == 2.f ? a * a : (p == 1.f ? a : std::pow(a, p));
  }
  float finish(int64_t, int64_t) const { return root(sum); }

  void row_init(float* acc, int64_t n) const { std::fill(acc, acc + n, 0.f); }
  void row_add(float* acc, const float* src, int64_t n, int64_t stride) const {
    if (p == 2.f)
      pool_row_apply(acc, src, n, stride, [](float a, float v) { return a + v * v; });
    else if (p == 1.f)
      pool_row_apply(acc, src, n, stride, [](float a, float v) { return a + std::fabs(v); });
    else
      pool_row_apply(acc, src, n, stride,
                     [q = p](float a, float v) { return a + std::pow(std::fabs(v), q); });
  }
  // |v|^p is applied to inputs only: rows are transformed as they are added, taps are summed.
  void fold_rows(float* out, const float* const* src, int64_t nrows, int64_t n) const {
    row_init(out, n);
    for (int64_t r = 0; r < nrows; ++r) row_add(out, src[r], n, 1);
  }
  void fold_taps(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                 int64_t dilation) const {
    row_init(out, n);
    for (int64_t k = 0; k < kernel; ++k) rows->sum(out, col + k * dilation, n, stride);
  }
  void row_finish(float* acc, int64_t n, int64_t, int64_t) const {
    for (int64_t i = 0; i < n; ++i) acc[i] = root(acc[i]);
  }
  float reduce_plane(const float* x, int64_t n) const {
    const auto plus = [](float a, float v) { return a + v; };
    float sum;
    if (p == 2.f)
      sum = pool_reduce_lanes(x, n, 0.f, [](float a, float v) { return a + v * v; }, plus);
    else if (p == 1.f)
      sum = pool_reduce_lanes(x, n, 0.f, [](float a, float v) { return a + std::fabs(v); }, plus);
    else
      sum = pool_reduce_lanes(
          x, n, 0.f, [q = p](float a, float v) { return a + std::pow(std::fabs(v), q); }, plus);
    return root(sum);
  }

 private:
  float root(float s) const {
    return p == 2.f ? std::sqrt(s) : (p == 1.f ? s : std::pow(s, 1.f / p));
  }
};

AverageReducer average_reducer(const Node& node) {
  AverageReducer r;
  r.count_include_pad = node.attr_int("count_include_pad", 0) != 0;
  return r;
}

LpReducer lp_reducer(const Node& node) {
  LpReducer r;
  r.p = node.attr_float("p", 2.f);
  if (!(r.p > 0))
    throw ModelError(node.op_type + " node '" + node.name + "': p must be positive");
  return r;
}

class MaxPoolKernel : public PoolKernel<MaxReducer> {
 public:
  explicit MaxPoolKernel(const Node& node) : PoolKernel(node, false, MaxReducer{}) {}
};
class GlobalMaxPoolKernel : public PoolKernel<MaxReducer> {
 public:
  explicit GlobalMaxPoolKernel(const Node& node) : PoolKernel(node, true, MaxReducer{}) {}
};
class AveragePoolKernel : public PoolKernel<AverageReducer> {
 public:
  explicit AveragePoolKernel(const Node& node)
      : PoolKernel(node, false, average_reducer(node)) {}
};
class GlobalAveragePoolKernel : public PoolKernel<AverageReducer> {
 public:
  explicit GlobalAveragePoolKernel(const Node& node) : PoolKernel(node, true, AverageReducer{}) {}
};
class LpPoolKernel : public PoolKernel<LpReducer> {
 public:
  explicit LpPoolKernel(const Node& node) : PoolKernel(node, false, lp_reducer(node)) {}
};
class GlobalLpPoolKernel : public PoolKernel<LpReducer> {
 public:
  explicit GlobalLpPoolKernel(const Node& node) : PoolKernel(node, true, lp_reducer(node)) {}
};

}  // namespace

TINYAI_REGISTER_KERNEL("MaxPool", MaxPoolKernel);
TINYAI_REGISTER_KERNEL("GlobalMaxPool", GlobalMaxPoolKernel);
TINYAI_REGISTER_KERNEL("AveragePool", AveragePoolKernel);
TINYAI_REGISTER_KERNEL("GlobalAveragePool", GlobalAveragePoolKernel);
TINYAI_REGISTER_KERNEL("LpPool", LpPoolKernel);
TINYAI_REGISTER_KERNEL("GlobalLpPool", GlobalLpPoolKernel);

}  // namespace tinyai
