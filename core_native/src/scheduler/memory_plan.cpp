#include "scheduler/memory_plan.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <set>

namespace tinyai {

namespace {

constexpr int64_t kSlotAlignment = 64;

int64_t align_up(int64_t n) { return (n + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment; }

// Ops whose kernels read element i of an input before writing element i of the output and
// nothing else, so the output may live in that input's storage when the input dies here.
bool in_place_capable(const std::string& op) {
  static const std::set<std::string> ops = {
      "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Softplus", "Softsign",
      "HardSigmoid", "HardSwish", "Gelu", "Mish", "Erf", "Exp", "Log", "Neg", "Abs", "Sqrt",
      "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Clip", "ThresholdedRelu",
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "PRelu", "BatchNormalization"};
  return ops.count(op) != 0;
}

// One run of a node produces one instance of each output it owns storage for; a recomputed
// node produces a second instance of the same value later, with its own lifetime and slot.
struct Instances {
  std::vector<int> value, start, end;  // per instance
  std::vector<int> out_begin, out_inst;  // per position: instance per output (-1: not planned)
  std::vector<int> in_begin, in_inst;    // per position: instance read per input (-1: none or a view)
};

// Storage roots: a view shares its source's storage, transitively.
std::vector<int> storage_roots(const RunRecord& rec, const std::vector<char>& planned) {
  std::vector<int> root(rec.values.size(), -1);
  for (size_t v = 0; v < rec.values.size(); ++v) {
    int r = static_cast<int>(v);
    for (int guard = 0; r >= 0 && rec.values[r].view_of >= 0 && guard < 1 << 20; ++guard)
      r = rec.values[r].view_of;
    root[v] = (r >= 0 && planned[r]) ? r : -1;
  }
  return root;
}

// A read extends the latest instance of the value's storage root: the executor's value
// table holds the latest produced tensor, so that is the one a node reads.
Instances instances(const Graph& g, const std::vector<int>& order, const std::vector<int>& root,
                    const std::vector<char>& is_output) {
  Instances I;
  const int n = static_cast<int>(order.size());
  std::vector<int> cur(g.values.size(), -1);
  for (int p = 0; p < n; ++p) {
    const Node& node = g.nodes[order[p]];
    I.in_begin.push_back(static_cast<int>(I.in_inst.size()));
    for (int in : node.inputs) {
      const int r = in >= 0 ? root[in] : -1;
      const int id = r >= 0 ? cur[r] : -1;
      if (id >= 0) I.end[id] = std::max(I.end[id], p);
      I.in_inst.push_back(in >= 0 && r == in ? id : -1);
    }
    I.out_begin.push_back(static_cast<int>(I.out_inst.size()));
    for (int o : node.outputs) {
      int id = -1;
      if (o >= 0 && root[o] == o) {
        id = static_cast<int>(I.value.size());
        I.value.push_back(o);
        I.start.push_back(p);
        I.end.push_back(p);
        cur[o] = id;
      }
      I.out_inst.push_back(id);
    }
  }
  I.in_begin.push_back(static_cast<int>(I.in_inst.size()));
  I.out_begin.push_back(static_cast<int>(I.out_inst.size()));
  for (size_t v = 0; v < g.values.size(); ++v)
    if (is_output[v] && root[v] >= 0 && cur[root[v]] >= 0) I.end[cur[root[v]]] = n;  // returned
  return I;
}

struct Group {
  int64_t bytes = 0;
  int start = 0, end = 0;
  std::vector<int> members;  // instances
};

// Merge output instances into dying input instances' slots where the op allows it; returns
// one group per slot. In-place chains are contiguous in time, so a group is one interval.
std::vector<Group> build_groups(const Graph& g, const RunRecord& rec, const std::vector<int>& order,
                                const Instances& I, bool in_place, std::vector<int>* in_place_of,
                                std::vector<int>* group_of_out) {
  const size_t ni = I.value.size();
  std::vector<int> group_of(ni, -1);
  std::vector<Group> groups;
  in_place_of->assign(ni, -1);
  for (size_t p = 0; p < order.size(); ++p) {
    const Node& node = g.nodes[order[p]];
    std::vector<int> taken;  // groups already reused by an output of this node
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const int oi = I.out_inst[I.out_begin[p] + k];
      if (oi < 0) continue;
      const int o = I.value[oi];
      int chosen = -1;
      if (in_place && in_place_capable(node.op_type)) {
        for (size_t j = 0; j < node.inputs.size(); ++j) {
          const int ii = I.in_inst[I.in_begin[p] + j];
          if (ii < 0 || group_of[ii] < 0) continue;  // views: skip
          const Group& grp = groups[group_of[ii]];
          const auto& a = rec.values[I.value[ii]];
          const auto& b = rec.values[o];
          if (grp.end == static_cast<int>(p) && a.bytes == b.bytes && a.dtype == b.dtype &&
              a.shape == b.shape &&
              std::find(taken.begin(), taken.end(), group_of[ii]) == taken.end()) {
            chosen = ii;
            break;
          }
        }
      }
      if (chosen >= 0) {
        Group& grp = groups[group_of[chosen]];
        grp.end = std::max(grp.end, I.end[oi]);
        grp.members.push_back(oi);
        group_of[oi] = group_of[chosen];
        (*in_place_of)[oi] = chosen;
        taken.push_back(group_of[oi]);
      } else {
        Group grp;
        grp.bytes = align_up(rec.values[o].bytes);
        grp.start = I.start[oi];
        grp.end = I.end[oi];
        grp.members.push_back(oi);
        group_of[oi] = static_cast<int>(groups.size());
        groups.push_back(std::move(grp));
      }
    }
  }
  if (group_of_out) *group_of_out = std::move(group_of);
  return groups;
}

int64_t live_peak(const std::vector<Group>& groups, size_t steps, std::vector<int64_t>* live,
                  int* peak_pos = nullptr) {
  std::vector<int64_t> delta(steps + 2, 0);
  for (const Group& grp : groups) {
    delta[grp.start] += grp.bytes;
    delta[std::min<size_t>(grp.end, steps) + 1] -= grp.bytes;
  }
  int64_t cur = 0, peak = 0;
  if (live) live->assign(steps, 0);
  for (size_t p = 0; p < steps; ++p) {
    cur += delta[p];
    if (cur > peak && peak_pos) *peak_pos = static_cast<int>(p);
    peak = std::max(peak, cur);
    if (live) (*live)[p] = cur;
  }
  return peak;
}

// Offsets for groups taken in `idx` order, each in the smallest gap it fits (best fit) or
// the lowest (first fit) among the slots overlapping it in time; returns the arena size.
int64_t place_in_order(const std::vector<Group>& groups, const std::vector<size_t>& idx,
                       bool first_fit, std::vector<int64_t>* group_offset) {
  std::vector<size_t> placed;
  int64_t arena = 0;
  for (size_t gi : idx) {
    const Group& grp = groups[gi];
    std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, offset+bytes) overlapping in time
    for (size_t pj : placed) {
      const Group& other = groups[pj];
      if (other.start <= grp.end && grp.start <= other.end)
        busy.emplace_back((*group_offset)[pj], (*group_offset)[pj] + other.bytes);
    }
    std::sort(busy.begin(), busy.end());
    int64_t best = -1, best_gap = INT64_MAX, cursor = 0;
    for (const auto& b : busy) {
      const int64_t gap = b.first - cursor;
      if (gap >= grp.bytes && gap < best_gap && (best < 0 || !first_fit)) {
        best = cursor;
        best_gap = gap;
      }
      cursor = std::max(cursor, b.second);
    }
    if (best < 0) best = cursor;  // past every overlapping slot
    (*group_offset)[gi] = best;
    arena = std::max(arena, best + grp.bytes);
    placed.push_back(gi);
  }
  return arena;
}

// Offset assignment. No single greedy order packs every graph well (largest first fragments
// DenseNet's concat chains, where growing tensors each outlive the last), so a few classic
// orders, each with best fit and first fit, are tried and the smallest arena wins; ties keep
// the earlier try. Groups number in the hundreds: eight tries cost well under a millisecond.
int64_t assign_offsets(std::vector<Group>& groups, bool reuse, std::vector<int64_t>* group_offset) {
  group_offset->assign(groups.size(), 0);
  if (!reuse) {
    int64_t next = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
      (*group_offset)[i] = next;
      next += groups[i].bytes;
    }
    return next;
  }
  const auto lifetime = [&](size_t i) { return int64_t{groups[i].end} - groups[i].start + 1; };
  using Before = std::function<bool(size_t, size_t)>;
  const Before orders[] = {
      [&](size_t a, size_t b) {  // largest first
        if (groups[a].bytes != groups[b].bytes) return groups[a].bytes > groups[b].bytes;
        return groups[a].start < groups[b].start;
      },
      [&](size_t a, size_t b) {  // largest area (bytes x steps) first
        const int64_t x = groups[a].bytes * lifetime(a), y = groups[b].bytes * lifetime(b);
        if (x != y) return x > y;
        return groups[a].start < groups[b].start;
      },
      [&](size_t a, size_t b) {  // longest-lived first
        if (lifetime(a) != lifetime(b)) return lifetime(a) > lifetime(b);
        return groups[a].bytes > groups[b].bytes;
      },
      [&](size_t a, size_t b) {  // in time order
        if (groups[a].start != groups[b].start) return groups[a].start < groups[b].start;
        return groups[a].bytes > groups[b].bytes;
      },
  };
  int64_t best = INT64_MAX;
  std::vector<int64_t> offsets;
  std::vector<size_t> best_idx;
  bool best_first_fit = false;
  for (const Before& before : orders) {
    std::vector<size_t> idx(groups.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), before);
    for (const bool first_fit : {false, true}) {
      offsets.assign(groups.size(), 0);
      const int64_t arena = place_in_order(groups, idx, first_fit, &offsets);
      if (arena < best) {
        best = arena;
        *group_offset = offsets;
        best_idx = idx;
        best_first_fit = first_fit;
      }
    }
  }
  // Then a short deterministic local search: move one group earlier in the placement order,
  // keep the move when the arena shrinks. Bounded so large graphs stay fast.
  const size_t n = groups.size();
  const int64_t budget = n > 1 ? std::min<int64_t>(400, 40'000'000 / static_cast<int64_t>(n * n)) : 0;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next_random = [&state](size_t bound) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return static_cast<size_t>(state % bound);
  };
  for (int64_t it = 0; it < budget; ++it) {
    std::vector<size_t> idx = best_idx;
    const size_t from = next_random(n), to = next_random(n);
    if (from == to) continue;
    const size_t moved = idx[from];
    idx.erase(idx.begin() + static_cast<std::ptrdiff_t>(from));
    idx.insert(idx.begin() + static_cast<std::ptrdiff_t>(to), moved);
    offsets.assign(n, 0);
    const int64_t arena = place_in_order(groups, idx, best_first_fit, &offsets);
    if (arena < best) {
      best = arena;
      *group_offset = offsets;
      best_idx = std::move(idx);
    }
  }
  return best;
}

