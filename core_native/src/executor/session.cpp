#include "tinyai/session.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "executor/node_context.h"
#include "executor/weight_binder.h"
#include "executor/weight_streaming.h"
#include "scheduler/memory_plan.h"
#include "scheduler/recompute.h"

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
      tracker_(std::make_shared<MemoryTracker>()),
      pool_(std::make_unique<ThreadPool>(config.threads)),
      pool_threads_(config.threads) {
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

  strategies_.assign(g.layers.size(), CheckpointStrategy::Keep);
  pending_strategies_ = strategies_;
  last_use_.assign(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int in : g.nodes[i].inputs)
      if (in >= 0) last_use_[in] = static_cast<int>(i);
  is_output_.assign(g.values.size(), 0);
  for (int v : g.outputs) {
    last_use_[v] = kNeverReleased;
    is_output_[v] = 1;
  }

  weights_ = std::make_shared<WeightsFile>(weights_path);
  if (weights_->num_layers() != g.layers.size())
    throw ModelError("weights file has " + std::to_string(weights_->num_layers()) +
                     " layers but the graph has " + std::to_string(g.layers.size()) +
                     "; re-import the model");
  index_constants();
  loader_ = std::make_unique<ProgressiveLoader>(weights_, tracker_, config_.loader);
  std::vector<std::string> names;
  for (const Layer& l : g.layers) names.push_back(l.name);
  loader_->set_layer_names(names);
  const size_t budget = config_.memory.max_memory_budget;
  const int64_t weight_bytes = total_weight_bytes();
  if (!streaming() && budget != 0 && weight_bytes > static_cast<int64_t>(budget))
    throw BudgetError("memory budget of " + std::to_string(budget) + " bytes is below the " +
                          std::to_string(weight_bytes) + " bytes of weights held resident, so the "
                          "minimum is at least that; or set loader.max_memory_usage to stream "
                          "weights within the budget",
                      static_cast<size_t>(weight_bytes));
  if (!streaming()) preload_weights();
}

Session::~Session() = default;

int64_t Session::total_weight_bytes() const {
  int64_t total = 0;
  for (size_t l = 0; l < weights_->num_layers(); ++l) total += static_cast<int64_t>(weights_->blob(l).nbytes);
  return total;
}

int64_t Session::packed_weight_bytes() const {
  int64_t total = 0;
  for (const auto& b : packed_)
    if (auto live = b.lock()) total += static_cast<int64_t>(live->size());
  return total;
}

void Session::preload_weights() {
  for (size_t l = 0; l < graph_->layers.size(); ++l)
    if (weights_->blob(l).nbytes && !loader_->load_layer(static_cast<int>(l)))
      throw ModelError(loader_->layer_error(static_cast<int>(l)));
}

