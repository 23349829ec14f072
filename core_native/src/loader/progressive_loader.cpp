// Progressive loader: background I/O threads (kIoThreads), a byte-bounded weight cache, prefetch along
// the known (cyclic) execution order, furthest-next-use eviction.
//
// Locking: one mutex guards all state; it is never held while reading or allocating a blob,
// so stats() waits at most for a short bookkeeping section, never for I/O. The I/O thread
// reserves a unit's bytes under the lock before it reads (resident_ counts loaded units plus
// the read in flight), so the budget holds at every instant, not just between reads.
#include "tinyai/progressive_loader.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <pthread.h>

#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "loader/blob_pages.h"
#include "loader/range_reader.h"
#include "loader/residency_plan.h"
#include "tinyai/errors.h"

namespace tinyai {

namespace {
using Clock = std::chrono::steady_clock;

constexpr int64_t kNeverUsed = std::numeric_limits<int64_t>::max();
// I/O threads. With one, the disk idled between reads while the thread woke up, checksummed,
// and set up the next blob -- and on a 2-core machine busy with compute, waking up took long:
// the loader read at ~0.6x the disk's O_DIRECT rate during inference. A second thread keeps a
// read queued at the disk through those gaps; the threads share the queue and the budget.
constexpr int kIoThreads = 2;
// The adaptive window grows up to this many units ahead (or the configured window, if larger).
// Deep enough for vgg19 at 30 %, whose convs must prefetch into fc6's pieces ~30 units ahead;
// the budget (memory pressure) and the disk (see end_interval) bound it in practice.
constexpr int kAdaptiveWindowCap = 64;
// A new residency plan replaces the one in effect only if it simulates this much faster.
constexpr double kReplanGain = 0.03;
// Bandwidth emulation: a read starting within this long of the previous one's emulated end
// continues the same stream.
constexpr std::chrono::milliseconds kThrottleCatchUp{20};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string mib(uint64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%llu bytes (%.1f MiB)", static_cast<unsigned long long>(bytes),
                static_cast<double>(bytes) / (1 << 20));
  return buf;
}

std::string storage_label(double mbps) {
  if (mbps <= 0) return "disk";
  char buf[64];
  std::snprintf(buf, sizeof buf, "emulated %g MB/s disk (throttled)", mbps);
  return buf;
}

struct Unit {
  uint64_t offset = 0;  // absolute file offset
  uint64_t nbytes = 0;
  uint32_t crc = 0;     // per-piece CRC of a split layer (valid once the layer is verified)
  LayerStatus status = LayerStatus::Unloaded;
  BufferPtr blob;
  int pins = 0;
  bool demand = false;           // a caller waits for this unit; it is in the demand queue
  bool unused_prefetch = false;  // read by the prefetcher and not acquired since
  bool keep = false;             // the residency plan keeps it across inferences
  int64_t held_at = -1;          // position of the counted acquire that pinned it (-1: none)
  std::chrono::steady_clock::time_point held_since{};
  double load_seconds = 0.0;
  std::string error;
  uint64_t error_minimum_bytes = 0;  // > 0: the error is a budget error
  std::vector<int64_t> positions;    // ascending positions in the unit sequence
  int64_t seq_index = 0;             // where one use of the layer acquires it (0 = first)
};

struct Layer {
  LayerPriority priority = LayerPriority::Medium;
  std::vector<Unit> units;  // one, or the pieces of a split layer
  std::vector<size_t> sequence;  // the order one use acquires the units in (piece indices)
  bool pieces_verified = true;  // per-piece CRCs known (an unsplit layer uses the file's CRC)
  bool deriving = false;        // a read in flight derives them: the other pieces wait for it
  uint64_t generation = 0;      // bumped when the pieces change; stale reads are discarded
  uint64_t blob_offset = 0, blob_nbytes = 0;
  uint32_t blob_crc = 0;
  int64_t hits = 0, misses = 0;
};

struct UnitRef {
  int layer = -1;
  int piece = 0;
};

struct Job {
  UnitRef ref;
  uint64_t generation = 0;
  uint64_t offset = 0, nbytes = 0;
  bool prefetch = false;
  bool whole_blob = false;  // unsplit layer: checked against the file's CRC of the blob
  uint32_t crc = 0;         // expected CRC of a verified piece
  // Non-empty: the layer's pieces ({offset, nbytes}) have no CRCs yet; derive them first by
  // streaming the whole blob through the buffer and checking it against the file's CRC.
  std::vector<std::pair<uint64_t, uint64_t>> derive_pieces;
  uint64_t blob_offset = 0, blob_nbytes = 0;
  uint32_t blob_crc = 0;
};

struct JobResult {
  BufferPtr buf;  // null on failure
  std::string error;
  std::vector<uint32_t> piece_crcs;
  uint64_t bytes_read = 0, verify_bytes = 0;
  double seconds = 0.0;
};

// Distance from `position` to the next use at one of `positions` in a cyclic sequence of
// `length`: in [1, length], or kNeverUsed. position -1 means "before the first".
int64_t cyclic_distance(const std::vector<int64_t>& positions, int64_t length, int64_t position) {
  if (positions.empty()) return kNeverUsed;
  auto it = std::upper_bound(positions.begin(), positions.end(), position);
  return it != positions.end() ? *it - position : positions.front() + length - position;
}
}  // namespace

struct ProgressiveLoader::Impl {
  std::shared_ptr<WeightsFile> file;
  std::shared_ptr<MemoryTracker> tracker;
  // One reader per I/O thread: a reader's bounce buffer serves one read at a time.
  std::vector<std::unique_ptr<RangeReader>> readers;
  // Blob memory: evicted blobs' pages are recycled into new blobs (see blob_pages.h). Shared
  // with the blobs themselves, which may outlive the loader in a caller's hands.
  std::shared_ptr<BlobPages> pages = std::make_shared<BlobPages>();

  mutable std::mutex mu;
  std::condition_variable io_cv;    // wakes the I/O thread: work may be available
  std::condition_variable done_cv;  // wakes callers: a read finished
  std::vector<std::thread> io;
  bool stop = false;

  ProgressiveLoaderConfig cfg;
  double bandwidth_mbps = 0.0;
  std::vector<Layer> layers;
  std::vector<std::string> names;

  std::vector<int> order;                   // layer sequence of one inference
  std::vector<int64_t> order_unit_start;    // layer position -> first unit position
  std::vector<UnitRef> units_seq;           // unit sequence (layers expanded to pieces)
  std::vector<int64_t> unit_pos_to_layer_pos;
  int64_t cur = -1;                         // unit position of the last acquire

  Clock::time_point emulated_disk_free_at{};  // bandwidth emulation: end of the last read
  int window = 0;
  bool pressure = false;        // the prefetcher ran out of room since the last acquire
  // The I/O thread went idle with every unit of the window read, since the last stall: the
  // window, not the disk, limited prefetch (see end_interval).
  bool idle_on_window = false;
  int reads_in_flight = 0;
  bool shrunk = false;          // the window shrank since the last acquire
  std::deque<UnitRef> demand_q;

