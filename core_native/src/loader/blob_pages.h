// Page-recycling memory for the progressive loader's blobs.
//
// Why: under a tight budget the loader replaces most of its cache every inference. With a blob
// per malloc/free, every new blob is fresh memory: the kernel zeroes and faults in each page,
// and the freed blob's pages are unmapped again -- in a profile (resnet50 at a 30 % budget)
// that was about half of the I/O thread's CPU time, taken from the compute threads on a
// 2-core machine.
//
// How: a blob is an anonymous mapping. When it is freed, its pages (already populated) go to a
// free list instead of back to the OS; a new blob is assembled from free-list segments by
// moving their page-table entries into one contiguous range with mremap(MREMAP_FIXED) -- no
// zeroing, no faults, no copy. Only the part the free list cannot cover is fresh memory.
//
// Alignment: a blob's data starts `phase` bytes into its first page, so a file range can be
// read into it with O_DIRECT straight from the disk (the file offset and the address agree
// modulo the page size; see RangeReader::read_in_place). The mapping covers whole pages.
//
// Memory: the free list is bounded by the caller (trim), which keeps the free pages plus the
// resident blobs within the weight budget. Thread-safe: blobs die on whatever thread drops
// their last reference.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace tinyai {

class BlobPages {
 public:
  static constexpr size_t kPage = 4096;

  BlobPages() = default;
  ~BlobPages();  // unmaps the free list (live blobs keep the pool alive through their release)
  BlobPages(const BlobPages&) = delete;
  BlobPages& operator=(const BlobPages&) = delete;

  struct Blob {
    char* data = nullptr;  // `phase` bytes into the first page
    size_t mapped = 0;     // whole pages from data - phase
  };
  // A blob of `nbytes` whose data starts `phase` (< kPage) bytes into a page; recycled pages
  // first. The blob's pages go back to the free list through release(data). Throws
  // std::bad_alloc when the address space is exhausted.
  Blob allocate(size_t nbytes, size_t phase);
  void release(void* data);

  // Unmaps free pages until at most `keep_bytes` remain (largest segments are kept: they are
  // the most useful and the fewest mappings).
  void trim(size_t keep_bytes);
  size_t free_bytes() const;
  // Bytes of the last allocations that came from recycled pages vs fresh ones (statistics).
  uint64_t recycled_bytes() const;
  uint64_t fresh_bytes() const;

 private:
  using Segment = std::pair<char*, size_t>;  // page-aligned, inside one mapping
  static void unmap(const Segment& s);

  mutable std::mutex mu_;
  std::vector<Segment> free_;                      // recycled pages, each segment one mapping
  std::vector<std::pair<char*, std::vector<Segment>>> live_;  // blob data -> its segments
  size_t free_bytes_ = 0;
  uint64_t recycled_ = 0, fresh_ = 0;
};

}  // namespace tinyai
