// Which weight units stay resident across inferences when the weights do not all fit.
//
// Under a budget, a prefetcher that reads ahead by evicting whatever is used furthest away
// streams every unit through memory: after a unit is used its next use is a whole cycle away,
// so it is always the first to go, and every inference reads all the weights. Keeping a set of
// units resident instead reads only the rest, but leaves less room to read ahead in. Which set
// is best depends on the compute between acquisitions and the disk: on a slow disk (or a large
// budget) keep as much as leaves room for the largest streamed unit; on a fast disk keep what
// the reads cannot hide. plan_residency simulates candidate sets over the steady state of a
// cyclic run (reads in execution order, one at a time at the disk's rate, as soon as the room
// left by the kept units allows; a streamed unit frees its bytes when it is released) and
// returns the fastest.
#pragma once
#include <cstdint>
#include <vector>

namespace tinyai {

struct PlanUnit {
  uint64_t nbytes = 0;
  int priority = 1;     // LayerPriority: higher priorities are kept first
  bool pinned = false;  // resident whatever the plan (CRITICAL): its bytes are not room
};

struct ResidencyPlan {
  std::vector<bool> keep;           // per unit
  uint64_t keep_bytes = 0;          // pinned units included
  double predicted_seconds = 0.0;   // one inference in the steady state, as simulated
  double stream_all_seconds = 0.0;  // the same with nothing but pinned units kept
};

// `sequence`: the units in execution order (a unit may occur more than once); `compute_after`:
// per position, the seconds between that acquisition and the next one (the compute the read of
// later units can hide behind); `hold` (optional, per position, <= compute_after): seconds from
// the acquisition to the release, when a streamed unit's bytes may go (default: the whole
// compute_after). `budget` > 0 bytes, `bytes_per_second` > 0. Units larger than the room the
// pinned units leave cannot be planned: the result keeps only pinned units.
ResidencyPlan plan_residency(const std::vector<PlanUnit>& units, const std::vector<int>& sequence,
                             const std::vector<double>& compute_after, uint64_t budget,
                             double bytes_per_second, const std::vector<double>& hold = {});

// The simulated seconds of one steady-state inference with `keep` resident (pinned units are
// kept whatever `keep` says); a negative value if a streamed unit does not fit the room.
double simulate_residency(const std::vector<PlanUnit>& units, const std::vector<int>& sequence,
                          const std::vector<double>& compute_after, uint64_t budget,
                          double bytes_per_second, const std::vector<bool>& keep,
                          const std::vector<double>& hold = {});

}  // namespace tinyai
