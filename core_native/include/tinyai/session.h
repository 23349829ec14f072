// A Session executes one model: it owns the weights (read from the weights file through the
// core's allocators), one kernel per node, and the per-input-shape plans.
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
#include "tinyai/weights_file.h"

namespace tinyai {

struct SessionStats {
  MemorySnapshot memory;
  double last_latency_s = 0.0;
  int64_t runs = 0;
  int64_t plans_cached = 0;
};

// What one input signature's execution looked like: per node, output bytes and live bytes.
struct ExecutionPlan {
  struct Step {
    int node = -1;
    int layer = -1;
    int64_t output_bytes = 0;
    int64_t live_bytes_after = 0;  // activation bytes live after this step
  };
  std::vector<Step> steps;
  std::vector<Shape> value_shapes;  // by value id (empty when never computed)
  std::vector<int> value_dtypes;
  int64_t peak_live_bytes = 0;
};

class Session {
 public:
  // `graph` must be validated; `weights_path` is the model directory's weights file.
  Session(std::shared_ptr<const Graph> graph, const std::string& weights_path,
          SessionConfig config);
  ~Session();

  // Named inputs in, named outputs out. Inputs are borrowed (not copied) for the run.
  std::map<std::string, TensorPtr> run(const std::map<std::string, Tensor>& inputs);

  SessionStats stats() const;
  const SessionConfig& config() const { return config_; }
  void set_config(const SessionConfig& c);  // takes effect at the next run
  void cancel() { cancel_requested_.store(true); }
  const Graph& graph() const { return *graph_; }
  // The plan recorded for the most recent input signature (empty before the first run).
  ExecutionPlan last_plan() const;

 private:
  void load_weights();
  void check_inputs(const std::map<std::string, Tensor>& inputs) const;
  std::string signature(const std::map<std::string, Tensor>& inputs) const;

  std::shared_ptr<const Graph> graph_;
  std::unique_ptr<WeightsFile> weights_;
  SessionConfig config_;
  SessionConfig pending_config_;
  std::atomic<bool> config_dirty_{false};
  std::mutex config_mutex_;
  std::shared_ptr<MemoryTracker> tracker_;
  std::vector<BufferPtr> layer_blobs_;  // one per layer (null when the layer has no weights)
  std::vector<TensorPtr> constants_;    // by value id, views into layer_blobs_
  std::vector<std::unique_ptr<OpKernel>> kernels_;
  std::vector<int> last_use_;           // value id -> index of last consuming node
  std::vector<int> consumer_count_;

  mutable std::mutex plan_mutex_;
  std::map<std::string, ExecutionPlan> plans_;
  std::string last_signature_;

  std::atomic<bool> cancel_requested_{false};
  std::mutex run_mutex_;  // one run at a time per session
  std::atomic<double> last_latency_s_{0.0};
  std::atomic<int64_t> runs_{0};
};

}  // namespace tinyai
