// A Session executes one model: it owns the weights (read from the weights file through the
// core's allocators), one kernel per node, and a memory plan per input signature.
//
// The first run at a new input signature profiles: tensors are allocated one by one and the
// sizes, views and scratch are recorded. From that record the scheduler computes a static
// plan (order + activation arena offsets) that every later run at that signature uses;
// changing planning options re-plans from the record without profiling again.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tinyai/config.h"
#include "tinyai/graph.h"
#include "tinyai/memory.h"
#include "tinyai/op.h"
#include "tinyai/tensor.h"
#include "tinyai/thread_pool.h"
#include "tinyai/progressive_loader.h"
#include "tinyai/weights_file.h"

namespace tinyai {

struct RunRecord;
struct MemoryPlan;
struct ConstantRef;
class WeightBinder;

struct SessionStats {
  MemorySnapshot memory;
  double last_latency_s = 0.0;
  int64_t runs = 0;
  int64_t plans_cached = 0;
  int64_t arena_bytes = 0;      // activation arena of the plan in use (0 while profiling)
  int64_t live_bytes = 0;       // intermediate bytes live at the current/last step
  int64_t live_peak_bytes = 0;  // max live bytes of the last run
  int64_t recompute_count = 0;  // recompute steps in the last run's plan
  int64_t current_step = -1;    // position in the plan of the running step (-1 idle)
  int64_t current_layer = -1;
  // Per layer (graph layer index), over the last completed run: seconds its kernels computed,
  // and seconds it waited for its weights (the loader's stalls). Empty before the first run.
  std::vector<double> layer_compute_seconds, layer_wait_seconds;
};

// One step of a plan, for create_execution_plan() and the GUI's preview.
struct PlanStep {
  int node = -1;
  int layer = -1;
  std::string node_name, op_type;
  int64_t live_bytes = 0;       // intermediate bytes live during this step
  int64_t output_offset = -1;   // arena offset of the first output (-1: not in the arena)
  int64_t output_bytes = 0;
  bool in_place = false;
  bool recomputed = false;
};

struct MemoryEstimate {
  int64_t activation_peak_bytes = 0;
  int64_t weight_peak_bytes = 0;
  int64_t scratch_peak_bytes = 0;
  int64_t output_bytes = 0;
  int64_t total_peak_bytes = 0;
  int64_t naive_activation_bytes = 0;  // one buffer per tensor
  int64_t in_order_bound_bytes = 0;    // max live intermediates over graph-order steps
  int64_t live_peak_bytes = 0;         // max live intermediates in the planned order
  int64_t minimum_total_bytes = 0;     // total with reuse + in-place + memory-aware order
  int64_t minimum_streaming_total_bytes = 0;  // same, weights streamed one step's layers at a time
  int in_place_count = 0;
  int recompute_count = 0;             // steps that re-run a node for a dropped activation
  bool reordered = false;
  bool keep_arena = true;
  // Conv weights packed for the GEMM kept across runs (tradeoff >= 0.75, weights resident);
  // their bytes are part of weight_peak_bytes.
  bool keep_packed_weights = false;
  int64_t packed_weight_bytes = 0;
  bool scratch_measured = false;
  std::vector<int64_t> layer_peak_bytes;  // per layer: max live intermediates during its steps
};

class Session {
 public:
  Session(std::shared_ptr<const Graph> graph, const std::string& weights_path,
          SessionConfig config);
  ~Session();

  // Named inputs in, named outputs out. Inputs are borrowed (not copied) for the run.
  std::map<std::string, TensorPtr> run(const std::map<std::string, Tensor>& inputs);

  SessionStats stats() const;
  const SessionConfig& config() const { return config_; }
  void set_config(const SessionConfig& c);  // takes effect at the next run
  void cancel() { cancel_requested_.store(true); }
  // Per-layer checkpoint strategy (see CheckpointStrategy); like set_config, it takes effect
  // (re-plans) at the next run or estimate, and only while scheduler.enable_checkpointing is on.
  void set_layer_checkpointing_strategy(int layer, CheckpointStrategy s);
  CheckpointStrategy layer_checkpointing_strategy(int layer) const;
  const Graph& graph() const { return *graph_; }

  // True once a run (or profile()) has recorded this signature.
  bool has_plan(const std::map<std::string, Tensor>& inputs);
  // Estimate and plan for the input signature of `inputs` (profiling it first if needed),
  // under the pending configuration.
  MemoryEstimate estimate(const std::map<std::string, Tensor>& inputs);
  std::vector<PlanStep> plan_steps(const std::map<std::string, Tensor>& inputs);

