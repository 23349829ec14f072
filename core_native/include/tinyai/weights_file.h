// The weights file: every layer's constants in one contiguous, 64-byte-aligned blob with a
// CRC-32 per blob, so a layer loads with one read and corruption is detected.
//
// Layout (little endian):
//   [0, 64)   header: magic "TAIWGT01" | u32 version(=1) | u32 num_layers |
//             u64 index_offset | u64 file_size | zero padding
//   blobs     each starts at a multiple of 64
//   index     num_layers entries of { u64 offset, u64 nbytes, u32 crc32, u32 reserved }
// Tensor offsets in graph.json are absolute file offsets inside their layer's blob.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tinyai/memory.h"

namespace tinyai {

struct WeightBlob {
  uint64_t offset = 0;
  uint64_t nbytes = 0;
  uint32_t crc32 = 0;
};

uint32_t crc32_update(uint32_t crc, const void* data, size_t n);  // zlib-compatible
const char* crc32_kernel_name();  // the kernel crc32_update runs here: "pclmul" or "table"

class WeightsFile {
 public:
  // Opens the file and validates header and index; throws ModelError.
  explicit WeightsFile(const std::string& path);
  ~WeightsFile();
  WeightsFile(const WeightsFile&) = delete;
  WeightsFile& operator=(const WeightsFile&) = delete;

  size_t num_layers() const { return blobs_.size(); }
  const WeightBlob& blob(size_t layer) const { return blobs_.at(layer); }
  const std::string& path() const { return path_; }

  // Reads layer `layer`'s blob with one pread into `dst` (at least blob.nbytes), verifies the
  // checksum and drops the range from the page cache so resident weights are only ours.
  void read_blob(size_t layer, void* dst) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::vector<WeightBlob> blobs_;
};

}  // namespace tinyai
