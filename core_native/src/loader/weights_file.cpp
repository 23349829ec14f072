#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tinyai/errors.h"
#include "tinyai/weights_file.h"

namespace tinyai {

namespace {
constexpr char kMagic[8] = {'T', 'A', 'I', 'W', 'G', 'T', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kIndexEntrySize = 24;

template <typename T> T read_le(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the format is little endian, as is every target we build
  return v;
}

// Reads exactly n bytes at offset, retrying short reads; false on EOF or error.
bool pread_all(int fd, void* dst, size_t n, uint64_t offset) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}
}  // namespace

WeightsFile::WeightsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw ModelError("cannot open weights file '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    throw ModelError("cannot stat weights file '" + path + "'");
  }
  const uint64_t actual_size = static_cast<uint64_t>(st.st_size);
  auto fail = [&](const std::string& why) {
    ::close(fd_);
    fd_ = -1;
    throw ModelError("weights file '" + path + "' is invalid: " + why +
                     " (re-import the model to rebuild it)");
  };
  unsigned char header[kHeaderSize];
  if (actual_size < kHeaderSize || !pread_all(fd_, header, kHeaderSize, 0))
    fail("too short for a header");
  if (std::memcmp(header, kMagic, sizeof(kMagic)) != 0) fail("bad magic");
  if (read_le<uint32_t>(header + 8) != kVersion) fail("unsupported version");
  const uint32_t num_layers = read_le<uint32_t>(header + 12);
  const uint64_t index_offset = read_le<uint64_t>(header + 16);
  file_size_ = read_le<uint64_t>(header + 24);
  if (file_size_ != actual_size)
    fail("file is " + std::to_string(actual_size) + " bytes but its header says " +
         std::to_string(file_size_) + " (truncated?)");
  if (index_offset > file_size_ ||
      (file_size_ - index_offset) / kIndexEntrySize < static_cast<uint64_t>(num_layers))
    fail("index lies outside the file");
  std::vector<unsigned char> index(static_cast<size_t>(num_layers) * kIndexEntrySize);
  if (!index.empty() && !pread_all(fd_, index.data(), index.size(), index_offset))
    fail("cannot read index");
  blobs_.resize(num_layers);
  for (uint32_t i = 0; i < num_layers; ++i) {
    const unsigned char* e = index.data() + static_cast<size_t>(i) * kIndexEntrySize;
    WeightBlob b;
    b.offset = read_le<uint64_t>(e);
    b.nbytes = read_le<uint64_t>(e + 8);
    b.crc32 = read_le<uint32_t>(e + 16);
    if (b.offset > index_offset || b.nbytes > index_offset - b.offset)
      fail("layer " + std::to_string(i) + " blob lies outside the data region");
    blobs_[i] = b;
  }
}

WeightsFile::~WeightsFile() {
  if (fd_ >= 0) ::close(fd_);
}

void WeightsFile::read_blob(size_t layer, void* dst) const {
  const WeightBlob& b = blob(layer);
  if (b.nbytes == 0) return;
  if (!pread_all(fd_, dst, b.nbytes, b.offset))
    throw ModelError("cannot read layer " + std::to_string(layer) + " from '" + path_ +
                     "': " + std::strerror(errno));
  // The bytes now live in our tracked buffer; do not keep a second, unaccounted copy in the
  // page cache.
  ::posix_fadvise(fd_, static_cast<off_t>(b.offset), static_cast<off_t>(b.nbytes),
                  POSIX_FADV_DONTNEED);
  if (crc32_update(0, dst, b.nbytes) != b.crc32)
    throw ModelError("layer " + std::to_string(layer) + " of '" + path_ +
                     "' is corrupted (checksum mismatch); re-import the model");
}

}  // namespace tinyai