  // Residency plan (adaptive window on, a budget, prefetch on): which units stay resident
  // across inferences, planned from the measured compute between acquisitions and the disk's
  // measured (or emulated) rate; see residency_plan.h. While a plan is in effect the prefetcher
  // reads ahead as far as the room the kept units leave, and never evicts a kept unit.
  std::vector<double> compute_after;      // per unit position: seconds to the next acquire
  std::vector<double> hold_after;         // per unit position: seconds to its release
  std::vector<bool> compute_known;
  size_t compute_known_count = 0;
  int64_t last_acquire_pos = -1;          // position of the last counted acquire
  Clock::time_point last_acquire_done{};  // when it returned
  int64_t cycles = 0;                     // inferences completed (cursor wrapped)
  bool plan_active = false;
  bool replan_soon = true;  // plan at the next inference boundary, whatever the schedule
  bool plan_due = false;    // a re-plan is due; the acquire that noticed makes it (plan_if_due)
  uint64_t plan_epoch = 0;  // bumped by anything that invalidates a plan being made
  uint64_t plan_keep_bytes = 0;
  double plan_predicted_seconds = 0.0, plan_stream_all_seconds = 0.0;
  // The disk's rate: bytes over the time at least one read was in flight.
  Clock::time_point disk_busy_since{};
  double disk_busy_seconds = 0.0;
  int64_t disk_bytes = 0;
  // Dropped blobs, freed under the lock before anything else is allocated (cheap: their pages
  // go to the recycler's free list), so the tracker never sees more than the budget.
  std::vector<BufferPtr> graveyard;
  int64_t resident = 0;         // loaded units + the read in flight
  int64_t total_bytes = 0;      // every layer's blob (its pieces partition it, so this is fixed)

  // Statistics.
  int64_t hits = 0, misses = 0, bytes_read = 0, verify_bytes = 0, evictions = 0;
  int64_t peak_resident = 0, prefetch_loads = 0, demand_loads = 0, wasted_prefetches = 0;
  int64_t load_errors = 0;
  double stall_seconds = 0.0, io_busy_seconds = 0.0;

