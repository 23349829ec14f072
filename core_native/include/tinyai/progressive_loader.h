// The progressive loader: background I/O threads (two, so a read is queued at the disk while
// the other thread checksums and sets up the next blob) read layer blobs from the weights file
// into a weight cache bounded by max_memory_usage, prefetching `prefetch_window` layers ahead
// of execution and evicting the unpinned layer whose next use is furthest away (lower
// priority first). TinyAI states and priorities.
//
// Cache units. A layer is normally one unit: its whole blob, read as one sequential range and
// checked against the file's CRC. A layer larger than the budget can be split into pieces
// (set_layer_pieces): each piece is then its own unit, checked against a per-piece CRC derived
// once from a streamed pass over the whole blob (itself checked against the file's CRC). The
// executor streams such a layer with acquire_piece/release_piece. Prefetch windows, next-use
// distances and hit counts are counted in units.
//
// I/O. Ranges are read in page-aligned slices with explicit read-ahead of the next slice (so
// the CRC overlaps the disk) and dropped from the page cache as they are copied: the tracked
// buffer is the only lasting copy of resident weights (see src/loader/range_reader.h).
//
// Threads. acquire/release/load_layer come from the executor thread; stats() may be called
// from any thread at any time and never waits for I/O (the lock is never held during a read);
// set_config/set_execution_order/set_layer_pieces belong between runs.
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

  // Added by the implementation.
  int64_t budget_bytes = 0;         // max_memory_usage in effect (0 = unlimited)
  int64_t prefetch_loads = 0;       // reads started by the prefetcher
  int64_t demand_loads = 0;         // reads started because a caller waited for them
  int64_t wasted_prefetches = 0;    // prefetched units evicted before anyone used them
  int64_t load_errors = 0;          // reads or budget checks that ended in status Error
  int64_t verify_bytes_read = 0;    // part of bytes_read spent deriving per-piece CRCs
  double io_busy_seconds = 0.0;     // time the I/O threads spent reading (incl. throttling; summed)
  int64_t recycled_bytes = 0;       // blob bytes placed on recycled pages (no zeroing, no faults;
                                    // since the loader was created, like fresh_blob_bytes)
  int64_t fresh_blob_bytes = 0;     // blob bytes on fresh pages from the OS
  int64_t free_page_bytes = 0;      // recycled pages waiting for the next blob (within the budget)
  int64_t position = -1;            // current position in the unit sequence (-1: none yet)
  int min_window = 0, max_window = 0;  // bounds of the adaptive window
  int64_t tracker_weight_bytes = 0;       // MemCategory::Weight as the tracker counts it
  int64_t tracker_weight_peak_bytes = 0;
  std::string storage;                    // "disk" or "emulated <x> MB/s disk (throttled)"
  std::vector<int> layer_status;           // LayerStatus per layer
  std::vector<int> layer_priority;         // LayerPriority per layer
  std::vector<int64_t> layer_bytes;        // blob size per layer
  std::vector<int64_t> layer_resident_bytes;
  // Residency plan (see src/loader/residency_plan.h): with the adaptive window on under a
  // budget, the loader keeps a planned set of units resident across inferences and streams
  // the rest, planned from the measured compute between acquisitions and the disk's rate.
  bool plan_active = false;
  int64_t planned_resident_bytes = 0;     // bytes the plan keeps (CRITICAL layers included)
  double plan_predicted_seconds = 0.0;    // one inference under the plan, as simulated
  double plan_stream_all_seconds = 0.0;   // the same keeping nothing: what the plan saves
  double disk_mb_per_s = 0.0;             // the rate planned with (emulated, or measured)
  double disk_busy_seconds = 0.0;         // time at least one read was in flight (since the
                                          // loader was created or the bandwidth limit changed)
  std::vector<int64_t> layer_planned_bytes;  // per layer: bytes the plan keeps
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
  // eviction. Position indices below refer to this sequence. Until it is set the order is
  // 0, 1, ..., num_layers-1. The sequence is cyclic: after its end, prefetch continues with
  // the start of the next inference.
  void set_execution_order(const std::vector<int>& layer_sequence);
  void set_config(const ProgressiveLoaderConfig& config);  // safe between acquires
  void set_bandwidth_limit_mbps(double mbps);              // 0 = unthrottled

  // Blocks until `layer` is resident (reading it now if needed), pins it until release(),
  // and schedules prefetch of the next window after `position`. Throws ModelError if the
  // layer cannot be loaded (corrupt blob, I/O error) and BudgetError (minimum_bytes = what
  // would fit it) if it is larger than the budget or the pinned/CRITICAL layers leave no
  // room — the layer's status becomes Error and the loader stays usable; a later acquire
  // retries. Returns null for a layer without weights. A position outside the sequence is
  // taken modulo its length. The caller must drop the returned pointer before release():
  // after release the loader may evict the layer and its bytes must really be freed.
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

  // Added by the implementation.
  // Names used in error messages (optional; defaults to "layer <i>").
  void set_layer_names(const std::vector<std::string>& names);
  // The error message of a layer in status Error ("" otherwise).
  std::string layer_error(int layer) const;
  // The next position of `layer` in the execution order after the current position
  // (cyclic); for callers that do not track positions themselves. Throws if absent.
  size_t next_position(int layer) const;

  // Splits `layer` into pieces at the given byte offsets, relative to the start of its blob,
  // strictly increasing inside (0, blob size); an empty list makes it one unit again. Drops
  // the layer's resident bytes; throws std::logic_error while the layer is pinned.
  // `sequence` (default: ascending) is the order in which one use of the layer acquires its
  // pieces -- the executor takes a streamed Gemm's small constants (bias) before the weight
  // row blocks, wherever they sit in the blob -- so prefetch follows the real order.
  void set_layer_pieces(int layer, const std::vector<uint64_t>& split_offsets,
                        const std::vector<size_t>& sequence = {});
  size_t num_pieces(int layer) const;
  uint64_t budget_bytes() const;           // max_memory_usage in effect (0 = unlimited)
  // stats().stall_seconds without building the rest of the stats (the executor reads it
  // around every step to tell each layer's waits from its compute).
  double stall_seconds() const;
  uint64_t layer_nbytes(int layer) const;  // blob size
  // Byte range of a piece relative to the start of the layer's blob: {offset, nbytes}.
  std::pair<uint64_t, uint64_t> piece_range(int layer, size_t piece) const;
  // As acquire/release, for one piece of a layer (piece 0 of an unsplit layer is the layer).
  BufferPtr acquire_piece(int layer, size_t piece, size_t position);
  void release_piece(int layer, size_t piece);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinyai
