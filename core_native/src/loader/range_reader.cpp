#include "loader/range_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <new>

#include "tinyai/errors.h"
#include "tinyai/weights_file.h"

namespace tinyai {

namespace {
constexpr uint64_t kPage = 4096;
// checksums() reads in 1 MiB steps: as fast as 8 MiB ones on this disk, and its scratch is
// resident only while it runs, on top of the weights (on a first run, near the budget).
constexpr uint64_t kChecksumChunkBytes = 1u << 20;

void advise(int fd, uint64_t offset, uint64_t nbytes, int advice) {
  // Rounded out to whole pages: a page shared with a neighbouring blob is dropped too (it is
  // clean; at worst it is read again), so no partial page lingers at blob boundaries.
  const uint64_t begin = offset / kPage * kPage;
  const uint64_t end = (offset + nbytes + kPage - 1) / kPage * kPage;
  ::posix_fadvise(fd, static_cast<off_t>(begin), static_cast<off_t>(end - begin), advice);
}

// GF(2) 32x32 matrix helpers for crc32_combine (as in zlib).
uint32_t gf2_times(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, ++mat)
    if (vec & 1) sum ^= *mat;
  return sum;
}

void gf2_square(uint32_t* square, const uint32_t* mat) {
  for (int n = 0; n < 32; ++n) square[n] = gf2_times(mat, mat[n]);
}
}  // namespace

uint64_t pread_full(int fd, void* dst, uint64_t nbytes, uint64_t offset) {
  auto* p = static_cast<unsigned char*>(dst);
  uint64_t done = 0;
  while (done < nbytes) {
    const ssize_t got = ::pread(fd, p + done, nbytes - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

uint32_t crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  if (len_b == 0) return crc_a;
  uint32_t even[32], odd[32];
  odd[0] = 0xEDB88320u;  // the operator for one zero bit
  for (int n = 1; n < 32; ++n) odd[n] = 1u << (n - 1);
  gf2_square(even, odd);  // two zero bits
  gf2_square(odd, even);  // four zero bits
  // Apply len_b zero bytes to crc_a, squaring the operator for each bit of the length.
  do {
    gf2_square(even, odd);
    if (len_b & 1) crc_a = gf2_times(even, crc_a);
    len_b >>= 1;
    if (len_b == 0) break;
    gf2_square(odd, even);
    if (len_b & 1) crc_a = gf2_times(odd, crc_a);
    len_b >>= 1;
  } while (len_b != 0);
  return crc_a ^ crc_b;
}

RangeReader::RangeReader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw ModelError("cannot open weights file '" + path + "': " + std::strerror(errno));
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);  // we say what to read ahead, exactly
  direct_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  if (direct_fd_ >= 0) {
    void* p = nullptr;
    if (::posix_memalign(&p, kDirectAlign, kDirectChunkBytes) == 0) {
      bounce_ = static_cast<unsigned char*>(p);
    } else {
      ::close(direct_fd_);
      direct_fd_ = -1;
    }
  }
}

RangeReader::~RangeReader() {
  if (fd_ >= 0) ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
  std::free(bounce_);
}

void RangeReader::read_failed(uint64_t n, uint64_t pos, int err) const {
  throw ModelError("cannot read " + std::to_string(n) + " bytes at offset " + std::to_string(pos) +
                   " of '" + path_ + "': " + (err ? std::strerror(err) : "unexpected end of file") +
                   " (re-import the model)");
}

uint32_t RangeReader::read(uint64_t offset, uint64_t nbytes, void* dst, uint32_t crc) const {
  auto* out = static_cast<unsigned char*>(dst);
  if (direct_fd_ >= 0 && nbytes > 0) {
    uint32_t c = crc;
    if (read_direct(offset, nbytes, out, &c)) return c;
    ::close(direct_fd_);  // refused (EINVAL): buffered from now on
    direct_fd_ = -1;
  }
  return read_buffered(offset, nbytes, out, crc);
}