// Greedy list scheduling: among ready nodes, run the one that allocates least net of what
// it frees; ties keep graph order.
std::vector<int> memory_aware_order(const Graph& g, const RunRecord& rec,
                                    const std::vector<int>& root, const std::vector<char>& is_output) {
  const size_t nn = g.nodes.size(), nv = g.values.size();
  std::vector<int> producer(nv, -1);
  for (size_t i = 0; i < nn; ++i)
    for (int o : g.nodes[i].outputs)
      if (o >= 0) producer[o] = static_cast<int>(i);
  std::vector<int> readers(nv, 0);  // unscheduled nodes reading each storage root
  std::vector<int> missing(nn, 0);
  for (size_t i = 0; i < nn; ++i) {
    std::set<int> roots, deps;
    for (int in : g.nodes[i].inputs) {
      if (in < 0) continue;
      if (root[in] >= 0) roots.insert(root[in]);
      if (producer[in] >= 0) deps.insert(in);
    }
    for (int r : roots) readers[r]++;
    missing[i] = static_cast<int>(deps.size());
  }
  std::vector<std::vector<int>> consumers(nv);
  for (size_t i = 0; i < nn; ++i) {
    std::set<int> seen;
    for (int in : g.nodes[i].inputs)
      if (in >= 0 && producer[in] >= 0 && seen.insert(in).second) consumers[in].push_back(static_cast<int>(i));
  }
  std::set<int> ready;
  for (size_t i = 0; i < nn; ++i)
    if (missing[i] == 0) ready.insert(static_cast<int>(i));
  std::vector<int> order;
  while (!ready.empty()) {
    int best = -1;
    int64_t best_score = INT64_MAX;
    for (int n : ready) {
      int64_t score = 0;
      for (int o : g.nodes[n].outputs)
        if (o >= 0 && root[o] == o) score += rec.values[o].bytes;
      std::set<int> roots;
      for (int in : g.nodes[n].inputs)
        if (in >= 0 && root[in] >= 0) roots.insert(root[in]);
      for (int r : roots)
        if (readers[r] == 1 && !is_output[r]) score -= rec.values[r].bytes;
      if (score < best_score) {
        best_score = score;
        best = n;
      }
    }
    ready.erase(best);
    order.push_back(best);
    std::set<int> roots;
    for (int in : g.nodes[best].inputs)
      if (in >= 0 && root[in] >= 0) roots.insert(root[in]);
    for (int r : roots) readers[r]--;
    for (int o : g.nodes[best].outputs)
      if (o >= 0)
        for (int c : consumers[o])
          if (--missing[c] == 0) ready.insert(c);
  }
  return order;
}