  Impl(std::shared_ptr<WeightsFile> f, std::shared_ptr<MemoryTracker> t,
       const ProgressiveLoaderConfig& c)
      : file(std::move(f)), tracker(std::move(t)), cfg(c) {
    for (int i = 0; i < kIoThreads; ++i) readers.push_back(std::make_unique<RangeReader>(file->path()));
    layers.resize(file->num_layers());
    for (size_t l = 0; l < layers.size(); ++l) {
      const WeightBlob& b = file->blob(l);
      Layer& L = layers[l];
      L.blob_offset = b.offset;
      L.blob_nbytes = b.nbytes;
      L.blob_crc = b.crc32;
      total_bytes += static_cast<int64_t>(b.nbytes);
      L.units.resize(1);
      L.units[0].offset = b.offset;
      L.units[0].nbytes = b.nbytes;
      L.sequence = {0};
      order.push_back(static_cast<int>(l));
    }
    rebuild_sequence();
    reset_window();
    for (int i = 0; i < kIoThreads; ++i)
      io.emplace_back([this, i] { io_loop(*readers[static_cast<size_t>(i)]); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    io_cv.notify_all();
    done_cv.notify_all();
    for (std::thread& t : io)
      if (t.joinable()) t.join();
  }

  // ---- helpers (all called with `mu` held) ------------------------------------------------

  void check_layer(int layer) const {
    if (layer < 0 || static_cast<size_t>(layer) >= layers.size())
      throw std::out_of_range("layer index " + std::to_string(layer) + " is out of range (the "
                              "weights file has " + std::to_string(layers.size()) + " layers)");
  }

  void check_piece(int layer, size_t piece) const {
    check_layer(layer);
    if (piece >= layers[layer].units.size())
      throw std::out_of_range("layer " + label(layer) + " has " +
                              std::to_string(layers[layer].units.size()) + " piece(s), not " +
                              std::to_string(piece + 1));
  }

  std::string label(int layer) const {
    if (static_cast<size_t>(layer) < names.size() && !names[layer].empty())
      return "'" + names[layer] + "'";
    return std::to_string(layer);
  }

  std::string unit_label(UnitRef r) const {
    const size_t n = layers[r.layer].units.size();
    return "layer " + label(r.layer) +
           (n > 1 ? " piece " + std::to_string(r.piece + 1) + "/" + std::to_string(n) : "");
  }

  uint64_t budget() const { return cfg.max_memory_usage; }

  void rebuild_sequence() {
    for (Layer& L : layers)
      for (Unit& u : L.units) u.positions.clear();
    units_seq.clear();
    order_unit_start.clear();
    unit_pos_to_layer_pos.clear();
    for (size_t i = 0; i < order.size(); ++i) {
      Layer& L = layers[order[i]];
      order_unit_start.push_back(static_cast<int64_t>(units_seq.size()));
      for (size_t p : L.sequence) {
        L.units[p].positions.push_back(static_cast<int64_t>(units_seq.size()));
        units_seq.push_back({order[i], static_cast<int>(p)});
        unit_pos_to_layer_pos.push_back(static_cast<int64_t>(i));
      }
    }
    cur = -1;
    compute_after.assign(units_seq.size(), 0.0);
    hold_after.assign(units_seq.size(), -1.0);  // -1: not measured (the whole gap is assumed)
    compute_known.assign(units_seq.size(), false);
    compute_known_count = 0;
    last_acquire_pos = -1;
    drop_plan();
  }

  // ---- residency plan -------------------------------------------------------------------

  void drop_plan() {
    if (plan_active && cfg.enable_adaptive_window) reset_window();
    ++plan_epoch;
    plan_active = false;
    replan_soon = true;
    plan_keep_bytes = 0;
    for (Layer& L : layers)
      for (Unit& u : L.units) u.keep = false;
  }

  bool plan_wanted() const {
    return cfg.enable_prefetch && cfg.enable_adaptive_window && budget() > 0 && !units_seq.empty();
  }

  double disk_bytes_per_second() const {
    if (bandwidth_mbps > 0) return bandwidth_mbps * 1e6;
    return disk_busy_seconds > 0 ? static_cast<double>(disk_bytes) / disk_busy_seconds : 0.0;
  }

  // A counted acquire at unit position `pos` was asked for at `asked`: the time since the
  // previous one returned is the compute after that position. The end of an inference (the
  // cursor wrapping) counts as no compute: the gap between runs is the caller's, and runs may
  // follow back to back.
  void note_acquire_start(int64_t pos, Clock::time_point asked) {
    const int64_t n = static_cast<int64_t>(units_seq.size());
    if (last_acquire_pos >= 0 && pos >= 0 && n > 0 && pos == (last_acquire_pos + 1) % n) {
      const auto p = static_cast<size_t>(last_acquire_pos);
      const double gap =
          pos == 0 ? 0.0 : std::chrono::duration<double>(asked - last_acquire_done).count();
      // Smoothed over inferences: plans compare sets whose simulated times differ by a few
      // percent, and one run's timer jitter must not make them switch back and forth.
      compute_after[p] = compute_known[p] ? 0.75 * compute_after[p] + 0.25 * gap : gap;
      if (!compute_known[p]) {
        compute_known[p] = true;
        ++compute_known_count;
      }
    }
    if (pos >= 0 && last_acquire_pos >= 0 && pos <= last_acquire_pos) {
      ++cycles;
      // Plan after the first full inference, then at doubling intervals and every 8th one:
      // the compute and the disk do not change fast, and each re-plan may move reads around.
      if (replan_soon || cycles <= 2 || (cycles & (cycles - 1)) == 0 || cycles % 8 == 0)
        plan_due = true;
    }
  }

  void note_acquire_done(int64_t pos, Unit& u) {
    if (pos < 0) return;
    last_acquire_pos = pos;
    last_acquire_done = Clock::now();
    u.held_at = pos;
    u.held_since = last_acquire_done;
  }

  // The unit's last pin went: the time since its counted acquire is how long that position
  // holds its bytes (smoothed like compute_after). The simulation frees streamed units then.
  void note_release(Unit& u) {
    if (u.pins > 0 || u.held_at < 0 || static_cast<size_t>(u.held_at) >= hold_after.size()) return;
    const auto p = static_cast<size_t>(u.held_at);
    const double held = seconds_since(u.held_since);
    hold_after[p] = hold_after[p] < 0 ? held : 0.75 * hold_after[p] + 0.25 * held;
    u.held_at = -1;
  }

  // What a re-plan needs, copied under the lock: the plan itself is computed without it (a
  // few ms for a large model), so the I/O threads and stats() are not held up.
  struct PlanRequest {
    std::vector<PlanUnit> units;
    std::vector<std::vector<int>> id;  // layer, piece -> unit
    std::vector<int> sequence;
    std::vector<double> compute, hold;
    std::vector<bool> current;  // the plan in effect (empty: none)
    uint64_t budget = 0;
    double rate = 0.0;
    uint64_t epoch = 0;
  };

  // Fills `req` if a plan is wanted and can be made now; drops the plan if none is wanted.
  bool prepare_plan(PlanRequest& req) {
    if (!plan_wanted()) {
      if (plan_active) drop_plan();
      return false;
    }
    req.rate = disk_bytes_per_second();
    if (compute_known_count != units_seq.size() || req.rate <= 0) return false;
    replan_soon = false;
    req.id.assign(layers.size(), {});
    for (size_t l = 0; l < layers.size(); ++l)
      for (const Unit& u : layers[l].units) {
        req.id[l].push_back(static_cast<int>(req.units.size()));
        PlanUnit pu;
        pu.nbytes = u.nbytes;
        pu.priority = static_cast<int>(layers[l].priority);
        pu.pinned = layers[l].priority == LayerPriority::Critical;
        req.units.push_back(pu);
        if (plan_active) req.current.push_back(u.keep);
      }
    for (const UnitRef& r : units_seq) req.sequence.push_back(req.id[r.layer][r.piece]);
    req.compute = compute_after;
    req.hold.resize(units_seq.size());
    for (size_t p = 0; p < req.hold.size(); ++p)
      req.hold[p] = hold_after[p] < 0 ? compute_after[p] : std::min(hold_after[p], compute_after[p]);
    req.budget = budget();
    req.epoch = plan_epoch;
    return true;
  }

  // Applies `plan` (made from `req`; `now` is the plan in effect re-simulated, < 0 if none).
  void apply_plan(const PlanRequest& req, const ResidencyPlan& plan, double now) {
    if (plan.predicted_seconds < 0) {  // a streamed unit cannot fit: leave it to demand errors
      drop_plan();
      return;
    }
    // Hysteresis: a new set must beat the current one, re-simulated with today's timings, by
    // kReplanGain, or every change of plan would re-read what the old plan kept.
    if (plan_active && now >= 0 && plan.predicted_seconds > now * (1 - kReplanGain)) {
      plan_predicted_seconds = now;
      plan_stream_all_seconds = plan.stream_all_seconds;
      return;
    }
    for (size_t l = 0; l < layers.size(); ++l)
      for (size_t p = 0; p < layers[l].units.size(); ++p)
        layers[l].units[p].keep = plan.keep[static_cast<size_t>(req.id[l][p])];
    plan_active = true;
    plan_keep_bytes = plan.keep_bytes;
    plan_predicted_seconds = plan.predicted_seconds;
    plan_stream_all_seconds = plan.stream_all_seconds;
    window = max_window();  // read ahead as far as the room allows
  }

  // A re-plan that came due at an acquire, made with the lock released (the caller's unit is
  // pinned by then, so nothing it holds can change under it). A change of settings, order or
  // priorities meanwhile (plan_epoch) discards the result; the next inference re-plans.
  void plan_if_due(std::unique_lock<std::mutex>& lk) {
    if (!plan_due) return;
    plan_due = false;
    PlanRequest req;
    if (!prepare_plan(req)) return;
    lk.unlock();
    ResidencyPlan plan;
    double now = -1.0;
    bool ok = true;
    try {
      plan = plan_residency(req.units, req.sequence, req.compute, req.budget, req.rate, req.hold);
      if (!req.current.empty())
        now = simulate_residency(req.units, req.sequence, req.compute, req.budget, req.rate,
                                 req.current, req.hold);
    } catch (const std::exception&) {
      ok = false;  // out of memory: keep the plan in effect
    }
    lk.lock();
    if (!ok || req.epoch != plan_epoch) {
      replan_soon = true;
      return;
    }
    apply_plan(req, plan, now);
  }

  int64_t distance(const Unit& u) const {
    return cyclic_distance(u.positions, static_cast<int64_t>(units_seq.size()), cur);
  }

  int min_window() const { return cfg.enable_adaptive_window ? 1 : cfg.prefetch_window; }
  int max_window() const {
    if (!cfg.enable_adaptive_window) return cfg.prefetch_window;
    const int ahead = std::max<int>(1, static_cast<int>(units_seq.size()) - 1);
    if (plan_active) return std::max(cfg.prefetch_window, ahead);  // the room bounds it
    return std::max(cfg.prefetch_window, std::min(kAdaptiveWindowCap, ahead));
  }
  void reset_window() { window = std::max(0, cfg.prefetch_window); }
  int effective_window() const { return cfg.enable_prefetch ? window : 0; }

  // Under a residency plan the prefetcher looks a whole cycle ahead and the room the kept
  // units leave decides how far it gets: the window it reports is that depth, the units right
  // after the cursor that are resident or being read (memory pressure shows as a small one).
  int depth_ahead() const {
    const int64_t n = static_cast<int64_t>(units_seq.size());
    int depth = 0;
    for (int64_t k = 1; k < n; ++k) {
      const UnitRef r = units_seq[static_cast<size_t>((std::max<int64_t>(cur, 0) + k) % n)];
      const Unit& u = layers[r.layer].units[r.piece];
      if (u.status != LayerStatus::Loaded && u.status != LayerStatus::Loading && u.nbytes > 0) break;
      ++depth;
    }
    return depth;
  }

  // The prefetcher could hold only `fitted` units of the window: shrink by one unit towards
  // that, once per acquire interval. Not straight to `fitted`: units differ in size by orders
  // of magnitude (vgg19: 7 KB convs, 43 MB fc6 pieces), so the count that fits while a big
  // piece waits says little about the small layers after it; the budget itself keeps the
  // prefetcher from overfilling (make_room), the window only says how far ahead to look.
  void on_memory_pressure(int fitted) {
    pressure = true;
    if (!cfg.enable_adaptive_window || plan_active || shrunk || fitted >= window) return;
    window = std::max(min_window(), window - 1);
    shrunk = true;
  }

  void drop(Unit& u) {
    resident -= static_cast<int64_t>(u.nbytes);
    graveyard.push_back(std::move(u.blob));
    u.status = LayerStatus::Unloaded;
    u.unused_prefetch = false;
  }

  void evict(Unit& u) {
    ++evictions;
    if (u.unused_prefetch) {
      ++wasted_prefetches;
      on_memory_pressure(window - 1);
    }
    drop(u);
  }

  // Evicts until `need` more bytes fit the budget: lower priority first, then units the
  // residency plan does not keep, then the unit whose next use is furthest away. Pinned units,
  // CRITICAL layers and reads in flight stay. For a prefetch (target_distance >= 0) only units
  // used later than the target, of no higher priority and not kept by the plan qualify: a
  // prefetch never pushes out something needed sooner. Evicts nothing and returns false if
  // even all candidates would not make room.
  bool make_room(uint64_t need, int64_t target_distance, LayerPriority target_priority) {
    const uint64_t cap = budget();
    if (cap == 0 || static_cast<uint64_t>(resident) + need <= cap) return true;
    struct Candidate {
      int priority;
      bool keep;
      int64_t distance;
      Unit* unit;
    };
    std::vector<Candidate> cands;
    uint64_t freeable = 0;
    for (Layer& L : layers) {
      if (L.priority == LayerPriority::Critical) continue;
      if (target_distance >= 0 && L.priority > target_priority) continue;
      for (Unit& u : L.units) {
        if (u.status != LayerStatus::Loaded || u.pins > 0 || u.nbytes == 0) continue;
        const int64_t d = distance(u);
        if (target_distance >= 0 && (d <= target_distance || u.keep)) continue;
        cands.push_back({static_cast<int>(L.priority), u.keep, d, &u});
        freeable += u.nbytes;
      }
    }
    if (static_cast<uint64_t>(resident) - freeable + need > cap) return false;
    std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
      if (a.priority != b.priority) return a.priority < b.priority;
      if (a.keep != b.keep) return b.keep;  // what the plan keeps goes last
      return a.distance > b.distance;
    });
    for (const Candidate& c : cands) {
      if (static_cast<uint64_t>(resident) + need <= cap) break;
      evict(*c.unit);
    }
    return true;
  }