  // Step through a model layer by layer (graph order, no arena): begin with inputs, then
  // execute layers 0, 1, 2, ... in turn; outputs are returned after the last layer.
  void begin_stepping(const std::map<std::string, Tensor>& inputs);
  std::map<std::string, TensorPtr> execute_layer(int layer);
  int next_step_layer() const;

  // Progressive loader (TinyAI seed API). Weights stream when loader.max_memory_usage > 0;
  // otherwise every layer is loaded when the session is created.
  ProgressiveLoader& loader() { return *loader_; }
  const ProgressiveLoader& loader() const { return *loader_; }

 private:
  struct PlanEntry;
  void index_constants();
  bool streaming() const { return config_.loader.max_memory_usage != 0; }
  int64_t total_weight_bytes() const;
  int64_t packed_weight_bytes() const;  // live packed copies kernels keep across runs
  void preload_weights();
  void check_inputs(const std::map<std::string, Tensor>& inputs) const;
  std::string signature(const std::map<std::string, Tensor>& inputs) const;
  // Throws InputError unless 0 <= layer < the number of layers.
  void check_layer_index(int layer) const;
  void apply_pending_config();
  PlanEntry& plan_for(const std::map<std::string, Tensor>& inputs, bool measure_scratch);
  PlanEntry* find_entry(const std::string& sig);
  PlanEntry& store_entry(const std::string& sig, std::unique_ptr<PlanEntry> e);
  std::unique_ptr<PlanEntry> predicted_entry(const std::map<std::string, Tensor>& inputs) const;
  void replan_if_needed(PlanEntry& e);
  // Runs the graph: with `entry`'s plan (arena), or profiling into `profile`. Allocations
  // beyond `budget` bytes (0 = none) raise BudgetError.
  std::map<std::string, TensorPtr> execute(const std::map<std::string, Tensor>& inputs,
                                           PlanEntry* entry, PlanEntry* profile, size_t budget);
  MemoryEstimate estimate_for(const PlanEntry& e) const;
  void enforce_budget(const PlanEntry& e) const;
  std::vector<TensorPtr> fresh_values(const std::map<std::string, Tensor>& inputs) const;

  std::shared_ptr<const Graph> graph_;
  std::shared_ptr<WeightsFile> weights_;
  std::unique_ptr<ProgressiveLoader> loader_;  // owns resident weights (all, or a budget's worth)
  std::vector<int> loader_sequence_;           // the execution order last given to the loader
  SessionConfig config_;
  SessionConfig pending_config_;
  std::atomic<bool> config_dirty_{false};
  mutable std::mutex config_mutex_;
  std::vector<CheckpointStrategy> strategies_;          // by layer, in use
  std::vector<CheckpointStrategy> pending_strategies_;  // by layer, applied with the config
  std::shared_ptr<MemoryTracker> tracker_;
  std::unique_ptr<ThreadPool> pool_;  // intra-op workers, config_.threads of them
  int pool_threads_ = 0;              // the config value pool_ was built for
  std::vector<ConstantRef> constants_;  // by value id: where each constant lives
  std::vector<std::unique_ptr<OpKernel>> kernels_;
  std::vector<int> last_use_;           // graph order: value id -> last consuming node
  std::vector<char> is_output_;
  int64_t output_bytes_hint_ = 0;

  mutable std::mutex plan_mutex_;
  std::map<std::string, std::unique_ptr<PlanEntry>> plans_;
  std::string last_signature_;
  BufferPtr arena_;  // kept between runs when the tradeoff favours speed
  // Packed weight copies kernels hold across runs (KernelContext::persistent), for counting;
  // measured once every kernel has run under the configuration in effect.
  std::vector<std::weak_ptr<Buffer>> packed_;
  bool packed_measured_ = false;

  // Stepping state.
  std::vector<TensorPtr> step_values_;
  std::unique_ptr<WeightBinder> step_binder_;
  std::vector<BufferPtr> step_inputs_;
  int step_next_layer_ = -1;

  std::atomic<bool> cancel_requested_{false};
  std::mutex run_mutex_;  // one run at a time per session
  std::atomic<double> last_latency_s_{0.0};
  std::atomic<int64_t> runs_{0};
  std::atomic<int64_t> arena_bytes_{0};
  std::atomic<int64_t> live_bytes_{0};
  std::atomic<int64_t> live_peak_bytes_{0};
  std::atomic<int64_t> recompute_count_{0};
  std::atomic<int64_t> current_step_{-1};
  std::atomic<int64_t> current_layer_{-1};
  std::vector<double> layer_compute_s_, layer_wait_s_;  // last completed run; plan_mutex_
};

}  // namespace tinyai
