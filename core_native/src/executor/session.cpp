#include "tinyai/session.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <sstream>

#include "executor/node_context.h"

namespace tinyai {

namespace {
constexpr int kNeverReleased = INT_MAX;

// Graph inputs and constants must have a dtype the kernels understand; blame the first node
// that consumes them so the user learns which op cannot run.
[[noreturn]] void unsupported_value_dtype(const Graph& g, int value, const char* role) {
  const Value& v = g.values[value];
  for (const Node& n : g.nodes)
    for (int in : n.inputs)
      if (in == value)
        throw UnsupportedOperatorError(n.op_type, n.name,
                                       std::string(role) + " '" + v.name + "' has dtype " +
                                           onnx_dtype_name(v.onnx_dtype) +
                                           "; the core supports float32, int64, int32 and bool");
  throw ModelError(std::string(role) + " '" + v.name + "' has unsupported dtype " +
                   onnx_dtype_name(v.onnx_dtype));
}
}  // namespace

Session::Session(std::shared_ptr<const Graph> graph, const std::string& weights_path,
                 SessionConfig config)
    : graph_(std::move(graph)),
      config_(config),
      pending_config_(config),
      tracker_(std::make_shared<MemoryTracker>()) {
  const Graph& g = *graph_;
  g.validate();
  for (int v : g.inputs) {
    DType dt;
    if (g.values[v].onnx_dtype != 0 && !dtype_from_onnx(g.values[v].onnx_dtype, &dt))
      unsupported_value_dtype(g, v, "graph input");
  }
  kernels_.reserve(g.nodes.size());
  for (const Node& n : g.nodes) {
    for (int in : n.inputs) {
      DType dt;
      if (in >= 0 && g.values[in].is_constant && !dtype_from_onnx(g.values[in].onnx_dtype, &dt))
        unsupported_value_dtype(g, in, "constant");
    }
    kernels_.push_back(create_kernel(n));
  }

  last_use_.assign(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int in : g.nodes[i].inputs)
      if (in >= 0) last_use_[in] = static_cast<int>(i);
  for (int v : g.outputs) last_use_[v] = kNeverReleased;

  weights_ = std::make_unique<WeightsFile>(weights_path);
  if (weights_->num_layers() != g.layers.size())
    throw ModelError("weights file has " + std::to_string(weights_->num_layers()) +
                     " layers but the graph has " + std::to_string(g.layers.size()) +
                     "; re-import the model");
  load_weights();
}

Session::~Session() = default;

void Session::load_weights() {
  const Graph& g = *graph_;
  layer_blobs_.assign(g.layers.size(), nullptr);
  for (size_t l = 0; l < g.layers.size(); ++l) {
    const WeightBlob& b = weights_->blob(l);
    if (b.nbytes == 0) continue;
    auto buf = std::make_shared<Buffer>(tracker_, MemCategory::Weight, b.nbytes);
    weights_->read_blob(l, buf->data());
    layer_blobs_[l] = std::move(buf);
  }
  constants_.assign(g.values.size(), nullptr);
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (!val.is_constant) continue;
    auto t = std::make_shared<Tensor>();
    if (!dtype_from_onnx(val.onnx_dtype, &t->dtype)) continue;  // rejected above if consumed
    t->shape = val.shape;
    const int l = val.constant_layer;
    if (l < 0 || l >= static_cast<int>(g.layers.size()))
      throw ModelError("constant '" + val.name + "' refers to a missing layer");
    const WeightBlob& b = weights_->blob(static_cast<size_t>(l));
    if (t->nbytes() != val.constant_nbytes || val.constant_offset < b.offset ||
        val.constant_offset + val.constant_nbytes > b.offset + b.nbytes)
      throw ModelError("constant '" + val.name + "' does not fit its layer blob; re-import");
    t->buffer = layer_blobs_[l];
    t->data = t->buffer ? static_cast<char*>(t->buffer->data()) + (val.constant_offset - b.offset)
                        : nullptr;
    constants_[v] = std::move(t);
  }
}