void Session::index_constants() {
  const Graph& g = *graph_;
  constants_.assign(g.values.size(), ConstantRef{});
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (!val.is_constant) continue;
    ConstantRef c;
    if (!dtype_from_onnx(val.onnx_dtype, &c.tmpl.dtype)) continue;  // rejected above if consumed
    c.tmpl.shape = val.shape;
    const int l = val.constant_layer;
    if (l < 0 || l >= static_cast<int>(g.layers.size()))
      throw ModelError("constant '" + val.name + "' refers to a missing layer");
    const WeightBlob& b = weights_->blob(static_cast<size_t>(l));
    if (c.tmpl.nbytes() != val.constant_nbytes || val.constant_offset < b.offset ||
        val.constant_offset + val.constant_nbytes > b.offset + b.nbytes)
      throw ModelError("constant '" + val.name + "' does not fit its layer blob; re-import");
    c.layer = l;
    c.offset_in_blob = val.constant_offset - b.offset;
    c.valid = true;
    constants_[v] = std::move(c);
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

struct Session::PlanEntry {
  RunRecord record;
  MemoryPlan plan;
  PlanOptions options;
  RecomputeOptions recompute;
  bool planned = false;
  bool stale = false;
  bool scratch_measured = false;  // false while the record is a static prediction
};

namespace {
PlanOptions options_from(const SessionConfig& c) {
  PlanOptions o;
  o.tensor_reuse = c.memory.enable_tensor_reuse;
  o.in_place = c.memory.enable_in_place_ops;
  o.reorder = c.memory.enable_tensor_reuse;
  return o;
}

// Tradeoff table rows for recomputation (README): with checkpointing and
// recompute_activations on and no max_activation_memory, a tradeoff below 0.5 lets the
// planner recompute for as long as that lowers the activation peak.
RecomputeOptions recompute_options_from(const SessionConfig& c,
                                        const std::vector<CheckpointStrategy>& strategies) {
  RecomputeOptions r;
  r.enabled = c.scheduler.enable_checkpointing;
  if (!r.enabled) return r;  // strategies are ignored: the plan is as without checkpointing
  r.automatic = c.scheduler.recompute_activations;
  r.max_activation = static_cast<int64_t>(c.scheduler.max_activation_memory);
  r.minimize = r.automatic && r.max_activation == 0 && c.scheduler.memory_speed_tradeoff < 0.5f;
  r.layer_strategy = strategies;
  return r;
}

bool same_options(const PlanOptions& a, const PlanOptions& b) {
  return a.tensor_reuse == b.tensor_reuse && a.in_place == b.in_place && a.reorder == b.reorder;
}

// Tradeoff table row: keep the activation arena allocated between runs (no page faults on
// the next run) unless the tradeoff favours memory.
bool keep_arena(const SessionConfig& c) { return c.memory.memory_speed_tradeoff >= 0.5f; }

std::string mib(int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MiB (%lld bytes)", static_cast<double>(bytes) / (1 << 20),
                static_cast<long long>(bytes));
  return buf;
}
}  // namespace

std::string Session::signature(const std::map<std::string, Tensor>& inputs) const {
  std::ostringstream o;
  for (const auto& kv : inputs)
    o << kv.first << ':' << static_cast<int>(kv.second.dtype) << shape_str(kv.second.shape) << ';';
  return o.str();
}

void Session::check_layer_index(int layer) const {
  if (layer < 0 || layer >= static_cast<int>(graph_->layers.size()))
    throw InputError("layer index " + std::to_string(layer) + " out of range (the model has " +
                     std::to_string(graph_->layers.size()) + " layers)");
}

void Session::set_layer_checkpointing_strategy(int layer, CheckpointStrategy s) {
  check_layer_index(layer);
  if (s != CheckpointStrategy::Keep && s != CheckpointStrategy::Checkpoint &&
      s != CheckpointStrategy::Recompute)
    throw InputError("checkpoint strategy must be KEEP (0), CHECKPOINT (1) or RECOMPUTE (2), got " +
                     std::to_string(static_cast<int>(s)));
  std::lock_guard<std::mutex> lock(config_mutex_);
  pending_strategies_[static_cast<size_t>(layer)] = s;
  config_dirty_.store(true);  // re-plans at the next run or estimate
}

CheckpointStrategy Session::layer_checkpointing_strategy(int layer) const {
  check_layer_index(layer);
  std::lock_guard<std::mutex> lock(config_mutex_);
  return pending_strategies_[static_cast<size_t>(layer)];
}

void Session::set_config(const SessionConfig& c) {
  std::lock_guard<std::mutex> lock(config_mutex_);
  pending_config_ = c;
  config_dirty_.store(true);
}

void Session::apply_pending_config() {
  if (config_dirty_.exchange(false)) {
    std::lock_guard<std::mutex> lock(config_mutex_);
    config_ = pending_config_;  // applied at an inference boundary, never mid-kernel
    strategies_ = pending_strategies_;
    loader_->set_config(config_.loader);
    // Checkpointing exists to lower the activation peak: a re-plan must not inherit a larger
    // arena (it is also freed before the run's peaks are reset).
    if (!keep_arena(config_) || config_.scheduler.enable_checkpointing) arena_.reset();
    // Kept packed weights may no longer match (SIMD level, blocking): the next estimate
    // measures them again; when the settings no longer keep them at all, free them now.
    packed_measured_ = false;
    if (!keep_packed_weights(config_)) {
      for (auto& k : kernels_) k->drop_persistent();
      packed_.clear();
    }
  }
  if (config_.threads != pool_threads_) {  // also when estimate() applied the config
    pool_.reset();  // join the old workers first
    pool_ = std::make_unique<ThreadPool>(config_.threads);
    pool_threads_ = config_.threads;
  }
}

