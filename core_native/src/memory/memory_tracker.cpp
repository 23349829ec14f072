#include <cstdlib>
#include <new>

#include "tinyai/memory.h"

namespace tinyai {

namespace {
std::atomic<int64_t> g_live_buffers{0};

void raise_peak(std::atomic<int64_t>& peak, int64_t value) {
  int64_t seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}
}  // namespace

MemoryTracker::MemoryTracker() {
  for (int i = 0; i < kNumMemCategories; ++i) {
    current_[i].store(0);
    peak_[i].store(0);
  }
}

void MemoryTracker::on_alloc(MemCategory cat, size_t bytes) {
  const int c = static_cast<int>(cat);
  const auto n = static_cast<int64_t>(bytes);
  raise_peak(peak_[c], current_[c].fetch_add(n, std::memory_order_relaxed) + n);
  raise_peak(total_peak_, total_current_.fetch_add(n, std::memory_order_relaxed) + n);
}

void MemoryTracker::on_free(MemCategory cat, size_t bytes) {
  const auto n = static_cast<int64_t>(bytes);
  current_[static_cast<int>(cat)].fetch_sub(n, std::memory_order_relaxed);
  total_current_.fetch_sub(n, std::memory_order_relaxed);
}

MemorySnapshot MemoryTracker::snapshot() const {
  MemorySnapshot s{};
  for (int i = 0; i < kNumMemCategories; ++i) {
    s.current[i] = current_[i].load(std::memory_order_relaxed);
    s.peak[i] = peak_[i].load(std::memory_order_relaxed);
  }
  s.total_current = total_current_.load(std::memory_order_relaxed);
  s.total_peak = total_peak_.load(std::memory_order_relaxed);
  return s;
}

void MemoryTracker::reset_peaks() {
  for (int i = 0; i < kNumMemCategories; ++i) peak_[i].store(current_[i].load());
  total_peak_.store(total_current_.load());
}

Buffer::Buffer(std::shared_ptr<MemoryTracker> tracker, MemCategory cat, size_t bytes)
    : tracker_(std::move(tracker)), cat_(cat), size_(bytes), data_(nullptr) {
  // Round up so aligned_alloc's size contract holds; account the bytes actually reserved.
  const size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  data_ = std::aligned_alloc(kTensorAlignment, rounded == 0 ? kTensorAlignment : rounded);
  if (!data_) throw std::bad_alloc();
  size_ = bytes;
  if (tracker_) tracker_->on_alloc(cat_, bytes);
  g_live_buffers.fetch_add(1, std::memory_order_relaxed);
}

Buffer::Buffer(std::shared_ptr<MemoryTracker> tracker, MemCategory cat, size_t bytes, void* data,
               std::function<void(void*)> release)
    : tracker_(std::move(tracker)), cat_(cat), size_(bytes), data_(data), release_(std::move(release)) {
  if (tracker_) tracker_->on_alloc(cat_, bytes);
  g_live_buffers.fetch_add(1, std::memory_order_relaxed);
}

Buffer::~Buffer() {
  if (release_)
    release_(data_);
  else
    std::free(data_);
  if (tracker_) tracker_->on_free(cat_, size_);
  g_live_buffers.fetch_sub(1, std::memory_order_relaxed);
}

int64_t live_buffer_count() { return g_live_buffers.load(); }

}  // namespace tinyai
