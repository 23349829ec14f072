// A persistent pool: workers sleep on a condition variable between jobs (after a short spin,
// since kernels issue many small jobs back to back), take chunks of the current job from an
// atomic counter, and the calling thread works alongside them. One job at a time: a second
// caller (or a kernel calling parallel_for from inside a chunk) runs its loop inline.
//
// The caller waits only for workers that joined the job, never for one that has not woken
// up yet: on a loaded machine a descheduled worker would otherwise stall every job until the
// scheduler runs it again (measured: 2-thread runs slower than 1-thread ones under load). A
// worker joins by counting itself active and then checking the job is still open; the caller
// closes the job when the chunks are all taken and waits for the active count to reach 0.
// Both sides use sequentially consistent operations, so either the caller sees the worker's
// count or the worker sees the job closed and leaves without touching it.
#include "tinyai/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "simd/cpu_info.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TINYAI_CPU_RELAX() _mm_pause()
#else
#define TINYAI_CPU_RELAX() std::this_thread::yield()
#endif

namespace tinyai {

namespace {
thread_local bool t_inside_pool_job = false;
// Waiting first spins briefly with pause, then yields the core for a while, then sleeps. The
// yields keep a quiet machine's job-to-job latency at spin speed (yield returns at once when
// nothing else wants the core) while a loaded one gets the core back: pure spinning there
// burned the timeslices the other thread of the same run needed.
constexpr int kPauseIterations = 100;
constexpr int kYieldIterations = 200;
constexpr int64_t kChunksPerThread = 4;  // dynamic balance when a core is shared

// Returns when ready() holds or the spin-then-yield budget is spent (the caller then sleeps).
template <typename Ready>
void wait_briefly(Ready&& ready) {
  for (int i = 0; i < kPauseIterations; ++i) {
    if (ready()) return;
    TINYAI_CPU_RELAX();
  }
  for (int i = 0; i < kYieldIterations; ++i) {
    if (ready()) return;
    std::this_thread::yield();
  }
}
}  // namespace

int physical_core_count() { return cpu_info().physical_cores; }

struct ThreadPool::Impl {
  int size = 1;
  std::vector<std::thread> workers;

  std::mutex job_mutex;  // held by the caller for a whole job
  std::mutex mutex;      // guards generation / stop / the job description
  std::condition_variable wake, done;
  uint64_t generation = 0;
  bool stop = false;

  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, num_chunks = 0;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<int> active_workers{0};      // workers inside the current job
  std::atomic<uint64_t> open_generation{0};  // the job workers may still join (0: none)
  std::atomic<uint64_t> published{0};  // generation, readable without the mutex

  std::mutex error_mutex;
  std::exception_ptr error;

  void run_chunks() {
    for (;;) {
      const int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= num_chunks) return;
      const int64_t begin = n * c / num_chunks, end = n * (c + 1) / num_chunks;
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next_chunk.store(num_chunks, std::memory_order_relaxed);  // skip the rest
      }
    }
  }

  void worker_loop() {
    t_inside_pool_job = true;
    uint64_t seen = 0;
    for (;;) {
      wait_briefly([&] { return published.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      active_workers.fetch_add(1, std::memory_order_seq_cst);
      if (open_generation.load(std::memory_order_seq_cst) == seen) run_chunks();
      if (active_workers.fetch_sub(1, std::memory_order_seq_cst) == 1) {
        std::lock_guard<std::mutex> lock(mutex);
        done.notify_all();
      }
    }
  }
};

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>()) {
  impl_->size = threads > 0 ? threads : physical_core_count();
  impl_->workers.reserve(static_cast<size_t>(impl_->size - 1));
  for (int i = 1; i < impl_->size; ++i)
    impl_->workers.emplace_back([impl = impl_.get()] { impl->worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->workers) t.join();
}

int ThreadPool::size() const { return impl_->size; }

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min(std::max<int64_t>(n / grain, 1), kChunksPerThread * impl_->size);
  std::unique_lock<std::mutex> job(impl_->job_mutex, std::defer_lock);
  if (chunks == 1 || impl_->size == 1 || t_inside_pool_job || !job.try_lock()) {
    fn(0, n);
    return;
  }
  Impl& p = *impl_;
  p.fn = &fn;
  p.n = n;
  p.num_chunks = chunks;
  p.error = nullptr;
  p.next_chunk.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    ++p.generation;
    p.open_generation.store(p.generation, std::memory_order_seq_cst);
    p.published.store(p.generation, std::memory_order_release);
  }
  p.wake.notify_all();
  t_inside_pool_job = true;
  p.run_chunks();
  t_inside_pool_job = false;
  // Every chunk is taken: close the job, then wait for the workers that joined it (they may
  // still be running a chunk); the job description outlives all of them.
  p.open_generation.store(0, std::memory_order_seq_cst);
  wait_briefly([&] { return p.active_workers.load(std::memory_order_seq_cst) == 0; });
  {
    std::unique_lock<std::mutex> lock(p.mutex);
    p.done.wait(lock, [&] { return p.active_workers.load(std::memory_order_seq_cst) == 0; });
  }
  if (p.error) std::rethrow_exception(p.error);
}

}  // namespace tinyai
