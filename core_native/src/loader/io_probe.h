// Storage measurements for the loader benchmark and tests: sequential read bandwidth with
// O_DIRECT (the disk itself) or through the page cache, and how much of a file the page cache
// holds (to check that loading weights leaves no unaccounted copy there).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tinyai {

struct ReadProbe {
  uint64_t bytes = 0;
  double seconds = 0.0;
  bool direct = false;  // O_DIRECT was used (false: buffered reads)
  double mb_per_s() const { return seconds > 0 ? bytes / seconds / 1e6 : 0.0; }
};

// Reads `path` sequentially in `block_bytes` chunks (at most `max_bytes`, 0 = whole file).
// direct = true opens with O_DIRECT and throws std::runtime_error where the file system
// refuses it (e.g. tmpfs).
ReadProbe probe_sequential_read(const std::string& path, bool direct, size_t block_bytes,
                                uint64_t max_bytes);

// Asks the kernel to drop the file's clean pages from the page cache. False if it cannot.
bool drop_page_cache(const std::string& path);

// Bytes of `path` currently resident in the page cache (mincore over a read-only mapping).
uint64_t page_cache_bytes(const std::string& path);

}  // namespace tinyai
