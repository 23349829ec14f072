// A persistent pool of worker threads for intra-op parallelism. Kernels split their work
// with parallel_for; the calling thread takes part, so a pool of size 1 runs inline.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace tinyai {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: the number of physical cores
  ~ThreadPool();                     // joins the workers
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Calls fn(begin, end) on disjoint chunks covering [0, n), each at least `grain` long
  // (except possibly the last), and returns when all chunks are done. Exceptions thrown by
  // fn are rethrown on the calling thread (the first one wins).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

int physical_core_count();

}  // namespace tinyai
