// CPU cache statistics for cache_stats(): hardware counters through perf_event_open where
// the kernel allows it ("perf"), otherwise an estimate from a model of the GEMM tiling
// ("model"). The model counts, per GEMM call, the loads/stores the blocked kernel issues
// (L1 references), the cache lines that cannot be L1-resident under the chosen blocking (L1
// misses) and the lines that must come from memory (LLC misses); it was checked against
// valgrind's cachegrind on the same kernel and shapes (see tests/test_cache_stats.py).
#pragma once
#include <cstdint>
#include <string>

#include "simd/dispatch.h"

namespace tinyai {

struct CacheStats {
  std::string source;  // "perf" or "model"
  std::string detail;  // why the model is used (perf_event_open's error), or the events read
  int64_t l1_references = 0;
  int64_t l1_misses = 0;
  int64_t llc_references = 0;
  int64_t llc_misses = 0;
  int64_t gemm_calls = 0;    // GEMM calls the model saw (both sources)
  int64_t gemm_flops = 0;    // 2 * M * N * K summed
};

// The model's estimate for one blocked GEMM (also used by tests and the cachegrind check).
struct GemmCacheEstimate {
  double l1_references = 0, l1_misses = 0, llc_references = 0, llc_misses = 0;
};
GemmCacheEstimate estimate_gemm_cache(Isa isa, int64_t M, int64_t N, int64_t K, int64_t mc,
                                      int64_t kc, int64_t nc, int mr, int nr, bool beta_zero);

// Called by the GEMM dispatcher once per call: adds the model's estimate to the counters.
void cache_model_record_gemm(Isa isa, int64_t M, int64_t N, int64_t K, int64_t mc, int64_t kc,
                             int64_t nc, int mr, int nr, bool beta_zero);

// Counters since the last reset (process-wide; sessions run one at a time per process in
// the workbench). Perf counters, when available, cover the threads that run kernels.
CacheStats cache_stats();
void reset_cache_stats();

}  // namespace tinyai
