#include "scheduler/memory_plan.h"

#include <algorithm>
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

struct Lifetimes {
  std::vector<int> root;        // by value: storage root (planned value) or -1
  std::vector<int> start, end;  // by value (meaningful for planned roots)
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

Lifetimes lifetimes(const Graph& g, const std::vector<int>& order, const std::vector<int>& root,
                    const std::vector<char>& is_output) {
  Lifetimes lt;
  lt.root = root;
  const size_t nv = g.values.size();
  const int n = static_cast<int>(order.size());
  lt.start.assign(nv, -1);
  lt.end.assign(nv, -1);
  for (int p = 0; p < n; ++p) {
    const Node& node = g.nodes[order[p]];
    for (int o : node.outputs)
      if (o >= 0 && root[o] == o) lt.start[o] = lt.end[o] = p;
  }
  for (int p = 0; p < n; ++p)
    for (int in : g.nodes[order[p]].inputs)
      if (in >= 0 && root[in] >= 0) lt.end[root[in]] = std::max(lt.end[root[in]], p);
  for (size_t v = 0; v < nv; ++v)
    if (is_output[v] && root[v] >= 0) lt.end[root[v]] = n;  // returned to the caller
  return lt;
}

struct Group {
  int64_t bytes = 0;
  int start = 0, end = 0;
  std::vector<int> members;
};

// Merge outputs into dying inputs' slots where the op allows it; returns one group per slot.
std::vector<Group> build_groups(const Graph& g, const RunRecord& rec,
                                const std::vector<int>& order, const Lifetimes& lt,
                                bool in_place, std::vector<int>* in_place_of) {
  const size_t nv = g.values.size();
  std::vector<int> group_of(nv, -1);
  std::vector<Group> groups;
  in_place_of->assign(nv, -1);
  for (size_t p = 0; p < order.size(); ++p) {
    const Node& node = g.nodes[order[p]];
    std::vector<int> taken;  // groups already reused by an output of this node
    for (int o : node.outputs) {
      if (o < 0 || lt.root[o] != o) continue;
      int chosen = -1;
      if (in_place && in_place_capable(node.op_type)) {
        for (int in : node.inputs) {
          if (in < 0 || lt.root[in] != in || group_of[in] < 0) continue;  // views: skip
          const Group& grp = groups[group_of[in]];
          const auto& a = rec.values[in];
          const auto& b = rec.values[o];
          if (grp.end == static_cast<int>(p) && a.bytes == b.bytes && a.dtype == b.dtype &&
              a.shape == b.shape &&
              std::find(taken.begin(), taken.end(), group_of[in]) == taken.end()) {
            chosen = in;
            break;
          }
        }
      }
      if (chosen >= 0) {
        Group& grp = groups[group_of[chosen]];
        grp.end = std::max(grp.end, lt.end[o]);
        grp.members.push_back(o);
        group_of[o] = group_of[chosen];
        (*in_place_of)[o] = chosen;
        taken.push_back(group_of[o]);
      } else {
        Group grp;
        grp.bytes = align_up(rec.values[o].bytes);
        grp.start = lt.start[o];
        grp.end = lt.end[o];
        grp.members.push_back(o);
        group_of[o] = static_cast<int>(groups.size());
        groups.push_back(std::move(grp));
      }
    }
  }
  return groups;
}

int64_t live_peak(const std::vector<Group>& groups, size_t steps, std::vector<int64_t>* live) {
  std::vector<int64_t> delta(steps + 2, 0);
  for (const Group& grp : groups) {
    delta[grp.start] += grp.bytes;
    delta[std::min<size_t>(grp.end, steps) + 1] -= grp.bytes;
  }
  int64_t cur = 0, peak = 0;
  if (live) live->assign(steps, 0);
  for (size_t p = 0; p < steps; ++p) {
    cur += delta[p];
    peak = std::max(peak, cur);
    if (live) (*live)[p] = cur;
  }
  return peak;
}

// Best-fit offset assignment, largest slots first (greedy by size).
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
  std::vector<size_t> idx(groups.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    if (groups[a].bytes != groups[b].bytes) return groups[a].bytes > groups[b].bytes;
    return groups[a].start < groups[b].start;
  });
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
      if (gap >= grp.bytes && gap < best_gap) {
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
  Lifetimes lt;
  std::vector<Group> groups;
  std::vector<int> in_place_of;
  int64_t peak = 0;
};

