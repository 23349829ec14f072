// The pooling row loops (max and sum of a strided input row into an accumulator row), one
// build per ISA (pool_rows_baseline.cpp, pool_rows_avx2.cpp, pool_rows_avx512.cpp) from
// the same plain loops in pool_rows_impl.h, chosen by pool_row_kernels(isa). Pooling
// follows the CONV family's SIMD switch: it is the other spatial-window op.
#pragma once
#include <cstdint>

#include "simd/dispatch.h"

namespace tinyai {

struct PoolRowKernels {
  // acc[i] = max(acc[i], src[i * stride]) for i < n (NaN in src leaves acc unchanged).
  void (*max)(float* acc, const float* src, int64_t n, int64_t stride);
  // acc[i] += src[i * stride] for i < n.
  void (*sum)(float* acc, const float* src, int64_t n, int64_t stride);
  // out[i] = max (sum) over r < nrows of rows[r][i], from lowest (0): one output row's
  // kernel rows folded in one pass.
  void (*max_rows)(float* out, const float* const* rows, int64_t nrows, int64_t n);
  void (*sum_rows)(float* out, const float* const* rows, int64_t nrows, int64_t n);
  // out[i] = max (sum) over k < kernel of col[i * stride + k * dilation], from lowest (0).
  void (*max_taps)(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                   int64_t dilation);
  void (*sum_taps)(float* out, const float* col, int64_t n, int64_t stride, int64_t kernel,
                   int64_t dilation);
};

// The table for `isa` (Scalar and Baseline share the portable build).
const PoolRowKernels& pool_row_kernels(Isa isa);

extern const PoolRowKernels kPoolRowsBaseline;
// Built on x86-64 only, with their own target flags (TINYAI_X86_KERNELS).
extern const PoolRowKernels kPoolRowsAvx2;
extern const PoolRowKernels kPoolRowsAvx512;

}  // namespace tinyai
