#include "scheduler/recompute.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>

#include "tinyai/errors.h"

namespace tinyai {

namespace {

// Recompute chains stay short: a dropped value's producer, plus at most this many producers
// behind it that are themselves no longer live (Relu <- Conv <- Relu <- Conv ... is three
// conv blocks). Beyond it, the missing value is kept alive instead (a checkpoint).
constexpr int kMaxChainDepth = 6;
// After the greedy meets the live-bytes target the arena is laid out; packing can add a
// little, so the target is lowered and the greedy resumes, at most this many times.
constexpr int kMaxLayoutRounds = 8;

bool nondeterministic(const std::string& op) {
  static const std::set<std::string> ops = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                            "RandomUniformLike", "Multinomial", "Bernoulli"};
  return ops.count(op) != 0;
}

std::string mib(int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MiB (%lld bytes)", static_cast<double>(bytes) / (1 << 20),
                static_cast<long long>(bytes));
  return buf;
}

// A value dropped after its reads up to base position `split` (exclusive) and recomputed
// right before the step at base position `split`.
struct Drop {
  int value;
  int split;
};

class Planner {
 public:
  Planner(const Graph& g, const RunRecord& rec, const MemoryPlan& base, const RecomputeOptions& o)
      : g_(g), rec_(rec), base_(base), opt_(o), ctx_(plan_context(g, rec)) {
    const size_t nv = g.values.size();
    n_ = static_cast<int>(base.order.size());
    producer_.assign(nv, -1);
    prod_pos_.assign(nv, -1);
    for (int p = 0; p < n_; ++p)
      for (int o : g.nodes[base.order[p]].outputs)
        if (o >= 0) {
          producer_[o] = base.order[p];
          prod_pos_[o] = p;
        }
    reads_.assign(nv, {});
    for (int p = 0; p < n_; ++p)
      for (int in : g.nodes[base.order[p]].inputs) {
        const int r = in >= 0 ? ctx_.root[in] : -1;
        if (r >= 0 && (reads_[r].empty() || reads_[r].back() != p)) reads_[r].push_back(p);
      }
    std::vector<char> has_view(nv, 0);
    for (size_t v = 0; v < nv; ++v)
      if (ctx_.root[v] >= 0 && ctx_.root[v] != static_cast<int>(v)) has_view[ctx_.root[v]] = 1;
    recomputable_.assign(nv, 0);
    for (size_t v = 0; v < nv; ++v) {
      if (!ctx_.planned[v] || ctx_.root[v] != static_cast<int>(v) || has_view[v] || producer_[v] < 0)
        continue;
      const Node& node = g.nodes[producer_[v]];
      if (node.outputs.size() != 1 || nondeterministic(node.op_type)) continue;
      if (strategy(node.layer) == CheckpointStrategy::Checkpoint) continue;
      recomputable_[v] = 1;
    }
    dropped_split_.assign(nv, -1);
  }

  CheckpointStrategy strategy(int layer) const {
    return layer >= 0 && layer < static_cast<int>(opt_.layer_strategy.size())
               ? opt_.layer_strategy[layer]
               : CheckpointStrategy::Keep;
  }

  // Values of RECOMPUTE layers: dropped after their first use, recomputed before the second.
  void add_forced_drops() {
    for (size_t v = 0; v < g_.values.size(); ++v)
      if (recomputable_[v] && reads_[v].size() >= 2 &&
          strategy(g_.nodes[producer_[v]].layer) == CheckpointStrategy::Recompute)
        add({static_cast<int>(v), reads_[v][1]});
  }

  void add(const Drop& d) {
    drops_.push_back(d);
    dropped_split_[d.value] = d.split;
  }
  void remove_last() {
    dropped_split_[drops_.back().value] = -1;
    drops_.pop_back();
  }

