// The progressive loader: a background I/O thread reads layer blobs from the weights file
// into a weight cache bounded by max_memory_usage, prefetching `prefetch_window` layers ahead
// of execution and evicting the unpinned layer whose next use is furthest away (lower
// priority first). TinyAI states and priorities.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tinyai/config.h"
#include "tinyai/memory.h"
#include "tinyai/weights_file.h"

namespace tinyai {

enum class LayerStatus : int { Unloaded = 0, Loading = 1, Loaded = 2, Error = 3 };
enum class LayerPriority : int { Low = 0, Medium = 1, High = 2, Critical = 3 };  // Critical = pinned

struct LoaderStats {
  int64_t hits = 0;             // acquire() found the layer resident
  int64_t misses = 0;           // acquire() had to wait for (or start) a read
  double stall_seconds = 0.0;   // time acquire() spent blocked on I/O
  int64_t bytes_read = 0;
  int64_t evictions = 0;
  int64_t resident_bytes = 0;   // weight cache size now
  int64_t peak_resident_bytes = 0;
  int current_window = 0;       // prefetch window in effect (adaptive may change it)
  double bandwidth_limit_mbps = 0.0;  // > 0: reads are throttled to emulate a slow disk
  std::vector<double> layer_load_seconds;  // last load time per layer (0 = never loaded)
  std::vector<int64_t> layer_hits;
  std::vector<int64_t> layer_misses;
};

class ProgressiveLoader {
 public:
  // `tracker` counts resident blobs as MemCategory::Weight.
  ProgressiveLoader(std::shared_ptr<WeightsFile> file, std::shared_ptr<MemoryTracker> tracker,
                    ProgressiveLoaderConfig config);
  ~ProgressiveLoader();  // stops and joins the I/O thread
  ProgressiveLoader(const ProgressiveLoader&) = delete;
  ProgressiveLoader& operator=(const ProgressiveLoader&) = delete;

  size_t num_layers() const;

  // The order in which one inference uses layers (a layer may appear more than once, e.g.
  // when a shared constant is read again later). Drives prefetch and furthest-next-use
  // eviction. Position indices below refer to this sequence.
  void set_execution_order(const std::vector<int>& layer_sequence);
  void set_config(const ProgressiveLoaderConfig& config);  // safe between acquires
  void set_bandwidth_limit_mbps(double mbps);              // 0 = unthrottled

  // Blocks until `layer` is resident (reading it now if needed), pins it until release(),
  // and schedules prefetch of the next window after `position`. Throws ModelError if the
  // layer cannot be loaded (corrupt blob, larger than the budget, I/O error) — the layer's
  // status becomes Error and the loader stays usable.
  BufferPtr acquire(int layer, size_t position);
  void release(int layer);

  // Seed API.
  bool load_layer(int layer);    // synchronous; false (status Error) on failure
  bool unload_layer(int layer);  // false if pinned or Critical
  LayerStatus layer_status(int layer) const;
  void set_layer_priority(int layer, LayerPriority priority);
  LayerPriority layer_priority(int layer) const;

  LoaderStats stats() const;
  void reset_stats();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinyai
