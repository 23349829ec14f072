#include "loader/io_probe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "loader/range_reader.h"

namespace tinyai {

namespace {
constexpr size_t kDirectAlignment = 4096;  // satisfies O_DIRECT on every Linux block device

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

uint64_t file_size(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}
}  // namespace

ReadProbe probe_sequential_read(const std::string& path, bool direct, size_t block_bytes,
                                uint64_t max_bytes) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (f.fd < 0) fail(direct ? "cannot open with O_DIRECT" : "cannot open", path);
  const size_t block =
      std::max(kDirectAlignment, (block_bytes + kDirectAlignment - 1) / kDirectAlignment *
                                     kDirectAlignment);
  std::unique_ptr<void, decltype(&std::free)> buf(std::aligned_alloc(kDirectAlignment, block),
                                                  &std::free);
  if (!buf) throw std::bad_alloc();
  uint64_t total = file_size(f.fd);
  if (max_bytes) total = std::min(total, max_bytes);
  ReadProbe r;
  r.direct = direct;
  const auto t0 = std::chrono::steady_clock::now();
  while (r.bytes < total) {
    // O_DIRECT lengths must be block multiples; the read simply stops short at end of file.
    errno = 0;
    const uint64_t got = pread_full(f.fd, buf.get(), block, r.bytes);
    if (got == 0) {
      if (errno) fail("cannot read", path);
      break;
    }
    r.bytes += std::min<uint64_t>(got, total - r.bytes);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

bool drop_page_cache(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return false;
  return ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
}

uint64_t page_cache_bytes(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail("cannot open", path);
  const uint64_t size = file_size(f.fd);
  if (size == 0) return 0;
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, f.fd, 0);
  if (map == MAP_FAILED) fail("cannot map", path);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((size + page - 1) / page);
  const int rc = ::mincore(map, size, vec.data());
  ::munmap(map, size);
  if (rc != 0) fail("mincore failed on", path);
  uint64_t resident = 0;
  for (size_t i = 0; i < vec.size(); ++i)
    if (vec[i] & 1) resident += std::min<uint64_t>(page, size - i * page);
  return resident;
}

}  // namespace tinyai
