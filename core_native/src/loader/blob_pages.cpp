#include "loader/blob_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace tinyai {

namespace {
// A blob is assembled from at most this many recycled segments (each one mapping); beyond,
// fresh pages fill the rest, so the free list cannot fragment a blob into ever more mappings.
constexpr size_t kMaxSegmentsPerBlob = 32;

size_t round_up_pages(size_t n) {
  return (n + BlobPages::kPage - 1) / BlobPages::kPage * BlobPages::kPage;
}
}  // namespace

BlobPages::~BlobPages() {
  for (const Segment& s : free_) unmap(s);
}

void BlobPages::unmap(const Segment& s) { ::munmap(s.first, s.second); }

BlobPages::Blob BlobPages::allocate(size_t nbytes, size_t phase) {
  const size_t total = std::max(kPage, round_up_pages(phase % kPage + nbytes));
  std::vector<Segment> take;
  {
    std::lock_guard<std::mutex> lk(mu_);
    // Best fit: the smallest free segment that covers the whole blob (its prefix is taken).
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i)
      if (free_[i].second >= total && (best == free_.size() || free_[i].second < free_[best].second))
        best = i;
    if (best < free_.size()) {
      take.push_back({free_[best].first, total});
      if (free_[best].second == total) {
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
      } else {
        free_[best].first += total;
        free_[best].second -= total;
      }
    } else {
      // Otherwise the largest segments first: the fewest pieces.
      std::sort(free_.begin(), free_.end(),
                [](const Segment& a, const Segment& b) { return a.second > b.second; });
      size_t covered = 0, used = 0;
      while (used < free_.size() && covered < total && take.size() < kMaxSegmentsPerBlob) {
        take.push_back(free_[used++]);
        covered += take.back().second;
      }
      free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(used));
      if (covered > total) {  // give back the tail of the last one
        Segment& last = take.back();
        const size_t extra = covered - total;
        last.second -= extra;
        free_.push_back({last.first + last.second, extra});
      }
    }
    for (const Segment& s : take) free_bytes_ -= s.second;
  }
  // The destination range, then the recycled pages moved into its front (page tables move,
  // the pages' contents and physical memory stay).
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    std::lock_guard<std::mutex> lk(mu_);
    for (const Segment& s : take) {
      free_.push_back(s);
      free_bytes_ += s.second;
    }
    throw std::bad_alloc();
  }
  char* const dst = static_cast<char*>(base);
  std::vector<Segment> segs;
  size_t off = 0;
  uint64_t moved = 0;
  for (const Segment& s : take) {
    void* r = ::mremap(s.first, s.second, s.second, MREMAP_MAYMOVE | MREMAP_FIXED, dst + off);
    if (r == MAP_FAILED) {  // should not happen; the page is simply not recycled
      unmap(s);
      continue;
    }
    segs.push_back({dst + off, s.second});
    off += s.second;
    moved += s.second;
  }
  if (off < total) segs.push_back({dst + off, total - off});  // fresh pages
  char* const data = dst + phase % kPage;
  std::lock_guard<std::mutex> lk(mu_);
  try {
    live_.emplace_back(data, std::move(segs));
  } catch (...) {
    ::munmap(base, total);
    throw;
  }
  recycled_ += moved;
  fresh_ += total - off;
  return {data, total};
}

void BlobPages::release(void* data) {
  std::vector<Segment> segs;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = std::find_if(live_.begin(), live_.end(),
                         [data](const auto& e) { return e.first == data; });
  if (it == live_.end()) return;
  segs = std::move(it->second);
  *it = std::move(live_.back());
  live_.pop_back();
  try {
    free_.reserve(free_.size() + segs.size());
  } catch (...) {  // no room to remember them: give them back to the OS
    for (const Segment& s : segs) unmap(s);
    return;
  }
  for (const Segment& s : segs) {
    free_.push_back(s);
    free_bytes_ += s.second;
  }
}

void BlobPages::trim(size_t keep_bytes) {
  std::vector<Segment> drop;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (free_bytes_ <= keep_bytes) return;
    std::sort(free_.begin(), free_.end(),
              [](const Segment& a, const Segment& b) { return a.second > b.second; });
    while (free_bytes_ > keep_bytes && !free_.empty()) {
      Segment& s = free_.back();  // smallest
      const size_t excess = round_up_pages(free_bytes_ - keep_bytes);
      if (excess >= s.second) {
        drop.push_back(s);
        free_bytes_ -= s.second;
        free_.pop_back();
      } else {  // the tail of it is enough
        s.second -= excess;
        drop.push_back({s.first + s.second, excess});
        free_bytes_ -= excess;
      }
    }
  }
  for (const Segment& s : drop) unmap(s);
}

size_t BlobPages::free_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return free_bytes_;
}

uint64_t BlobPages::recycled_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return recycled_;
}

uint64_t BlobPages::fresh_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return fresh_;
}

}  // namespace tinyai
