#include "simd/standalone.h"

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/matmul/gemm.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

namespace {

ThreadPool* pool_for(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lock(mutex);
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return p.get();
}

}  // namespace

void standalone_matmul(const SessionConfig& config, const float* A, const float* B, float* C,
                       int64_t M, int64_t N, int64_t K) {
  const GemmRuntime rt = gemm_runtime(config, pool_for(config.threads), SimdOp::MatrixMul);
  // Uninitialised, as ctx.scratch() is: zeroing it would be timed as GEMM work.
  std::unique_ptr<char[]> workspace(new char[sgemm_workspace_bytes(rt, M, N, K)]);
  sgemm(rt, false, false, M, N, K, 1.f, A, K, B, N, 0.f, C, N, workspace.get());
}

void standalone_activation(const SessionConfig& config, ActKind kind, ActParams params,
                           const float* x, float* y, int64_t n) {
  activation_map(pool_for(config.threads), select_isa(config, SimdOp::Activation), kind, params,
                 x, y, n);
}

void standalone_softmax_rows(const SessionConfig& config, const float* x, float* y,
                             int64_t rows, int64_t n, bool log) {
  const ActivationKernels& k = activation_kernels(select_isa(config, SimdOp::Activation));
  for (int64_t r = 0; r < rows; ++r) k.softmax_row(x + r * n, y + r * n, n, log);
}

ParallelForReport standalone_parallel_for(int threads, int64_t n, int64_t grain,
                                          int64_t throw_at) {
  ThreadPool* pool = pool_for(threads);
  ParallelForReport r;
  r.pool_size = pool->size();
  r.visits.assign(static_cast<size_t>(n > 0 ? n : 0), 0);
  std::mutex mutex;
  pool->parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      r.chunk_lengths.push_back(end - begin);
      for (int64_t i = begin; i < end; ++i) ++r.visits[static_cast<size_t>(i)];
    }
    if (throw_at >= begin && throw_at < end)
      throw std::runtime_error("chunk [" + std::to_string(begin) + ", " + std::to_string(end) +
                               ") failed on purpose");
  });
  return r;
}

GemmBlockingInfo standalone_gemm_info(const SessionConfig& config, int64_t M, int64_t N,
                                      int64_t K) {
  const GemmRuntime rt = gemm_runtime(config, nullptr, SimdOp::MatrixMul);
  const GemmPlanInfo p = gemm_plan_info(rt);
  GemmBlockingInfo info;
  info.isa = isa_name(rt.isa);
  info.mr = p.mr;
  info.nr = p.nr;
  info.mc = p.mc;
  info.kc = p.kc;
  info.nc = p.nc;
  info.estimate = estimate_gemm_cache(rt.isa, M, N, K, p.mc, p.kc, p.nc, p.mr, p.nr, true);
  return info;
}

}  // namespace tinyai