  // Bytes no demand eviction can free: pins, CRITICAL layers, the read in flight.
  uint64_t held_bytes() const {
    uint64_t held = 0;
    for (const Layer& L : layers)
      for (const Unit& u : L.units)
        if (u.status == LayerStatus::Loading ||
            (u.status == LayerStatus::Loaded &&
             (u.pins > 0 || L.priority == LayerPriority::Critical)))
          held += u.nbytes;
    return held;
  }

  void set_error(Unit& u, std::string msg, uint64_t minimum_bytes) {
    u.status = LayerStatus::Error;
    u.error = std::move(msg);
    u.error_minimum_bytes = minimum_bytes;
    ++load_errors;
  }

  // A unit larger than the whole budget can never load: say so, with the numbers.
  bool reject_if_oversized(UnitRef r) {
    Unit& u = layers[r.layer].units[r.piece];
    if (budget() == 0 || u.nbytes <= budget()) return false;
    set_error(u,
              unit_label(r) + " needs " + mib(u.nbytes) +
                  " but the weight budget (loader max_memory_usage) is " + mib(budget()) +
                  "; raise the budget to at least " + mib(u.nbytes) +
                  (layers[r.layer].units.size() > 1 ? " or split the layer into smaller pieces"
                                                    : " or split the layer into pieces"),
              u.nbytes);
    return true;
  }

  void start_job(UnitRef r, bool prefetch, Job& job) {
    Layer& L = layers[r.layer];
    Unit& u = L.units[r.piece];
    resident += static_cast<int64_t>(u.nbytes);
    peak_resident = std::max(peak_resident, resident);
    if (reads_in_flight++ == 0) disk_busy_since = Clock::now();
    u.status = LayerStatus::Loading;
    job = Job{};
    job.ref = r;
    job.generation = L.generation;
    job.offset = u.offset;
    job.nbytes = u.nbytes;
    job.prefetch = prefetch;
    job.whole_blob = L.units.size() == 1;
    job.crc = u.crc;
    if (!job.whole_blob && !L.pieces_verified) {
      for (const Unit& p : L.units) job.derive_pieces.emplace_back(p.offset, p.nbytes);
      L.deriving = true;
    }
    job.blob_offset = L.blob_offset;
    job.blob_nbytes = L.blob_nbytes;
    job.blob_crc = L.blob_crc;
  }

  // Next read for the I/O thread: waiting callers first, then the prefetch window in order.
  // A piece of a layer whose piece CRCs another thread is deriving waits for that read (it
  // could not be checked yet, and deriving twice would read the whole blob twice).
  bool waits_for_derive(UnitRef r) const {
    const Layer& L = layers[r.layer];
    return L.units.size() > 1 && !L.pieces_verified && L.deriving;
  }

