// Memory accounting: every byte the core holds for activations, weights and scratch is
// allocated through a MemoryTracker so that current and peak usage per category are exact.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace tinyai {

// Output = the graph outputs of a run, held until they are handed to the caller; they are
// not intermediates, so they are kept apart from the activation arena.
enum class MemCategory : int { Activation = 0, Weight = 1, Scratch = 2, Output = 3 };
constexpr int kNumMemCategories = 4;
constexpr size_t kTensorAlignment = 64;

struct MemorySnapshot {
  int64_t current[kNumMemCategories];
  int64_t peak[kNumMemCategories];
  int64_t total_current;
  int64_t total_peak;
};

// Lock-free counters; safe to read from another thread while a run allocates.
class MemoryTracker {
 public:
  MemoryTracker();
  void on_alloc(MemCategory cat, size_t bytes);
  void on_free(MemCategory cat, size_t bytes);
  MemorySnapshot snapshot() const;
  // Restart peak tracking from the current usage (e.g. at the start of a run).
  void reset_peaks();

 private:
  std::atomic<int64_t> current_[kNumMemCategories];
  std::atomic<int64_t> peak_[kNumMemCategories];
  std::atomic<int64_t> total_current_{0};
  std::atomic<int64_t> total_peak_{0};
};

// One aligned, tracked allocation. Freed (and uncounted) when the last owner drops it.
class Buffer {
 public:
  Buffer(std::shared_ptr<MemoryTracker> tracker, MemCategory cat, size_t bytes);
  // Tracked memory its owner placed itself (the progressive loader reads weights straight into
  // recycled, page-aligned memory): `release` hands it back when the last owner drops the
  // buffer. Counted like any other buffer.
  Buffer(std::shared_ptr<MemoryTracker> tracker, MemCategory cat, size_t bytes, void* data,
         std::function<void(void*)> release);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  MemCategory category() const { return cat_; }

 private:
  std::shared_ptr<MemoryTracker> tracker_;
  MemCategory cat_;
  size_t size_;
  void* data_;
  std::function<void(void*)> release_;  // empty: data_ came from aligned_alloc or mmap
  size_t mapped_ = 0;                    // the length of data_'s own mapping (0: malloc'd)
};

using BufferPtr = std::shared_ptr<Buffer>;

// Buffers alive in the whole process (all sessions): a leak check that does not depend on
// the C allocator returning memory to the OS.
int64_t live_buffer_count();

}  // namespace tinyai
