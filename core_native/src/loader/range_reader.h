// Byte-range reads of the weights file for the progressive loader.
//
// Where the file system allows it, ranges are read with O_DIRECT: the disk DMAs into an aligned
// bounce buffer and one copy (with the CRC right behind it, on cache-warm bytes) moves them to
// the destination. That bypasses the page cache entirely -- no page-cache insertion, eviction
// or fadvise per slice -- which was most of the I/O thread's CPU time once the CRC got fast;
// on a busy machine the thread's CPU share, not the disk, bounded the loader. The bounce
// buffer (kDirectChunkBytes) is the only untracked memory; reads are single-threaded (the
// loader's I/O thread). Elsewhere (tmpfs refuses O_DIRECT), the buffered path below is used.
//
// A range is read sequentially in slices: the kernel is asked to fetch slice k+1
// (POSIX_FADV_WILLNEED) while slice k is checksummed, so the CRC overlaps the disk; automatic
// read-ahead is off (POSIX_FADV_RANDOM) and every slice is dropped from the page cache once
// copied (rounded out to whole pages), so the page cache never holds more than about two
// slices of weights and nothing beyond the range is fetched. The loader's tracked buffer is the
// only lasting copy, and the memory budget means what it says.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tinyai {

class RangeReader {
 public:
  static constexpr uint64_t kSliceBytes = 8u << 20;
  static constexpr uint64_t kDirectChunkBytes = 8u << 20;
  static constexpr uint64_t kDirectAlign = 4096;  // covers every logical block size in use

  explicit RangeReader(const std::string& path);  // throws ModelError
  ~RangeReader();
  RangeReader(const RangeReader&) = delete;
  RangeReader& operator=(const RangeReader&) = delete;

  // Reads exactly `nbytes` at absolute `offset` into `dst` and returns the CRC-32 of those
  // bytes continued from `crc` (crc32_update semantics); throws ModelError on I/O errors.
  uint32_t read(uint64_t offset, uint64_t nbytes, void* dst, uint32_t crc = 0) const;
  // As read(), with the disk writing straight into `dst` (no bounce buffer, no copy): `dst`
  // lies at the same offset modulo kDirectAlign as `offset`, and the whole aligned blocks
  // around [dst, dst + nbytes) are writable (the bytes outside the range are overwritten with
  // the file's neighbouring bytes). Falls back to read() where O_DIRECT is unavailable.
  uint32_t read_in_place(uint64_t offset, uint64_t nbytes, void* dst, uint32_t crc = 0) const;
  // The CRC-32 of each range ({offset, nbytes}) without keeping the bytes: read in
  // 1 MiB steps through a scratch mapping that is unmapped on return, so a one-time
  // pass (deriving a split layer's piece CRCs) leaves no resident memory behind.
  std::vector<uint32_t> checksums(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) const;

  const std::string& path() const { return path_; }
  bool direct() const { return direct_fd_ >= 0; }

 private:
  uint32_t read_buffered(uint64_t offset, uint64_t nbytes, unsigned char* dst, uint32_t crc) const;
  // False if the file system refused O_DIRECT for this read (the caller falls back).
  bool read_direct(uint64_t offset, uint64_t nbytes, unsigned char* dst, uint32_t* crc) const;
  [[noreturn]] void read_failed(uint64_t n, uint64_t pos, int err) const;

  std::string path_;
  int fd_ = -1;
  mutable int direct_fd_ = -1;                // -1: O_DIRECT unavailable
  mutable unsigned char* bounce_ = nullptr;   // kDirectChunkBytes, kDirectAlign-aligned
};

// pread until `nbytes` are in or the file ends; returns the bytes read (errno set on error).
uint64_t pread_full(int fd, void* dst, uint64_t nbytes, uint64_t offset);

// CRC-32 of A followed by B, from crc(A), crc(B) and B's length (zlib's crc32_combine).
uint32_t crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

}  // namespace tinyai