  bool pick_job(Job& job) {
    std::deque<UnitRef> deferred;
    struct Requeue {  // deferred demands go back to the front, in order, however we leave
      std::deque<UnitRef>& q;
      std::deque<UnitRef>& d;
      ~Requeue() { q.insert(q.begin(), d.begin(), d.end()); }
    } requeue{demand_q, deferred};
    while (!demand_q.empty()) {
      const UnitRef r = demand_q.front();
      demand_q.pop_front();
      if (static_cast<size_t>(r.piece) >= layers[r.layer].units.size()) continue;
      Unit& u = layers[r.layer].units[r.piece];
      if (!u.demand) continue;
      if (u.status == LayerStatus::Unloaded && waits_for_derive(r)) {
        deferred.push_back(r);
        continue;
      }
      if (u.status == LayerStatus::Loading || u.status == LayerStatus::Loaded) {
        u.demand = false;
        done_cv.notify_all();
        continue;
      }
      if (reject_if_oversized(r)) {
        u.demand = false;
        done_cv.notify_all();
        continue;
      }
      if (!make_room(u.nbytes, -1, LayerPriority::Low)) {
        const uint64_t held = held_bytes();
        set_error(u,
                  "cannot load " + unit_label(r) + " (" + mib(u.nbytes) +
                      "): pinned and CRITICAL layers hold " + mib(held) + " of the " +
                      mib(budget()) +
                      " weight budget; release them, lower their priority or raise the "
                      "budget to at least " + mib(held + u.nbytes),
                  held + u.nbytes);
        u.demand = false;
        done_cv.notify_all();
        continue;
      }
      start_job(r, false, job);
      return true;
    }
    const int w = effective_window();
    const int64_t n = static_cast<int64_t>(units_seq.size());
    if (w <= 0 || n == 0) return false;
    const int64_t ahead = std::min<int64_t>(w, n);
    for (int64_t k = 1; k <= ahead; ++k) {
      const UnitRef r = units_seq[static_cast<size_t>((cur + k) % n)];
      const Layer& L = layers[r.layer];
      const Unit& u = L.units[r.piece];
      if (u.nbytes == 0 || u.status != LayerStatus::Unloaded || waits_for_derive(r)) continue;
      if (budget() && u.nbytes > budget()) continue;  // reported when someone asks for it
      if (!make_room(u.nbytes, k, L.priority)) {
        on_memory_pressure(static_cast<int>(k - 1));
        return false;
      }
      start_job(r, true, job);
      return true;
    }
    if (reads_in_flight == 0) idle_on_window = true;  // else the disk is still busy
    return false;
  }

  void finish_job(const Job& job, JobResult& r) {
    bytes_read += static_cast<int64_t>(r.bytes_read);
    verify_bytes += static_cast<int64_t>(r.verify_bytes);
    io_busy_seconds += r.seconds;
    (job.prefetch ? prefetch_loads : demand_loads) += 1;
    disk_bytes += static_cast<int64_t>(r.bytes_read);
    if (--reads_in_flight == 0) disk_busy_seconds += seconds_since(disk_busy_since);
    Layer& L = layers[job.ref.layer];
    if (L.generation != job.generation) {  // the layer was re-split while we read
      resident -= static_cast<int64_t>(job.nbytes);
      return;
    }
    if (!job.derive_pieces.empty()) L.deriving = false;
    if (!r.piece_crcs.empty()) {
      for (size_t p = 0; p < L.units.size(); ++p) L.units[p].crc = r.piece_crcs[p];
      L.pieces_verified = true;
    }
    Unit& u = L.units[job.ref.piece];
    u.demand = false;
    if (r.buf) {
      u.status = LayerStatus::Loaded;
      u.blob = std::move(r.buf);
      u.load_seconds = r.seconds;
      u.unused_prefetch = job.prefetch;
      u.error.clear();
      u.error_minimum_bytes = 0;
    } else {
      resident -= static_cast<int64_t>(job.nbytes);
      const std::string who = static_cast<size_t>(job.ref.layer) < names.size()
                                  ? unit_label(job.ref) + ": "
                                  : std::string();
      set_error(u, who + r.error, 0);
    }
  }

  // ---- the I/O thread -------------------------------------------------------------------

  // Free pages the loader may keep for recycling: what the budget leaves beside the resident
  // units and the read in flight, so recycled pages plus blobs stay within the budget. No
  // budget: nothing is evicted, so nothing is worth keeping.
  // At most an eighth of the budget besides: a blob takes the pages its own evictions freed
  // before the trim (see allocate_blob), so the free list only carries what the other thread
  // and callers drop in between; more would only sit idle in the process's RSS.
  uint64_t recycle_limit() const {
    const uint64_t cap = budget();
    const uint64_t used = static_cast<uint64_t>(std::max<int64_t>(0, resident));
    return cap > used ? std::min(cap - used, cap / 8) : 0;
  }

  // Drops evicted blobs: their pages go to the recycler (when nobody else holds them), where
  // the next blob picks them up. Called with the lock held.
  void free_blobs(std::vector<BufferPtr>& blobs) { blobs.clear(); }

  // Callers' drops (unload, a smaller budget, a re-split), with the lock held: rare, so the
  // recycler is trimmed right away.
  void drop_graveyard() {
    free_blobs(graveyard);
    pages->trim(recycle_limit());
  }

  [[noreturn]] void corrupted(const Job& job, const std::string& where) const {
    throw ModelError("layer " + std::to_string(job.ref.layer) + " of '" + file->path() +
                     "' is corrupted (checksum mismatch" + where + "); re-import the model");
  }

  // Streams the whole blob through a scratch buffer (1 MiB steps, whatever the size
  // of the piece being loaded: through a 16 KB bias piece, vgg19's first run took 3 s more) to
  // derive each piece's CRC; their combination must match the file's CRC of the blob.
  std::vector<uint32_t> derive_piece_crcs(const RangeReader& reader, const Job& job,
                                          JobResult& r) {
    std::vector<uint32_t> crcs = reader.checksums(job.derive_pieces);
    uint32_t whole = 0;
    for (size_t p = 0; p < crcs.size(); ++p)
      whole = crc32_combine(whole, crcs[p], job.derive_pieces[p].second);
    r.bytes_read += job.blob_nbytes;
    r.verify_bytes += job.blob_nbytes;
    if (whole != job.blob_crc) corrupted(job, "");
    return crcs;
  }

  // A tracked buffer for the unit, on recycled pages. Its data sits at the file offset's phase
  // within a page, so the disk can write the range straight into it (read_in_place); a unit
  // whose offset is not tensor-aligned (a caller's arbitrary split) gets phase 0 and is read
  // through the bounce buffer, so the tensors in it keep their alignment.
  BufferPtr allocate_blob(const Job& job, uint64_t keep_free) {
    const size_t phase = job.offset % kTensorAlignment == 0 ? job.offset % BlobPages::kPage : 0;
    const BlobPages::Blob b = pages->allocate(job.nbytes, phase);
    pages->trim(keep_free);  // what the recycler held beyond the budget goes back to the OS
    std::shared_ptr<BlobPages> owner = pages;
    try {
      return std::make_shared<Buffer>(tracker, MemCategory::Weight, job.nbytes, b.data,
                                      [owner](void* p) { owner->release(p); });
    } catch (...) {
      pages->release(b.data);
      throw;
    }
  }