struct Evaluated {
  std::vector<int> order;
  Instances inst;
  std::vector<Group> groups;
  std::vector<int> in_place_of;  // per instance
  std::vector<int> group_of;     // per instance
  int64_t peak = 0;
  int peak_pos = 0;
};

Evaluated evaluate(const Graph& g, const RunRecord& rec, std::vector<int> order,
                   const std::vector<int>& root, const std::vector<char>& is_output, bool in_place) {
  Evaluated e;
  e.inst = instances(g, order, root, is_output);
  e.groups = build_groups(g, rec, order, e.inst, in_place, &e.in_place_of, &e.group_of);
  e.peak = live_peak(e.groups, order.size(), nullptr, &e.peak_pos);
  e.order = std::move(order);
  return e;
}

}  // namespace

bool is_planned_value(const Graph& g, const RunRecord& rec, int v, const std::vector<char>& is_output) {
  const auto& r = rec.values[v];
  return r.produced && r.view_of < 0 && !is_output[v] && r.bytes > 0 && !g.values[v].is_constant;
}

PlanContext plan_context(const Graph& g, const RunRecord& rec) {
  const size_t nv = g.values.size();
  PlanContext c;
  c.is_output.assign(nv, 0);
  for (int v : g.outputs) c.is_output[v] = 1;
  c.planned.assign(nv, 0);
  for (size_t v = 0; v < nv; ++v) c.planned[v] = is_planned_value(g, rec, static_cast<int>(v), c.is_output);
  c.root = storage_roots(rec, c.planned);
  return c;
}