  // The step sequence for the current drops; `base_pos` gets each step's position in the base
  // order times two (+1 for the base step itself, +0 for steps inserted before it).
  std::vector<int> steps(std::vector<char>* recomputed, std::vector<int>* base_pos,
                         int64_t* recompute_bytes) const {
    std::vector<std::vector<int>> before(n_);
    int64_t bytes = 0;
    std::vector<Drop> sorted = drops_;
    std::sort(sorted.begin(), sorted.end(),
              [](const Drop& a, const Drop& b) { return a.split < b.split; });
    for (const Drop& d : sorted) chain(d.value, d.split, 0, &before[d.split], &bytes);
    std::vector<int> out;
    recomputed->clear();
    if (base_pos) base_pos->clear();
    for (int p = 0; p < n_; ++p) {
      for (int ni : before[p]) {
        out.push_back(ni);
        recomputed->push_back(1);
        if (base_pos) base_pos->push_back(2 * p);
      }
      out.push_back(base_.order[p]);
      recomputed->push_back(0);
      if (base_pos) base_pos->push_back(2 * p + 1);
    }
    if (recompute_bytes) *recompute_bytes = bytes;
    return out;
  }

  // Whether planned root `r` holds its value right before base position q.
  bool available(int r, int q) const {
    if (prod_pos_[r] >= q || reads_[r].empty() || reads_[r].back() < q) return false;
    const int split = dropped_split_[r];
    if (split < 0) return true;
    // Dropped: live through its first use segment, then again from `split` on.
    int early_end = -1;
    for (int rp : reads_[r])
      if (rp < split) early_end = rp;
    return q <= early_end || q > split;
  }

  // Inserts the producers needed to recompute v before base position q (inputs first).
  void chain(int v, int q, int depth, std::vector<int>* list, int64_t* bytes) const {
    const int node_index = producer_[v];
    if (std::find(list->begin(), list->end(), node_index) != list->end()) return;
    for (int in : g_.nodes[node_index].inputs) {
      const int r = in >= 0 ? ctx_.root[in] : -1;
      if (r < 0 || available(r, q)) continue;  // graph inputs, constants, live values
      if (r == in && recomputable_[in] && depth < kMaxChainDepth)
        chain(in, q, depth + 1, list, bytes);
      // Otherwise the read keeps the value's last instance alive until q (a checkpoint).
    }
    list->push_back(node_index);
    *bytes += rec_.values[v].bytes;
  }

  int64_t peak(const std::vector<int>& s, int* pos) const {
    return steps_live_peak(g_, rec_, ctx_, s, base_.options.in_place, pos);
  }

  // Greedy: while the live peak is above `target`, drop the value live across the peak
  // step whose recompute lowers the peak most per byte recomputed.
  // Returns whether the target was reached.
  bool greedy(int64_t target) {
    std::vector<char> recomputed;
    std::vector<int> base_pos;
    int pos = 0;
    int64_t cur = peak(steps(&recomputed, &base_pos, nullptr), &pos);
    for (;;) {
      if (cur <= target) return true;
      const int p2 = base_pos.empty() ? 0 : base_pos[pos];
      int best_v = -1, best_split = -1;
      double best_score = 0;
      for (size_t v = 0; v < g_.values.size(); ++v) {
        if (!recomputable_[v] || dropped_split_[v] >= 0 || reads_[v].size() < 2) continue;
        if (strategy(g_.nodes[producer_[v]].layer) != CheckpointStrategy::Keep) continue;
        const auto& r = reads_[v];
        int split = -1;  // the read after the gap that spans the peak step
        for (size_t i = 0; i + 1 < r.size(); ++i)
          if (2 * r[i] + 1 < p2 && p2 < 2 * r[i + 1] + 2) split = r[i + 1];
        if (split < 0) continue;
        add({static_cast<int>(v), split});
        int64_t cost = 0;
        int trial_pos = 0;
        const int64_t trial = peak(steps(&recomputed, nullptr, &cost), &trial_pos);
        remove_last();
        if (trial >= cur) continue;
        const double score = static_cast<double>(cur - trial) / static_cast<double>(std::max<int64_t>(cost, 1));
        if (score > best_score) {
          best_score = score;
          best_v = static_cast<int>(v);
          best_split = split;
        }
      }
      if (best_v < 0) return false;
      add({best_v, best_split});
      cur = peak(steps(&recomputed, &base_pos, nullptr), &pos);
    }
  }