  JobResult run_job(const RangeReader& reader, const Job& job, uint64_t keep_free) {
    JobResult r;
    const auto t0 = Clock::now();
    try {
      auto buf = allocate_blob(job, keep_free);
      uint32_t want = job.whole_blob ? job.blob_crc : job.crc;
      if (!job.derive_pieces.empty()) {
        r.piece_crcs = derive_piece_crcs(reader, job, r);
        want = r.piece_crcs[static_cast<size_t>(job.ref.piece)];
      }
      if (reader.read_in_place(job.offset, job.nbytes, buf->data()) != want)
        corrupted(job, job.whole_blob ? std::string()
                                      : " in piece " + std::to_string(job.ref.piece + 1));
      r.bytes_read += job.nbytes;
      r.buf = std::move(buf);
    } catch (const std::bad_alloc&) {
      r.error = "cannot allocate " + mib(job.nbytes) + " for its weights (out of memory)";
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    r.seconds = seconds_since(t0);
    return r;
  }

  void io_loop(const RangeReader& reader) {
#ifdef __GLIBC__
    // Named so per-thread CPU time (/proc/<pid>/task/*/comm, top -H) tells it from compute.
    pthread_setname_np(pthread_self(), "tinyai-loader");
#endif
    std::unique_lock<std::mutex> lk(mu);
    while (!stop) {
      Job job;
      if (!pick_job(job)) {
        io_cv.wait(lk);
        continue;
      }
      io_cv.notify_all();  // the other I/O thread may take the next unit meanwhile
      // Evicted blobs die here, under the lock: freeing one only hands its pages to the
      // recycler (no unmapping), and the other I/O thread must not allocate into the room they
      // made while they still count (the tracker would see both, over the budget).
      free_blobs(graveyard);
      const uint64_t keep_free = recycle_limit();  // resident includes this job already
      lk.unlock();
      const auto t0 = Clock::now();
      JobResult r = run_job(reader, job, keep_free);
      lk.lock();
      // Emulated slow storage: the read took as long as the limit allows, not less.
      if (bandwidth_mbps > 0 && r.bytes_read > 0) {
        const auto want = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
            static_cast<double>(r.bytes_read) / (bandwidth_mbps * 1e6)));
        // While reads follow each other, each starts when the emulated disk became free, not
        // when this thread woke up: wake-up latency must not accumulate into a slower disk.
        const auto start = t0 - emulated_disk_free_at < kThrottleCatchUp ? emulated_disk_free_at
                                                                          : t0;
        emulated_disk_free_at = start + want;
        io_cv.wait_until(lk, emulated_disk_free_at, [this] { return stop; });
        r.seconds = seconds_since(t0);
      }
      finish_job(job, r);
      done_cv.notify_all();
    }
  }

  // ---- caller side ----------------------------------------------------------------------

  // Pins the unit and waits until it is resident. `layer_position` < 0: do not move the
  // execution cursor (load_layer). `count`: acquire statistics and window adaptation.
  BufferPtr acquire_unit(int layer, size_t piece, int64_t layer_position, bool count) {
    const auto asked = Clock::now();
    std::unique_lock<std::mutex> lk(mu);
    check_piece(layer, piece);
    bool moved = false;  // the cursor moved: this acquire times the compute before it
    if (layer_position >= 0 && !order.empty()) {
      int64_t p = layer_position % static_cast<int64_t>(order.size());
      // A position that disagrees with the order: trust the layer (its next occurrence); a
      // layer outside the order leaves the cursor where it is.
      if (order[static_cast<size_t>(p)] != layer) p = next_layer_position(layer);
      if (p >= 0) {
        cur = order_unit_start[static_cast<size_t>(p)] + layers[layer].units[piece].seq_index;
        moved = count;
      }
    }
    if (moved) note_acquire_start(cur, asked);
    Layer& L = layers[layer];
    Unit& u = L.units[piece];
    ++u.pins;  // before anything else: the prefetcher must not evict what we wait for
    if (!all_loaded()) io_cv.notify_all();  // the window moved
    if (u.nbytes == 0 || u.status == LayerStatus::Loaded) {
      if (moved) note_acquire_done(cur, u);
      if (u.nbytes == 0) {
        plan_if_due(lk);
        return nullptr;
      }
      if (count) {
        ++hits;
        ++L.hits;
        end_interval(false);
      }
      u.unused_prefetch = false;
      BufferPtr blob = u.blob;
      plan_if_due(lk);
      return blob;
    }
    if (count) {
      ++misses;
      ++L.misses;
    }
    const auto t0 = Clock::now();
    bool requested = false;
    while (u.status != LayerStatus::Loaded) {
      if (stop) {
        --u.pins;
        throw ModelError("the progressive loader is shutting down");
      }
      const bool failed = u.status == LayerStatus::Error && requested && !u.demand;
      if (!failed && !u.demand && u.status != LayerStatus::Loading) {
        if (reject_if_oversized({layer, static_cast<int>(piece)})) {
          requested = true;
          continue;  // -> failed
        }
        u.demand = true;
        demand_q.push_back({layer, static_cast<int>(piece)});
        requested = true;
        io_cv.notify_all();
      } else if (failed) {
        --u.pins;
        if (count) stall_seconds += seconds_since(t0);
        if (u.error_minimum_bytes) throw BudgetError(u.error, u.error_minimum_bytes);
        throw ModelError(u.error);
      }
      done_cv.wait(lk);
    }
    if (count) {
      stall_seconds += seconds_since(t0);
      end_interval(true);
    }
    if (moved) note_acquire_done(cur, u);
    u.unused_prefetch = false;
    BufferPtr blob = u.blob;
    plan_if_due(lk);
    return blob;
  }

  // An acquire ends the interval the adaptive window looks at. A stall means the window was
  // too short to hide the read only if the I/O thread had been idle with the window all read
  // (since the previous stall) and the prefetcher had room: then a longer window would have
  // kept it reading. A stall while the disk never idled is the bandwidth limit: a longer
  // window cannot hide it, and under a budget every extra unit held ahead pushes out one that
  // would have stayed resident across inferences, so more bytes are read each inference
  // (resnet50 at 30 %: 98 MB with the window grown to 7-16 vs 85 MB at 2).
  void end_interval(bool stalled) {
    if (stalled && cfg.enable_adaptive_window && !plan_active && !pressure && idle_on_window)
      window = std::min(max_window(), window * 2);  // reach far ahead within a few runs
    if (stalled) idle_on_window = false;
    pressure = false;
    shrunk = false;
  }

  void release_unit(int layer, size_t piece) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lk(mu);
      check_piece(layer, piece);
      Unit& u = layers[layer].units[piece];
      if (u.pins > 0) --u.pins;
      note_release(u);
      wake = !all_loaded();
    }
    if (wake) io_cv.notify_all();  // a blocked prefetch may fit now
  }

  // Every unit loaded and nothing asked for: the I/O threads have nothing to do, so the
  // per-step acquire/release need not wake them (a resident session steps through its
  // layers hundreds of times per run; each wake-up was a context switch on both threads).
  // Caller holds mu.
  bool all_loaded() const {
    if (reads_in_flight != 0 || !demand_q.empty()) return false;
    return resident == total_bytes;
  }

  int64_t next_layer_position(int layer) const {
    const int64_t n = static_cast<int64_t>(order.size());
    const int64_t from = cur >= 0 ? unit_pos_to_layer_pos[static_cast<size_t>(cur)] : -1;
    for (int64_t d = 1; d <= n; ++d) {
      const int64_t p = ((from + d) % n + n) % n;
      if (order[static_cast<size_t>(p)] == layer) return p;
    }
    return -1;
  }

  LayerStatus aggregate_status(const Layer& L) const {
    bool any_loaded = false, all_loaded = true, any_loading = false;
    for (const Unit& u : L.units) {
      if (u.status == LayerStatus::Error) return LayerStatus::Error;
      const bool loaded = u.status == LayerStatus::Loaded || u.nbytes == 0;
      any_loaded |= loaded && u.nbytes > 0;
      all_loaded &= loaded;
      any_loading |= u.status == LayerStatus::Loading;
    }
    if (all_loaded) return LayerStatus::Loaded;
    // A split layer partly resident is being streamed.
    return any_loading || any_loaded ? LayerStatus::Loading : LayerStatus::Unloaded;
  }
};