Evaluated evaluate(const Graph& g, const RunRecord& rec, std::vector<int> order,
                   const std::vector<int>& root, const std::vector<char>& is_output, bool in_place) {
  Evaluated e;
  e.lt = lifetimes(g, order, root, is_output);
  e.groups = build_groups(g, rec, order, e.lt, in_place, &e.in_place_of);
  e.peak = live_peak(e.groups, order.size(), nullptr);
  e.order = std::move(order);
  return e;
}

}  // namespace

bool is_planned_value(const Graph& g, const RunRecord& rec, int v, const std::vector<char>& is_output) {
  const auto& r = rec.values[v];
  return r.produced && r.view_of < 0 && !is_output[v] && r.bytes > 0 && !g.values[v].is_constant;
}

MemoryPlan plan_memory(const Graph& g, const RunRecord& rec, const PlanOptions& options) {
  const size_t nv = g.values.size(), nn = g.nodes.size();
  std::vector<char> is_output(nv, 0);
  for (int v : g.outputs) is_output[v] = 1;
  std::vector<char> planned(nv, 0);
  for (size_t v = 0; v < nv; ++v) planned[v] = is_planned_value(g, rec, static_cast<int>(v), is_output);
  const std::vector<int> root = storage_roots(rec, planned);

  std::vector<int> graph_order(nn);
  std::iota(graph_order.begin(), graph_order.end(), 0);

  MemoryPlan plan;
  plan.options = options;
  // The reference bound: graph order, no in-place, perfect packing.
  plan.in_order_bound = evaluate(g, rec, graph_order, root, is_output, false).peak;

  Evaluated best = evaluate(g, rec, graph_order, root, is_output, options.in_place);
  if (options.reorder && options.tensor_reuse) {
    Evaluated alt = evaluate(g, rec, memory_aware_order(g, rec, root, is_output), root, is_output,
                             options.in_place);
    if (alt.order.size() == nn && alt.peak < best.peak) {
      best = std::move(alt);
      plan.reordered = true;
    }
  }

  std::vector<int64_t> group_offset;
  plan.arena_bytes = assign_offsets(best.groups, options.tensor_reuse, &group_offset);
  plan.live_peak = live_peak(best.groups, nn, &plan.live_after);
  plan.order = best.order;
  plan.in_place_of = best.in_place_of;
  plan.offset.assign(nv, -1);
  plan.slot_bytes.assign(nv, 0);
  for (size_t gi = 0; gi < best.groups.size(); ++gi)
    for (int v : best.groups[gi].members) {
      plan.offset[v] = group_offset[gi];
      plan.slot_bytes[v] = best.groups[gi].bytes;
    }
  for (size_t v = 0; v < nv; ++v)
    if (plan.in_place_of[v] >= 0) plan.in_place_count++;
  for (size_t v = 0; v < nv; ++v)
    if (planned[v]) plan.naive_bytes += align_up(rec.values[v].bytes);

  plan.step_of_node.assign(nn, -1);
  for (size_t p = 0; p < nn; ++p) plan.step_of_node[plan.order[p]] = static_cast<int>(p);
  plan.last_use_pos.assign(nv, -1);
  for (size_t p = 0; p < nn; ++p)
    for (int in : g.nodes[plan.order[p]].inputs)
      if (in >= 0) plan.last_use_pos[in] = static_cast<int>(p);
  for (int v : g.outputs) plan.last_use_pos[v] = static_cast<int>(nn);
  for (int64_t s : rec.node_scratch_bytes) plan.scratch_peak = std::max(plan.scratch_peak, s);
  return plan;
}

}  // namespace tinyai