std::vector<TensorPtr> Session::fresh_values(const std::map<std::string, Tensor>& inputs) const {
  const Graph& g = *graph_;
  std::vector<TensorPtr> values(g.values.size());
  for (int v : g.inputs) values[v] = std::make_shared<Tensor>(inputs.at(g.values[v].name));
  return values;
}

void Session::replan_if_needed(PlanEntry& e) {
  const PlanOptions want = options_from(config_);
  const RecomputeOptions want_r = recompute_options_from(config_, strategies_);
  if (e.planned && !e.stale && same_options(e.options, want) && e.recompute == want_r) return;
  // Throws BudgetError (leaving the entry as it was) when max_activation_memory is infeasible.
  e.plan = plan_with_recompute(*graph_, e.record, plan_memory(*graph_, e.record, want), want_r);
  e.options = want;
  e.recompute = want_r;
  e.planned = true;
  e.stale = false;
}

Session::PlanEntry* Session::find_entry(const std::string& sig) {
  std::lock_guard<std::mutex> lock(plan_mutex_);
  auto it = plans_.find(sig);
  if (it == plans_.end() || it->second->stale) return nullptr;
  replan_if_needed(*it->second);
  last_signature_ = sig;
  return it->second.get();
}

Session::PlanEntry& Session::store_entry(const std::string& sig, std::unique_ptr<PlanEntry> e) {
  replan_if_needed(*e);
  std::lock_guard<std::mutex> lock(plan_mutex_);
  PlanEntry& ref = *e;
  plans_[sig] = std::move(e);
  last_signature_ = sig;
  return ref;
}

std::unique_ptr<Session::PlanEntry> Session::predicted_entry(
    const std::map<std::string, Tensor>& inputs) const {
  const Graph& g = *graph_;
  for (int v : g.inputs) {  // the prediction holds for the declared static shapes only
    const Value& val = g.values[v];
    auto it = inputs.find(val.name);
    if (it == inputs.end() || !val.has_shape || it->second.shape != val.shape) return nullptr;
  }
  auto e = std::make_unique<PlanEntry>();
  if (!predict_run_record(g, &e->record)) return nullptr;
  return e;
}

Session::PlanEntry& Session::plan_for(const std::map<std::string, Tensor>& inputs,
                                      bool measure_scratch) {
  const std::string sig = signature(inputs);
  PlanEntry* e = find_entry(sig);
  if (!e) {
    if (auto predicted = predicted_entry(inputs)) {
      e = &store_entry(sig, std::move(predicted));
    } else {
      // Profile: run once with one tracked buffer per tensor, recording sizes and views.
      auto fresh = std::make_unique<PlanEntry>();
      fresh->record.values.resize(graph_->values.size());
      fresh->record.node_scratch_bytes.assign(graph_->nodes.size(), 0);
      execute(inputs, nullptr, fresh.get(), 0);
      fresh->scratch_measured = true;
      e = &store_entry(sig, std::move(fresh));
    }
  }
  // Packed weights kept across runs are measured like scratch: by running once.
  if (measure_scratch &&
      (!e->scratch_measured || (keep_packed_weights(config_) && !packed_measured_)))
    execute(inputs, e, nullptr, 0);
  return *e;
}