// ---- public API ---------------------------------------------------------------------------

ProgressiveLoader::ProgressiveLoader(std::shared_ptr<WeightsFile> file,
                                     std::shared_ptr<MemoryTracker> tracker,
                                     ProgressiveLoaderConfig config) {
  if (!file) throw std::invalid_argument("ProgressiveLoader needs a weights file");
  if (config.prefetch_window < 0)
    throw std::invalid_argument("prefetch_window must be >= 0, got " +
                                std::to_string(config.prefetch_window));
  impl_ = std::make_unique<Impl>(std::move(file), std::move(tracker), config);
}

ProgressiveLoader::~ProgressiveLoader() = default;

size_t ProgressiveLoader::num_layers() const { return impl_->layers.size(); }

void ProgressiveLoader::set_execution_order(const std::vector<int>& layer_sequence) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (int l : layer_sequence) impl_->check_layer(l);
    impl_->order = layer_sequence;
    impl_->rebuild_sequence();
  }
  impl_->io_cv.notify_all();
}

void ProgressiveLoader::set_config(const ProgressiveLoaderConfig& config) {
  if (config.prefetch_window < 0)
    throw std::invalid_argument("prefetch_window must be >= 0, got " +
                                std::to_string(config.prefetch_window));
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->cfg = config;
    impl_->drop_plan();  // re-planned at the next inference under the new settings
    impl_->reset_window();
    impl_->make_room(0, -1, LayerPriority::Low);  // a smaller budget applies now
    impl_->drop_graveyard();
  }
  impl_->io_cv.notify_all();
}

void ProgressiveLoader::set_bandwidth_limit_mbps(double mbps) {
  if (!(mbps >= 0.0))
    throw std::invalid_argument("bandwidth limit must be >= 0 MB/s (0 = unthrottled)");
  std::lock_guard<std::mutex> lk(impl_->mu);
  if (mbps != impl_->bandwidth_mbps) {
    impl_->bandwidth_mbps = mbps;
    // The rate measured so far belongs to the other disk; re-plan for this one.
    impl_->disk_bytes = 0;
    impl_->disk_busy_seconds = 0.0;
    impl_->drop_plan();
  }
}

BufferPtr ProgressiveLoader::acquire(int layer, size_t position) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->check_layer(layer);
    if (impl_->layers[layer].units.size() > 1)
      throw std::logic_error("layer " + impl_->label(layer) + " is split into " +
                             std::to_string(impl_->layers[layer].units.size()) +
                             " pieces; acquire them with acquire_piece");
  }
  return impl_->acquire_unit(layer, 0, static_cast<int64_t>(position), true);
}

void ProgressiveLoader::release(int layer) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->check_layer(layer);
    for (Unit& u : impl_->layers[layer].units) {
      if (u.pins > 0) --u.pins;
      impl_->note_release(u);
    }
  }
  impl_->io_cv.notify_all();
}

BufferPtr ProgressiveLoader::acquire_piece(int layer, size_t piece, size_t position) {
  return impl_->acquire_unit(layer, piece, static_cast<int64_t>(position), true);
}

void ProgressiveLoader::release_piece(int layer, size_t piece) {
  impl_->release_unit(layer, piece);
}

bool ProgressiveLoader::load_layer(int layer) {
  size_t pieces;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->check_layer(layer);
    pieces = impl_->layers[layer].units.size();
  }
  size_t pinned = 0;
  bool ok = true;
  try {
    for (; pinned < pieces; ++pinned) impl_->acquire_unit(layer, pinned, -1, false);
  } catch (const std::exception&) {
    ok = false;  // the status says Error and layer_error() says why
  }
  for (size_t p = 0; p < pinned; ++p) impl_->release_unit(layer, p);
  return ok;
}

bool ProgressiveLoader::unload_layer(int layer) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  Layer& L = impl_->layers[layer];
  if (L.priority == LayerPriority::Critical) return false;
  for (const Unit& u : L.units)
    if (u.pins > 0 || u.status == LayerStatus::Loading || u.demand) return false;
  for (Unit& u : L.units) {
    if (u.status == LayerStatus::Loaded) impl_->drop(u);
    u.status = LayerStatus::Unloaded;
    u.error.clear();
    u.error_minimum_bytes = 0;
  }
  impl_->drop_graveyard();
  return true;
}

LayerStatus ProgressiveLoader::layer_status(int layer) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  return impl_->aggregate_status(impl_->layers[layer]);
}

void ProgressiveLoader::set_layer_priority(int layer, LayerPriority priority) {
  const int p = static_cast<int>(priority);
  if (p < static_cast<int>(LayerPriority::Low) || p > static_cast<int>(LayerPriority::Critical))
    throw std::invalid_argument("layer priority must be LOW, MEDIUM, HIGH or CRITICAL");
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->check_layer(layer);
    impl_->layers[layer].priority = priority;
    impl_->replan_soon = true;  // priorities order what the plan keeps
    ++impl_->plan_epoch;
  }
  impl_->io_cv.notify_all();
}

LayerPriority ProgressiveLoader::layer_priority(int layer) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  return impl_->layers[layer].priority;
}