  MemoryPlan layout() const {
    std::vector<char> recomputed;
    std::vector<int> s = steps(&recomputed, nullptr, nullptr);
    return layout_steps(g_, rec_, ctx_, base_, std::move(s), std::move(recomputed));
  }

  bool any() const { return !drops_.empty(); }
  size_t drop_count() const { return drops_.size(); }

 private:
  const Graph& g_;
  const RunRecord& rec_;
  const MemoryPlan& base_;
  const RecomputeOptions& opt_;
  const PlanContext ctx_;
  int n_ = 0;
  std::vector<int> producer_, prod_pos_;
  std::vector<std::vector<int>> reads_;  // by planned root: distinct base positions reading it
  std::vector<char> recomputable_;
  std::vector<int> dropped_split_;       // by value: split of its drop, -1 = kept
  std::vector<Drop> drops_;
};

// The lowest arena the automatic greedy reaches from the user's strategies.
MemoryPlan lowest_plan(const Graph& g, const RunRecord& rec, const MemoryPlan& base,
                       const RecomputeOptions& options) {
  Planner pl(g, rec, base, options);
  pl.add_forced_drops();
  pl.greedy(0);
  MemoryPlan low = pl.any() ? pl.layout() : base;
  return low.arena_bytes < base.arena_bytes ? low : base;
}

}  // namespace

MemoryPlan plan_with_recompute(const Graph& g, const RunRecord& rec, const MemoryPlan& base,
                               const RecomputeOptions& options) {
  if (!options.enabled) return base;
  const int64_t cap = options.max_activation;
  if (!base.options.tensor_reuse) {  // one slot per tensor: nothing to free by recomputing
    if (cap > 0 && base.arena_bytes > cap)
      throw BudgetError("scheduler.max_activation_memory " + mib(cap) + " cannot be met with "
                            "memory.enable_tensor_reuse off: the activation arena is then " +
                            mib(base.arena_bytes) + "; turn tensor reuse on to plan below it",
                        static_cast<size_t>(base.arena_bytes));
    return base;
  }
  Planner pl(g, rec, base, options);
  pl.add_forced_drops();
  MemoryPlan plan = pl.any() ? pl.layout() : base;
  if (options.automatic && (cap > 0 || options.minimize)) {
    int64_t target = cap;  // live bytes; 0 = as low as recomputation goes
    for (int round = 0; round < kMaxLayoutRounds; ++round) {
      const size_t before = pl.drop_count();
      const bool reached = pl.greedy(target);
      if (pl.drop_count() != before) plan = pl.layout();
      if (cap == 0 || plan.arena_bytes <= cap || !reached) break;
      target -= std::max<int64_t>(plan.arena_bytes - cap, 64);  // packing overhead
      if (target <= 0) break;
    }
  }
  if (cap > 0 && plan.arena_bytes > cap) {
    const MemoryPlan low = options.automatic ? plan : lowest_plan(g, rec, base, options);
    const int64_t lowest = std::min(low.arena_bytes, plan.arena_bytes);
    throw BudgetError(
        "scheduler.max_activation_memory " + mib(cap) + " cannot be met: the lowest activation arena "
            "reachable with recomputation is " + mib(lowest) +
            (options.automatic ? std::string()
                               : " (turn on scheduler.recompute_activations to let the planner "
                                 "recompute; this plan needs " + mib(plan.arena_bytes) + ")"),
        static_cast<size_t>(lowest));
  }
  return plan;
}

void point_outputs_at_step(const MemoryPlan& plan, size_t pos, const Node& node, MemoryPlan* patched) {
  const int begin = plan.outputs_begin[pos];
  for (size_t k = 0; k < node.outputs.size(); ++k) {
    const int o = node.outputs[k];
    if (o >= 0) patched->offset[o] = plan.output_offset[begin + k];
  }
}

}  // namespace tinyai