uint32_t RangeReader::read_in_place(uint64_t offset, uint64_t nbytes, void* dst,
                                    uint32_t crc) const {
  auto* out = static_cast<unsigned char*>(dst);
  if (direct_fd_ < 0 || nbytes == 0 ||
      (reinterpret_cast<uintptr_t>(out) - offset) % kDirectAlign != 0)
    return read(offset, nbytes, dst, crc);
  const uint64_t end = offset + nbytes;
  unsigned char* const block0 = out - (offset % kDirectAlign);  // holds the file's aligned base
  const uint64_t base = offset / kDirectAlign * kDirectAlign;
  uint64_t pos = offset;  // next byte to checksum
  while (pos < end) {
    const uint64_t at = pos / kDirectAlign * kDirectAlign;
    const uint64_t want = std::min<uint64_t>(
        kDirectChunkBytes, (end - at + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
    ssize_t got;
    do {
      got = ::pread(direct_fd_, block0 + (at - base), want, static_cast<off_t>(at));
    } while (got < 0 && errno == EINTR);
    if (got < 0 && errno == EINVAL && pos == offset) {
      ::close(direct_fd_);  // refused: buffered from now on
      direct_fd_ = -1;
      return read_buffered(offset, nbytes, out, crc);
    }
    if (got < 0) read_failed(want, at, errno);
    const uint64_t have = static_cast<uint64_t>(got);
    if (have <= pos - at) read_failed(end - pos, pos, 0);  // end of file before the range ends
    const uint64_t n = std::min(end, at + have) - pos;
    // Checksummed chunk by chunk, while the next chunk has not been asked for yet: the disk
    // idles for the CRC (about 1/15 of the read at 14 GB/s), which keeps this path simple.
    crc = crc32_update(crc, out + (pos - offset), n);
    pos += n;
  }
  return crc;
}

std::vector<uint32_t> RangeReader::checksums(
    const std::vector<std::pair<uint64_t, uint64_t>>& ranges) const {
  struct Scratch {  // page-aligned (O_DIRECT), unmapped however we leave
    void* p = ::mmap(nullptr, kChecksumChunkBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ~Scratch() {
      if (p != MAP_FAILED) ::munmap(p, kChecksumChunkBytes);
    }
  } scratch;
  if (scratch.p == MAP_FAILED) throw std::bad_alloc();
  auto* buf = static_cast<unsigned char*>(scratch.p);
  std::vector<uint32_t> crcs;
  for (const auto& range : ranges) {
    const uint64_t end = range.first + range.second;
    uint64_t pos = range.first;  // next byte to checksum
    uint32_t crc = 0;
    while (pos < end) {
      if (direct_fd_ >= 0) {
        const uint64_t base = pos / kDirectAlign * kDirectAlign;
        const uint64_t want = std::min<uint64_t>(
            kChecksumChunkBytes, (end - base + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
        ssize_t got;
        do {
          got = ::pread(direct_fd_, buf, want, static_cast<off_t>(base));
        } while (got < 0 && errno == EINTR);
        if (got < 0 && errno == EINVAL) {  // refused: buffered from now on, same position
          ::close(direct_fd_);
          direct_fd_ = -1;
          continue;
        }
        if (got < 0) read_failed(want, base, errno);
        const uint64_t have = static_cast<uint64_t>(got);
        if (have <= pos - base) read_failed(end - pos, pos, 0);  // end of file before the range
        const uint64_t n = std::min(end, base + have) - pos;
        crc = crc32_update(crc, buf + (pos - base), n);
        pos += n;
      } else {
        const uint64_t n = std::min<uint64_t>(kChecksumChunkBytes, end - pos);
        errno = 0;
        if (pread_full(fd_, buf, n, pos) != n) read_failed(n, pos, errno);
        crc = crc32_update(crc, buf, n);
        advise(fd_, pos, n, POSIX_FADV_DONTNEED);
        pos += n;
      }
    }
    crcs.push_back(crc);
  }
  return crcs;
}

bool RangeReader::read_direct(uint64_t offset, uint64_t nbytes, unsigned char* out,
                              uint32_t* crc) const {
  const uint64_t end = offset + nbytes;
  uint64_t pos = offset;  // next byte to deliver
  while (pos < end) {
    // Aligned window around [pos, ...): the disk reads whole blocks; we keep the part asked for.
    const uint64_t base = pos / kDirectAlign * kDirectAlign;
    const uint64_t want = std::min<uint64_t>(kDirectChunkBytes,
                                             (end - base + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
    ssize_t got;
    do {
      got = ::pread(direct_fd_, bounce_, want, static_cast<off_t>(base));
    } while (got < 0 && errno == EINTR);
    if (got < 0 && errno == EINVAL && pos == offset) return false;
    if (got < 0) read_failed(want, base, errno);
    const uint64_t have = static_cast<uint64_t>(got);
    if (have <= pos - base) read_failed(end - pos, pos, 0);  // end of file before the range ends
    const uint64_t n = std::min(end, base + have) - pos;
    // Copy and checksum in 256 KiB steps, so the CRC reads what the copy just left in cache.
    for (uint64_t done = 0; done < n;) {
      const uint64_t step = std::min<uint64_t>(256u << 10, n - done);
      std::memcpy(out + (pos - offset) + done, bounce_ + (pos - base) + done, step);
      *crc = crc32_update(*crc, out + (pos - offset) + done, step);
      done += step;
    }
    pos += n;
  }
  return true;
}

uint32_t RangeReader::read_buffered(uint64_t offset, uint64_t nbytes, unsigned char* out,
                                    uint32_t crc) const {
  const uint64_t end = offset + nbytes;
  // Slices end on page boundaries, so dropping one slice's pages never drops the next's.
  auto slice_end = [end](uint64_t from) {
    const uint64_t aligned = (from + kSliceBytes) / kPage * kPage;
    return std::min(end, aligned > from ? aligned : from + kSliceBytes);
  };
  uint64_t pos = offset, stop = slice_end(pos);
  if (nbytes > 0) advise(fd_, pos, stop - pos, POSIX_FADV_WILLNEED);
  while (pos < end) {
    const uint64_t next_stop = stop < end ? slice_end(stop) : end;
    if (stop < end) advise(fd_, stop, next_stop - stop, POSIX_FADV_WILLNEED);
    const uint64_t n = stop - pos;
    errno = 0;
    if (pread_full(fd_, out + (pos - offset), n, pos) != n) read_failed(n, pos, errno);
    crc = crc32_update(crc, out + (pos - offset), n);
    advise(fd_, pos, n, POSIX_FADV_DONTNEED);
    pos = stop;
    stop = next_stop;
  }
  return crc;
}

}  // namespace tinyai