LoaderStats ProgressiveLoader::stats() const {
  const MemorySnapshot mem =
      impl_->tracker ? impl_->tracker->snapshot() : MemorySnapshot{};
  std::lock_guard<std::mutex> lk(impl_->mu);
  const Impl& m = *impl_;
  LoaderStats s;
  s.hits = m.hits;
  s.misses = m.misses;
  s.stall_seconds = m.stall_seconds;
  s.bytes_read = m.bytes_read;
  s.evictions = m.evictions;
  s.resident_bytes = m.resident;
  s.peak_resident_bytes = m.peak_resident;
  s.current_window = m.plan_active && m.cfg.enable_prefetch ? m.depth_ahead() : m.effective_window();
  s.bandwidth_limit_mbps = m.bandwidth_mbps;
  s.storage = storage_label(m.bandwidth_mbps);
  s.budget_bytes = static_cast<int64_t>(m.budget());
  s.prefetch_loads = m.prefetch_loads;
  s.demand_loads = m.demand_loads;
  s.wasted_prefetches = m.wasted_prefetches;
  s.load_errors = m.load_errors;
  s.verify_bytes_read = m.verify_bytes;
  s.io_busy_seconds = m.io_busy_seconds;
  s.recycled_bytes = static_cast<int64_t>(m.pages->recycled_bytes());
  s.fresh_blob_bytes = static_cast<int64_t>(m.pages->fresh_bytes());
  s.free_page_bytes = static_cast<int64_t>(m.pages->free_bytes());
  s.position = m.cur;
  s.plan_active = m.plan_active;
  s.planned_resident_bytes = static_cast<int64_t>(m.plan_keep_bytes);
  s.plan_predicted_seconds = m.plan_active ? m.plan_predicted_seconds : 0.0;
  s.plan_stream_all_seconds = m.plan_active ? m.plan_stream_all_seconds : 0.0;
  s.disk_mb_per_s = m.disk_bytes_per_second() / 1e6;
  s.disk_busy_seconds = m.disk_busy_seconds;
  s.min_window = m.cfg.enable_prefetch ? m.min_window() : 0;
  s.max_window = m.cfg.enable_prefetch ? m.max_window() : 0;
  s.tracker_weight_bytes = mem.current[static_cast<int>(MemCategory::Weight)];
  s.tracker_weight_peak_bytes = mem.peak[static_cast<int>(MemCategory::Weight)];
  const size_t n = m.layers.size();
  s.layer_load_seconds.resize(n);
  s.layer_hits.resize(n);
  s.layer_misses.resize(n);
  s.layer_status.resize(n);
  s.layer_priority.resize(n);
  s.layer_bytes.resize(n);
  s.layer_resident_bytes.resize(n);
  s.layer_planned_bytes.resize(n);
  for (size_t l = 0; l < n; ++l) {
    const Layer& L = m.layers[l];
    double secs = 0.0;
    int64_t res = 0, planned = 0;
    for (const Unit& u : L.units) {
      secs += u.load_seconds;
      if (u.status == LayerStatus::Loaded) res += static_cast<int64_t>(u.nbytes);
      if (u.keep) planned += static_cast<int64_t>(u.nbytes);
    }
    s.layer_planned_bytes[l] = planned;
    s.layer_load_seconds[l] = secs;
    s.layer_hits[l] = L.hits;
    s.layer_misses[l] = L.misses;
    s.layer_status[l] = static_cast<int>(m.aggregate_status(L));
    s.layer_priority[l] = static_cast<int>(L.priority);
    s.layer_bytes[l] = static_cast<int64_t>(L.blob_nbytes);
    s.layer_resident_bytes[l] = res;
  }
  return s;
}

void ProgressiveLoader::reset_stats() {
  std::lock_guard<std::mutex> lk(impl_->mu);
  Impl& m = *impl_;
  m.hits = m.misses = m.bytes_read = m.verify_bytes = m.evictions = 0;
  m.prefetch_loads = m.demand_loads = m.wasted_prefetches = m.load_errors = 0;
  m.stall_seconds = m.io_busy_seconds = 0.0;
  m.peak_resident = m.resident;
  for (Layer& L : m.layers) {
    L.hits = L.misses = 0;
    for (Unit& u : L.units) u.load_seconds = 0.0;
  }
}

void ProgressiveLoader::set_layer_names(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->names = names;
}

std::string ProgressiveLoader::layer_error(int layer) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  for (const Unit& u : impl_->layers[layer].units)
    if (u.status == LayerStatus::Error) return u.error;
  return {};
}

size_t ProgressiveLoader::next_position(int layer) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  const int64_t p = impl_->next_layer_position(layer);
  if (p < 0)
    throw std::invalid_argument("layer " + impl_->label(layer) +
                                " does not occur in the execution order");
  return static_cast<size_t>(p);
}

void ProgressiveLoader::set_layer_pieces(int layer, const std::vector<uint64_t>& split_offsets,
                                         const std::vector<size_t>& sequence) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    Impl& m = *impl_;
    m.check_layer(layer);
    Layer& L = m.layers[layer];
    uint64_t prev = 0;
    for (uint64_t off : split_offsets) {
      if (off <= prev || off >= L.blob_nbytes)
        throw std::invalid_argument(
            "split offsets of layer " + m.label(layer) +
            " must increase strictly inside (0, " + std::to_string(L.blob_nbytes) + ")");
      prev = off;
    }
    std::vector<uint64_t> bounds{0};
    bounds.insert(bounds.end(), split_offsets.begin(), split_offsets.end());
    bounds.push_back(L.blob_nbytes);
    const size_t count = bounds.size() - 1;
    std::vector<size_t> seq = sequence;
    if (seq.empty())
      for (size_t p = 0; p < count; ++p) seq.push_back(p);
    std::vector<size_t> sorted = seq;
    std::sort(sorted.begin(), sorted.end());
    for (size_t p = 0; p < sorted.size(); ++p)
      if (sorted.size() != count || sorted[p] != p)
        throw std::invalid_argument("the piece sequence of layer " + m.label(layer) +
                                    " must list each of its " + std::to_string(count) +
                                    " pieces once");
    bool same = count == L.units.size() && seq == L.sequence;
    for (size_t p = 0; same && p < L.units.size(); ++p)
      same = L.units[p].offset == L.blob_offset + bounds[p] &&
             L.units[p].nbytes == bounds[p + 1] - bounds[p];
    if (same) return;
    for (const Unit& u : L.units)
      if (u.pins > 0 || u.demand)
        throw std::logic_error("cannot split layer " + m.label(layer) +
                               " while it is acquired; release it first");
    for (Unit& u : L.units)
      if (u.status == LayerStatus::Loaded) m.drop(u);  // a read in flight is dropped on finish
    m.drop_graveyard();
    std::vector<Unit> units(bounds.size() - 1);
    for (size_t p = 0; p < units.size(); ++p) {
      units[p].offset = L.blob_offset + bounds[p];
      units[p].nbytes = bounds[p + 1] - bounds[p];
    }
    for (size_t i = 0; i < seq.size(); ++i) units[seq[i]].seq_index = static_cast<int64_t>(i);
    L.units = std::move(units);
    L.sequence = std::move(seq);
    L.pieces_verified = L.units.size() == 1;
    L.deriving = false;  // a derive in flight belongs to the old pieces (dropped on finish)
    ++L.generation;
    m.rebuild_sequence();
  }
  impl_->io_cv.notify_all();
}

uint64_t ProgressiveLoader::budget_bytes() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->budget();
}

double ProgressiveLoader::stall_seconds() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  return impl_->stall_seconds;
}

uint64_t ProgressiveLoader::layer_nbytes(int layer) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  return impl_->layers[layer].blob_nbytes;
}

size_t ProgressiveLoader::num_pieces(int layer) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_layer(layer);
  return impl_->layers[layer].units.size();
}

std::pair<uint64_t, uint64_t> ProgressiveLoader::piece_range(int layer, size_t piece) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_piece(layer, piece);
  const Layer& L = impl_->layers[layer];
  return {L.units[piece].offset - L.blob_offset, L.units[piece].nbytes};
}

}  // namespace tinyai
