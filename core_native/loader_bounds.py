"""Lower bounds on the latency of one inference whose weights stream from disk under a budget.

The benchmark and the workbench compare measured latency against them: a schedule can only be
judged against what any schedule could do with the same compute, budget and disk.
"""
from __future__ import annotations

from typing import Sequence


def streaming_latency_bound(compute_s: Sequence[float], weight_bytes: Sequence[int],
                            budget_bytes: int, disk_bytes_per_s: float) -> float:
    """The least latency any prefetch/eviction schedule can reach, in seconds.

    `compute_s` and `weight_bytes` are per layer, in execution order (compute at the
    unconstrained speed; weights the bytes a layer needs resident while it computes). A layer
    computes only once its weights are in memory, memory never holds more than `budget_bytes`,
    and the disk reads at most `disk_bytes_per_s`. For every cut k in the order:

    * at the moment layer k starts, at most the budget of the weights of layers k.. is
      resident, so the rest must still be read: the run lasts at least
      compute(<k) + max(compute(>=k), (weights(>=k) - budget) / disk);
    * at the start of the run at most the budget is resident, so before layer k can compute,
      weights(<=k) - budget must have been read: at least that read time + compute(>=k).

    k = 0 in the first gives max(compute, (weights - budget) / disk), the bound every schedule
    meets in the steady state; the cuts add what a budget forces into sequence.
    """
    if len(compute_s) != len(weight_bytes):
        raise ValueError(f"{len(compute_s)} compute times but {len(weight_bytes)} weight sizes")
    if disk_bytes_per_s <= 0:
        raise ValueError(f"disk bandwidth must be > 0, got {disk_bytes_per_s}")
    n = len(compute_s)
    total_c, total_w = float(sum(compute_s)), float(sum(weight_bytes))
    best = total_c
    head_c = head_w = 0.0
    for k in range(n + 1):
        tail_c, tail_w = total_c - head_c, total_w - head_w
        best = max(best, head_c + max(tail_c, max(0.0, tail_w - budget_bytes) / disk_bytes_per_s))
        if k < n:
            through_w = head_w + weight_bytes[k]  # weights of layers <= k
            best = max(best, max(0.0, through_w - budget_bytes) / disk_bytes_per_s + tail_c)
            head_c += compute_s[k]
            head_w = through_w
    return best


def best_overlap_ratio(schedule_bound_s: float, unconstrained_s: float, read_bytes: int,
                       disk_bytes_per_s: float) -> float:
    """The least latency / overlap bound a schedule reading `read_bytes` per inference reaches.

    The overlap bound of such a run is max(unconstrained, read_bytes / disk), and the run takes
    at least max(schedule bound, read_bytes / disk). With read_bytes = weights - budget (the
    least any schedule reads) this is the best ratio a loader that reads only what the budget
    forces can reach; the ratio falls as read_bytes grows, so a loader can lower it by reading
    more than it needs, without running any faster.
    """
    if disk_bytes_per_s <= 0:
        raise ValueError(f"disk bandwidth must be > 0, got {disk_bytes_per_s}")
    if unconstrained_s <= 0 or schedule_bound_s < 0 or read_bytes < 0:
        raise ValueError("latencies must be > 0 and sizes >= 0")
    io = read_bytes / disk_bytes_per_s
    return max(schedule_bound_s, io) / max(unconstrained_s, io)


def least_disk_for_ratio(compute_s: Sequence[float], weight_bytes: Sequence[int],
                         budget_bytes: int, unconstrained_s: float, target: float,
                         lo_bytes_per_s: float = 1e7, hi_bytes_per_s: float = 1e11,
                         steps: int = 400) -> float | None:
    """The slowest disk from which up every faster one lets a schedule that reads only what the
    budget forces reach `target` x the overlap bound (best_overlap_ratio at weights - budget).

    Scans a geometric grid of disk rates from `hi_bytes_per_s` down; None when even the fastest
    misses the target. A fast disk always gets there (the bound tends to the compute); a slow
    one may too (both bounds become the reads), so the answer is where the fast side ends.
    """
    if target < 1.0 or steps < 2 or not 0 < lo_bytes_per_s < hi_bytes_per_s:
        raise ValueError("target must be >= 1 and the disk range increasing and positive")
    least_read = max(0, int(sum(weight_bytes)) - int(budget_bytes))
    step = (hi_bytes_per_s / lo_bytes_per_s) ** (1.0 / (steps - 1))
    found = None
    rate = hi_bytes_per_s
    for _ in range(steps):
        sched = streaming_latency_bound(compute_s, weight_bytes, budget_bytes, rate)
        if best_overlap_ratio(sched, unconstrained_s, least_read, rate) > target:
            break
        found = rate
        rate /= step
    return found
