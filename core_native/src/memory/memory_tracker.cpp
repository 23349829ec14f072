#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "tinyai/memory.h"

namespace tinyai {

namespace {
std::atomic<int64_t> g_live_buffers{0};

// Buffers this large get their own mapping. Through malloc they came from the heap once
// glibc's adaptive mmap threshold had risen past them (it follows the largest block freed),
// and what was freed stayed in the heap: vgg19's streamed run ended at 247-285 MiB of RSS from
// run to run with the same tracked peak. A freed mapping goes to a small cache (below) instead
// of back to the OS, because the same sizes come back node after node and run after run
// (per-run scratch: unmapping them cost resnet50 26k page faults per inference). Under
// AddressSanitizer they stay with malloc, whose redzones catch overruns.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kOwnMappingBytes = ~size_t{0};
#else
constexpr size_t kOwnMappingBytes = size_t{1} << 20;
#endif
// What the cache may hold (process-wide, resident but not counted by any tracker): enough for
// the scratch of the largest node seen in the CNNs and transformers measured, so the steady
// state maps nothing.
constexpr size_t kCachedMappingBytes = size_t{32} << 20;

class MappingCache {
 public:
  // A mapping of at least `bytes`: the smallest cached one up to twice as long (a longer one
  // would keep its pages resident behind a smaller tracked buffer), else a new one. Its length
  // goes to `mapped`. Null when the address space is exhausted.
  void* take(size_t bytes, size_t& mapped) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      size_t best = free_.size();
      for (size_t i = 0; i < free_.size(); ++i)
        if (free_[i].second >= bytes && free_[i].second / 2 <= bytes &&
            (best == free_.size() || free_[i].second < free_[best].second))
          best = i;
      if (best < free_.size()) {
        void* p = free_[best].first;
        mapped = free_[best].second;
        cached_ -= mapped;
        free_[best] = free_.back();
        free_.pop_back();
        return p;
      }
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    mapped = bytes;
    return p;
  }

  // Keeps the mapping for the next take, dropping the smallest cached ones while they would
  // overflow the cache (large ones are the costly ones to fault in again).
  void give(void* p, size_t mapped) {
    std::vector<std::pair<void*, size_t>> drop;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (mapped > kCachedMappingBytes) {
        drop.push_back({p, mapped});
      } else {
        if (cached_ + mapped > kCachedMappingBytes)  // smallest last, the first to go
          std::sort(free_.begin(), free_.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
        while (cached_ + mapped > kCachedMappingBytes && !free_.empty()) {
          cached_ -= free_.back().second;
          drop.push_back(free_.back());
          free_.pop_back();
        }
        free_.push_back({p, mapped});
        cached_ += mapped;
      }
    }
    for (const auto& d : drop) ::munmap(d.first, d.second);
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<void*, size_t>> free_;
  size_t cached_ = 0;
};

void raise_peak(std::atomic<int64_t>& peak, int64_t value) {
  int64_t seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

MappingCache& mapping_cache() {
  static MappingCache* cache = new MappingCache;  // never destroyed: buffers may outlive statics
  return *cache;
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
  if (rounded >= kOwnMappingBytes) {
    data_ = mapping_cache().take(rounded, mapped_);
    if (!data_) throw std::bad_alloc();
  } else {
    data_ = std::aligned_alloc(kTensorAlignment, rounded == 0 ? kTensorAlignment : rounded);
    if (!data_) throw std::bad_alloc();
  }
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
  else if (mapped_)
    mapping_cache().give(data_, mapped_);
  else
    std::free(data_);
  if (tracker_) tracker_->on_free(cat_, size_);
  g_live_buffers.fetch_sub(1, std::memory_order_relaxed);
}

int64_t live_buffer_count() { return g_live_buffers.load(); }

}  // namespace tinyai