void Session::check_inputs(const std::map<std::string, Tensor>& inputs) const {
  const Graph& g = *graph_;
  std::string expected;
  for (int v : g.inputs) expected += (expected.empty() ? "'" : ", '") + g.values[v].name + "'";
  for (const auto& kv : inputs)
    if (g.value_id(kv.first) < 0 ||
        std::find(g.inputs.begin(), g.inputs.end(), g.value_id(kv.first)) == g.inputs.end())
      throw InputError("unknown input '" + kv.first + "'; the model's inputs are " + expected);
  for (int v : g.inputs) {
    const Value& val = g.values[v];
    auto it = inputs.find(val.name);
    if (it == inputs.end())
      throw InputError("missing input '" + val.name + "'; the model's inputs are " + expected);
    const Tensor& t = it->second;
    DType want;
    if (val.onnx_dtype != 0 && dtype_from_onnx(val.onnx_dtype, &want) && want != t.dtype)
      throw InputError("input '" + val.name + "' must be " + dtype_name(want) + ", got " +
                       dtype_name(t.dtype));
    if (!val.has_shape) continue;
    if (val.shape.size() != t.shape.size())
      throw InputError("input '" + val.name + "' must have rank " +
                       std::to_string(val.shape.size()) + ", got shape " + shape_str(t.shape));
    for (size_t d = 0; d < val.shape.size(); ++d)
      if (val.shape[d] != kSymbolicDim && val.shape[d] != t.shape[d])
        throw InputError("input '" + val.name + "' dimension " + std::to_string(d) + " must be " +
                         std::to_string(val.shape[d]) + ", got shape " + shape_str(t.shape));
  }
}

std::string Session::signature(const std::map<std::string, Tensor>& inputs) const {
  std::ostringstream o;
  for (const auto& kv : inputs) o << kv.first << ':' << static_cast<int>(kv.second.dtype) << shape_str(kv.second.shape) << ';';
  return o.str();
}

void Session::set_config(const SessionConfig& c) {
  std::lock_guard<std::mutex> lock(config_mutex_);
  pending_config_ = c;
  config_dirty_.store(true);
}

std::map<std::string, TensorPtr> Session::run(const std::map<std::string, Tensor>& inputs) {
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  if (config_dirty_.exchange(false)) {
    std::lock_guard<std::mutex> lock(config_mutex_);
    config_ = pending_config_;  // applied at an inference boundary, never mid-kernel
  }
  cancel_requested_.store(false);
  check_inputs(inputs);
  const auto t0 = std::chrono::steady_clock::now();
  tracker_->reset_peaks();

  const Graph& g = *graph_;
  std::vector<TensorPtr> values(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) values[v] = constants_[v];
  for (int v : g.inputs) values[v] = std::make_shared<Tensor>(inputs.at(g.values[v].name));

  const std::string sig = signature(inputs);
  bool record_plan;
  {
    std::lock_guard<std::mutex> lock(plan_mutex_);
    record_plan = plans_.find(sig) == plans_.end();
  }
  ExecutionPlan plan;

  NodeContext ctx(tracker_);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& node = g.nodes[i];
    if (i > 0 && node.layer != g.nodes[i - 1].layer && cancel_requested_.load())
      throw CancelledError("run cancelled at layer '" + g.layers[node.layer].name + "'");
    ctx.prepare(node, values);
    kernels_[i]->run(ctx);
    ExecutionPlan::Step step;
    step.node = static_cast<int>(i);
    step.layer = node.layer;
    step.output_bytes = ctx.collect_outputs(values, last_use_);
    ctx.release_scratch();
    // Free what this node was the last reader of; constants stay owned by constants_, and
    // views keep their storage alive through the shared buffer.
    for (int in : node.inputs)
      if (in >= 0 && last_use_[in] == static_cast<int>(i)) values[in].reset();
    if (record_plan) {
      // The tracker is exact (views share storage), so live bytes come from it.
      step.live_bytes_after = tracker_->snapshot().current[static_cast<int>(MemCategory::Activation)];
      plan.peak_live_bytes = std::max(plan.peak_live_bytes, step.live_bytes_after);
      plan.steps.push_back(step);
    }
  }

  std::map<std::string, TensorPtr> outputs;
  for (int v : g.outputs) outputs[g.values[v].name] = values[v];

  if (record_plan) {
    plan.value_shapes.resize(g.values.size());
    plan.value_dtypes.assign(g.values.size(), 0);
    for (size_t v = 0; v < g.values.size(); ++v) {
      const TensorPtr& t = values[v];
      if (t) {
        plan.value_shapes[v] = t->shape;
        plan.value_dtypes[v] = static_cast<int>(t->dtype);
      }
    }
    std::lock_guard<std::mutex> lock(plan_mutex_);
    plans_.emplace(sig, std::move(plan));
  }
  {
    std::lock_guard<std::mutex> lock(plan_mutex_);
    last_signature_ = sig;
  }
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  last_latency_s_.store(dt.count());
  runs_.fetch_add(1);
  return outputs;
}

SessionStats Session::stats() const {
  SessionStats s;
  s.memory = tracker_->snapshot();
  s.last_latency_s = last_latency_s_.load();
  s.runs = runs_.load();
  std::lock_guard<std::mutex> lock(plan_mutex_);
  s.plans_cached = static_cast<int64_t>(plans_.size());
  return s;
}

ExecutionPlan Session::last_plan() const {
  std::lock_guard<std::mutex> lock(plan_mutex_);
  auto it = plans_.find(last_signature_);
  return it == plans_.end() ? ExecutionPlan{} : it->second;
}

}  // namespace tinyai