int64_t steps_live_peak(const Graph& g, const RunRecord& rec, const PlanContext& ctx,
                        const std::vector<int>& steps, bool in_place, int* peak_pos) {
  const Evaluated e = evaluate(g, rec, steps, ctx.root, ctx.is_output, in_place);
  if (peak_pos) *peak_pos = e.peak_pos;
  return e.peak;
}

MemoryPlan layout_steps(const Graph& g, const RunRecord& rec, const PlanContext& ctx,
                        const MemoryPlan& base, std::vector<int> steps, std::vector<char> recomputed) {
  const size_t nv = g.values.size(), nn = g.nodes.size(), n = steps.size();
  MemoryPlan plan;
  plan.options = base.options;
  plan.in_order_bound = base.in_order_bound;
  plan.reordered = base.reordered;
  Evaluated best = evaluate(g, rec, std::move(steps), ctx.root, ctx.is_output, base.options.in_place);
  std::vector<int64_t> group_offset;
  plan.arena_bytes = assign_offsets(best.groups, base.options.tensor_reuse, &group_offset);
  plan.live_peak = live_peak(best.groups, n, &plan.live_after);
  plan.order = std::move(best.order);
  plan.recomputed = std::move(recomputed);
  plan.recomputed.resize(n, 0);
  const Instances& I = best.inst;
  plan.offset.assign(nv, -1);
  plan.slot_bytes.assign(nv, 0);
  plan.in_place_of.assign(nv, -1);
  for (size_t i = I.value.size(); i-- > 0;) {  // descending: the first instance wins
    const int v = I.value[i];
    const Group& grp = best.groups[best.group_of[i]];
    plan.offset[v] = group_offset[best.group_of[i]];
    plan.slot_bytes[v] = grp.bytes;
    plan.in_place_of[v] = best.in_place_of[i] >= 0 ? I.value[best.in_place_of[i]] : -1;
  }
  plan.outputs_begin = I.out_begin;
  plan.output_offset.assign(I.out_inst.size(), -1);
  plan.output_in_place.assign(I.out_inst.size(), 0);
  for (size_t k = 0; k < I.out_inst.size(); ++k) {
    const int i = I.out_inst[k];
    if (i < 0) continue;
    plan.output_offset[k] = group_offset[best.group_of[i]];
    plan.output_in_place[k] = best.in_place_of[i] >= 0;
    if (best.in_place_of[i] >= 0) plan.in_place_count++;
  }
  for (size_t v = 0; v < nv; ++v)
    if (ctx.planned[v]) plan.naive_bytes += align_up(rec.values[v].bytes);

  plan.step_of_node.assign(nn, -1);
  for (size_t p = n; p-- > 0;) plan.step_of_node[plan.order[p]] = static_cast<int>(p);
  plan.last_use_pos.assign(nv, -1);
  for (size_t p = 0; p < n; ++p)
    for (int in : g.nodes[plan.order[p]].inputs)
      if (in >= 0) plan.last_use_pos[in] = static_cast<int>(p);
  for (int v : g.outputs) plan.last_use_pos[v] = static_cast<int>(n);
  for (char r : plan.recomputed) plan.recompute_count += r ? 1 : 0;
  for (int64_t s : rec.node_scratch_bytes) plan.scratch_peak = std::max(plan.scratch_peak, s);
  return plan;
}

MemoryPlan plan_memory(const Graph& g, const RunRecord& rec, const PlanOptions& options) {
  const size_t nn = g.nodes.size();
  const PlanContext ctx = plan_context(g, rec);
  std::vector<int> graph_order(nn);
  std::iota(graph_order.begin(), graph_order.end(), 0);

  MemoryPlan base;
  base.options = options;
  // The reference bound: graph order, no in-place, perfect packing.
  base.in_order_bound = evaluate(g, rec, graph_order, ctx.root, ctx.is_output, false).peak;

  std::vector<int> order = graph_order;
  if (options.reorder && options.tensor_reuse) {
    const int64_t in_order = steps_live_peak(g, rec, ctx, graph_order, options.in_place);
    std::vector<int> alt = memory_aware_order(g, rec, ctx.root, ctx.is_output);
    if (alt.size() == nn && steps_live_peak(g, rec, ctx, alt, options.in_place) < in_order) {
      order = std::move(alt);
      base.reordered = true;
    }
  }
  return layout_steps(g, rec, ctx, base, std::move(order), {});
}

}  // namespace tinyai
