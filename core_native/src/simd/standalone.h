// Kernel entry points without a session, for tests and benchmarks: the same dispatch,
// blocking and threading a session's kernels get, driven by a SessionConfig. Thread pools
// are kept per thread count for the life of the process.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/activation/activation_simd.h"
#include "simd/cache_model.h"
#include "tinyai/config.h"

namespace tinyai {

// C[M x N] = A[M x K] * B[K x N] (row-major, contiguous) as the MATRIX_MUL family runs it.
void standalone_matmul(const SessionConfig& config, const float* A, const float* B, float* C,
                       int64_t M, int64_t N, int64_t K);

// y = f(x) as the ACTIVATION family runs it (level 0 / family off: the scalar reference is
// the caller's; here it falls back to the baseline build).
void standalone_activation(const SessionConfig& config, ActKind kind, ActParams params,
                           const float* x, float* y, int64_t n);
void standalone_softmax_rows(const SessionConfig& config, const float* x, float* y,
                             int64_t rows, int64_t n, bool log);

// Runs ThreadPool(threads).parallel_for(n, grain, ...) and reports how often each index was
// visited and the chunk lengths seen; the chunk starting at `throw_at` (if any) throws.
struct ParallelForReport {
  int pool_size = 0;
  std::vector<int> visits;
  std::vector<int64_t> chunk_lengths;
};
ParallelForReport standalone_parallel_for(int threads, int64_t n, int64_t grain,
                                          int64_t throw_at);

struct GemmBlockingInfo {
  const char* isa;
  int mr, nr;
  int64_t mc, kc, nc;
  GemmCacheEstimate estimate;  // the cache model's figures for this call
};
GemmBlockingInfo standalone_gemm_info(const SessionConfig& config, int64_t M, int64_t N,
                                      int64_t K);

}  // namespace tinyai