MemoryEstimate Session::estimate_for(const PlanEntry& e) const {
  MemoryEstimate m;
  const MemoryPlan& p = e.plan;
  int64_t outputs = 0;
  for (int v : graph_->outputs) {
    const auto& r = e.record.values[v];
    outputs += r.produced && r.view_of < 0 ? r.bytes : 0;
  }
  // Weights: everything when resident; when streaming, the loader's budget bounds them, and
  // the floor is the largest set of layers one step needs at once -- a Gemm/MatMul weight
  // streamed in row blocks counts one block (weight_streaming.h).
  int64_t weights = total_weight_bytes();
  int64_t weights_floor = 0;
  std::vector<uint64_t> blob_bytes(graph_->layers.size());
  for (size_t l = 0; l < blob_bytes.size(); ++l) blob_bytes[l] = weights_->blob(l).nbytes;
  const std::vector<StreamableLayer> streamable =
      find_streamable_layers(*graph_, constants_, blob_bytes);
  for (int ni : p.order) {
    int64_t step = 0;
    for (int l : constant_layers(graph_->nodes[ni], constants_))
      step += static_cast<int64_t>(streaming_floor_bytes(streamable[static_cast<size_t>(l)]));
    weights_floor = std::max(weights_floor, step);
  }
  if (streaming())
    weights = std::min<int64_t>(weights, static_cast<int64_t>(config_.loader.max_memory_usage));
  m.keep_packed_weights = keep_packed_weights(config_);
  m.packed_weight_bytes = m.keep_packed_weights ? packed_weight_bytes() : 0;
  weights += m.packed_weight_bytes;  // resident copies of weights
  m.activation_peak_bytes = p.arena_bytes;
  m.weight_peak_bytes = weights;
  m.scratch_peak_bytes = p.scratch_peak;
  m.output_bytes = outputs;
  m.total_peak_bytes = p.arena_bytes + weights + p.scratch_peak + outputs;
  m.naive_activation_bytes = p.naive_bytes;
  m.in_order_bound_bytes = p.in_order_bound;
  m.live_peak_bytes = p.live_peak;
  m.in_place_count = p.in_place_count;
  m.recompute_count = p.recompute_count;
  m.reordered = p.reordered;
  m.keep_arena = keep_arena(config_);
  m.scratch_measured = e.scratch_measured;
  m.layer_peak_bytes.assign(graph_->layers.size(), 0);
  for (size_t pos = 0; pos < p.order.size(); ++pos) {
    int64_t& lp = m.layer_peak_bytes[graph_->nodes[p.order[pos]].layer];
    lp = std::max(lp, p.live_after[pos]);
  }
  const MemoryPlan best = plan_memory(*graph_, e.record, PlanOptions{});
  const int64_t base = best.arena_bytes + best.scratch_peak + outputs;
  m.minimum_total_bytes = base + (streaming() ? weights_floor : total_weight_bytes());
  m.minimum_streaming_total_bytes = base + weights_floor;
  return m;
}

void Session::enforce_budget(const PlanEntry& e) const {
  const size_t budget = config_.memory.max_memory_budget;
  if (budget == 0) return;
  const MemoryEstimate m = estimate_for(e);
  if (static_cast<uint64_t>(m.total_peak_bytes) <= budget) return;
  std::string msg = "memory budget " + mib(static_cast<int64_t>(budget)) +
                    " is too small: this input shape needs " + mib(m.total_peak_bytes) +
                    " with the current settings (activations " + mib(m.activation_peak_bytes) +
                    ", weights " + mib(m.weight_peak_bytes) +
                    (m.packed_weight_bytes ? " of which " + mib(m.packed_weight_bytes) +
                                                 " packed copies kept while the memory/speed "
                                                 "tradeoff is >= 0.75"
                                           : std::string()) +
                    ", scratch " +
                    mib(m.scratch_peak_bytes) + ", outputs " + mib(m.output_bytes) +
                    "); the minimum feasible budget is " + mib(m.minimum_total_bytes) +
                    " (tensor reuse + in-place ops)" +
                    (streaming() ? std::string()
                                 : ", or " + mib(m.minimum_streaming_total_bytes) +
                                       " with weights streamed (set loader.max_memory_usage)");
  throw BudgetError(msg, static_cast<size_t>(m.minimum_total_bytes));
}

bool Session::has_plan(const std::map<std::string, Tensor>& inputs) {
  std::lock_guard<std::mutex> lock(plan_mutex_);
  auto it = plans_.find(signature(inputs));
  return it != plans_.end() && !it->second->stale;
}

MemoryEstimate Session::estimate(const std::map<std::string, Tensor>& inputs) {
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  check_inputs(inputs);
  // Estimates follow the pending configuration so a control moved in the GUI shows at once;
  // no run is in progress (run_mutex_), so this is an inference boundary.
  apply_pending_config();
  return estimate_for(plan_for(inputs, true));
}

std::vector<PlanStep> Session::plan_steps(const std::map<std::string, Tensor>& inputs) {
  estimate(inputs);  // profiles and (re)plans as needed
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  PlanEntry& e = plan_for(inputs, false);
  const Graph& g = *graph_;
  std::vector<PlanStep> steps;
  for (size_t p = 0; p < e.plan.order.size(); ++p) {
    const int n = e.plan.order[p];
    const Node& node = g.nodes[n];
    PlanStep s;
    s.node = n;
    s.layer = node.layer;
    s.node_name = node.name;
    s.op_type = node.op_type;
    s.live_bytes = e.plan.live_after[p];
    s.recomputed = e.plan.recomputed[p] != 0;
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const int o = node.outputs[k];
      if (o < 0) continue;
      const size_t at = static_cast<size_t>(e.plan.outputs_begin[p]) + k;  // this step's instance
      s.output_offset = e.plan.output_offset[at];
      s.output_bytes = s.output_offset >= 0 ? e.record.values[o].bytes : 0;
      s.in_place = e.plan.output_in_place[at] != 0;
      break;
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

std::map<std::string, TensorPtr> Session::run(const std::map<std::string, Tensor>& inputs) {
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  apply_pending_config();
  cancel_requested_.store(false);
  check_inputs(inputs);
  const auto t0 = std::chrono::steady_clock::now();
  tracker_->reset_peaks();

  const size_t budget = config_.memory.max_memory_budget;
  const std::string sig = signature(inputs);
  PlanEntry* entry = find_entry(sig);
  if (!entry) {
    if (auto predicted = predicted_entry(inputs)) entry = &store_entry(sig, std::move(predicted));
  }
  std::map<std::string, TensorPtr> outputs;
  if (entry) {
    enforce_budget(*entry);
    outputs = execute(inputs, entry, nullptr, budget);
  } else {
    // The first run at a symbolic shape profiles; its outputs are real, and the budget is
    // enforced allocation by allocation.
    auto fresh = std::make_unique<PlanEntry>();
    fresh->record.values.resize(graph_->values.size());
    fresh->record.node_scratch_bytes.assign(graph_->nodes.size(), 0);
    outputs = execute(inputs, nullptr, fresh.get(), budget);
    fresh->scratch_measured = true;
    store_entry(sig, std::move(fresh));
  }
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  last_latency_s_.store(dt.count());
  runs_.fetch_add(1);
  return outputs;
}

std::map<std::string, TensorPtr> Session::execute(const std::map<std::string, Tensor>& inputs,
                                                  PlanEntry* entry, PlanEntry* profile,
                                                  size_t budget) {
  const Graph& g = *graph_;
  std::vector<TensorPtr> values = fresh_values(inputs);
  NodeContext ctx(tracker_, is_output_);
  ctx.set_runtime(&config_, pool_.get());
  if (keep_packed_weights(config_)) ctx.keep_persistent_in(&packed_);
  ctx.enforce_budget(budget);
  std::vector<int64_t> scratch(g.nodes.size(), 0);
  ctx.measure_scratch_into(&scratch);
  const MemoryPlan* plan = entry ? &entry->plan : nullptr;
  const std::vector<int>* last_use = &last_use_;
  // Recomputed instances may sit elsewhere than a value's first instance: the context then
  // reads a copy of the plan whose offsets are pointed at each step's instances.
  std::unique_ptr<MemoryPlan> patched;
  if (plan) {
    // With checkpointing on, a larger arena kept from an earlier plan would defeat it.
    const bool exact = config_.scheduler.enable_checkpointing;
    if (!arena_ || static_cast<int64_t>(arena_->size()) < plan->arena_bytes ||
        (exact && static_cast<int64_t>(arena_->size()) > plan->arena_bytes)) {
      arena_.reset();  // free the old arena before reserving the new one
      arena_ = std::make_shared<Buffer>(tracker_, MemCategory::Activation,
                                        static_cast<size_t>(plan->arena_bytes));
    }
    if (plan->recompute_count > 0) patched = std::make_unique<MemoryPlan>(*plan);
    ctx.use_arena(patched ? patched.get() : plan, arena_);
    recompute_count_.store(plan->recompute_count);
    last_use = &plan->last_use_pos;
    arena_bytes_.store(static_cast<int64_t>(arena_->size()));
    live_peak_bytes_.store(plan->live_peak);
  } else {
    arena_.reset();
    arena_bytes_.store(0);
    recompute_count_.store(0);
    ctx.record_into(&profile->record);
  }
  const size_t n = plan ? plan->order.size() : g.nodes.size();  // steps, recomputes included
  std::vector<int> order(n);
  for (size_t p = 0; p < n; ++p) order[p] = plan ? plan->order[p] : static_cast<int>(p);
  std::vector<int> sequence = layer_use_sequence(g, order, constants_);
  if (sequence != loader_sequence_) {  // drives prefetch and furthest-next-use eviction
    loader_->set_execution_order(sequence);
    loader_sequence_ = std::move(sequence);
  }
  WeightBinder binder(g, *loader_, constants_);
  int64_t live_peak = 0;
  struct Idle {  // mark the session idle however the loop ends
    Session* s;
    ~Idle() { s->current_step_.store(-1); s->current_layer_.store(-1); s->live_bytes_.store(0); }
  } idle{this};
  int prev_layer = -1;
  // Per-layer time split: waits for weights (the loader's stall clock, which also counts the
  // waits of a weight streamed inside its kernel) and the rest of the step, the compute.
  std::vector<double> compute_s(g.layers.size(), 0.0), wait_s(g.layers.size(), 0.0);
  for (size_t p = 0; p < n; ++p) {
    const int ni = plan ? plan->order[p] : static_cast<int>(p);
    const Node& node = g.nodes[ni];
    if (node.layer != prev_layer) {
      if (prev_layer >= 0 && cancel_requested_.load())
        throw CancelledError("run cancelled at layer '" + g.layers[node.layer].name + "'");
      current_layer_.store(node.layer);
      prev_layer = node.layer;
    }
    current_step_.store(static_cast<int64_t>(p));
    if (patched) point_outputs_at_step(*plan, p, node, patched.get());
    const auto step_t0 = std::chrono::steady_clock::now();
    const double stall0 = loader_->stall_seconds();
    binder.bind(node, values);
    ctx.prepare(ni, node, values, *last_use);
    kernels_[ni]->run(ctx);
    ctx.collect_outputs(values, *last_use);
    ctx.release_scratch();
    binder.unbind(node, values);
    if (node.layer >= 0 && static_cast<size_t>(node.layer) < compute_s.size()) {
      const double step = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                        step_t0).count();
      const double waited = std::min(step, loader_->stall_seconds() - stall0);
      wait_s[static_cast<size_t>(node.layer)] += waited;
      compute_s[static_cast<size_t>(node.layer)] += step - waited;
    }
    const int pos = plan ? static_cast<int>(p) : ni;
    for (int in : node.inputs)
      if (in >= 0 && (*last_use)[in] == pos) values[in].reset();
    const int64_t live = plan ? plan->live_after[p]
                              : tracker_->snapshot().current[static_cast<int>(MemCategory::Activation)];
    live_bytes_.store(live);
    live_peak = std::max(live_peak, live);
  }
  if (!plan) live_peak_bytes_.store(live_peak);
  if (keep_packed_weights(config_)) packed_measured_ = true;  // every kernel has run
  PlanEntry* measured = plan ? entry : profile;
  for (size_t i = 0; i < scratch.size(); ++i)  // scratch is measured, never predicted
    measured->record.node_scratch_bytes[i] = std::max(measured->record.node_scratch_bytes[i], scratch[i]);
  measured->scratch_measured = true;
  if (plan) {
    std::lock_guard<std::mutex> lock(plan_mutex_);
    for (int64_t b : scratch) entry->plan.scratch_peak = std::max(entry->plan.scratch_peak, b);
  }
  if (plan && ctx.plan_mismatch()) entry->stale = true;  // re-profile next time
  if (plan && !keep_arena(config_)) arena_.reset();
  {
    std::lock_guard<std::mutex> lock(plan_mutex_);
    layer_compute_s_ = std::move(compute_s);
    layer_wait_s_ = std::move(wait_s);
  }

  std::map<std::string, TensorPtr> outputs;
  for (int v : g.outputs) {
    if (!values[v] && constants_[v].valid) binder.bind_constant(v, values);  // a folded output
    outputs[g.values[v].name] = values[v];
  }
  return outputs;
}

void Session::begin_stepping(const std::map<std::string, Tensor>& inputs) {
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  check_inputs(inputs);
  // Inputs are borrowed only for a call, so stepping keeps its own copies.
  step_inputs_.clear();
  std::map<std::string, Tensor> owned;
  for (const auto& kv : inputs) {
    Tensor t = kv.second;
    auto buf = std::make_shared<Buffer>(tracker_, MemCategory::Activation, t.nbytes());
    if (t.nbytes()) std::memcpy(buf->data(), t.data, t.nbytes());
    t.buffer = buf;
    t.data = buf->data();
    owned.emplace(kv.first, std::move(t));
    step_inputs_.push_back(buf);
  }
  step_values_ = fresh_values(owned);
  step_binder_ = std::make_unique<WeightBinder>(*graph_, *loader_, constants_);
  step_next_layer_ = 0;
}

int Session::next_step_layer() const { return step_next_layer_; }

std::map<std::string, TensorPtr> Session::execute_layer(int layer) {
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  const Graph& g = *graph_;
  if (step_next_layer_ < 0) throw ExecutionError("call begin_stepping(inputs) before execute_layer");
  if (layer != step_next_layer_)
    throw ExecutionError("layers run in order: the next layer is " + std::to_string(step_next_layer_) +
                         ", not " + std::to_string(layer));
  NodeContext ctx(tracker_, is_output_);
  ctx.set_runtime(&config_, pool_.get());
  if (keep_packed_weights(config_)) ctx.keep_persistent_in(&packed_);
  current_layer_.store(layer);
  for (int ni : g.layers[layer].nodes) {
    const Node& node = g.nodes[ni];
    current_step_.store(ni);
    step_binder_->bind(node, step_values_);
    ctx.prepare(ni, node, step_values_, last_use_);
    kernels_[ni]->run(ctx);
    ctx.collect_outputs(step_values_, last_use_);
    ctx.release_scratch();
    step_binder_->unbind(node, step_values_);
    for (int in : node.inputs)
      if (in >= 0 && last_use_[in] == ni) step_values_[in].reset();
  }
  current_step_.store(-1);
  current_layer_.store(-1);
  std::map<std::string, TensorPtr> outputs;
  if (++step_next_layer_ == static_cast<int>(g.layers.size())) {
    for (int v : g.outputs) {
      if (!step_values_[v] && constants_[v].valid) step_binder_->bind_constant(v, step_values_);
      outputs[g.values[v].name] = step_values_[v];
    }
    step_binder_.reset();
    step_values_.clear();
    step_inputs_.clear();
    step_next_layer_ = -1;
  }
  return outputs;
}

SessionStats Session::stats() const {
  SessionStats s;
  s.memory = tracker_->snapshot();
  s.last_latency_s = last_latency_s_.load();
  s.runs = runs_.load();
  s.arena_bytes = arena_bytes_.load();
  s.live_bytes = live_bytes_.load();
  s.live_peak_bytes = live_peak_bytes_.load();
  s.recompute_count = recompute_count_.load();
  s.current_step = current_step_.load();
  s.current_layer = current_layer_.load();
  std::lock_guard<std::mutex> lock(plan_mutex_);
  s.plans_cached = static_cast<int64_t>(plans_.size());
  s.layer_compute_seconds = layer_compute_s_;
  s.layer_wait_seconds = layer_wait_s_;
  return s;
}

}  // namespace tinyai
