"""The schedule lower bound the loader benchmark and workbench judge streaming latency by."""
import itertools

import pytest

from tinyai_workbench.core_native.loader_bounds import (best_overlap_ratio, least_disk_for_ratio,
                                                       streaming_latency_bound)


def test_no_budget_pressure_is_the_compute():
    assert streaming_latency_bound([1.0, 2.0], [10, 10], budget_bytes=20,
                                   disk_bytes_per_s=1.0) == pytest.approx(3.0)


def test_steady_state_reads_at_least_weights_minus_budget():
    # Tiny compute: the disk term (weights - budget) / bandwidth dominates.
    assert streaming_latency_bound([0.0, 0.0, 0.0], [10, 10, 10], 10, 2.0) == pytest.approx(10.0)


def test_heavy_tail_cut_serialises_compute_and_reads():
    # Layer 0 computes 5 s on 1 byte; layer 1 needs 10 bytes with a budget of 4. At most 4 of
    # them are resident when layer 1 starts (at >= 5 s), so 6 more take 6 s after it.
    b = streaming_latency_bound([5.0, 0.0], [1, 10], budget_bytes=4, disk_bytes_per_s=1.0)
    assert b == pytest.approx(11.0)
    # The overlap bound max(compute, (weights - budget) / disk) would say 7 s.
    assert b > max(5.0, (11 - 4) / 1.0)


def test_heavy_head_cut_counts_the_reads_before_the_first_compute():
    # Layer 0 needs 10 bytes, budget 4: 6 of them are read before it computes (at best 4 were
    # resident from the last run), then 5 s of compute.
    assert streaming_latency_bound([5.0, 0.0], [10, 1], 4, 1.0) == pytest.approx(11.0)


def _best_schedule(compute, sizes, budget, bw):
    """The fastest of a family of real schedules for one run: a set of layers stays resident
    (from the run before), the others are read one at a time in execution order, each as soon
    as the disk is free and the budget has room (a streamed layer's bytes are freed when its
    compute ends). The bound must never exceed what any of them reaches."""
    n = len(compute)
    best = float("inf")
    for keep in itertools.product([False, True], repeat=n):
        kept = sum(s for s, k in zip(sizes, keep) if k)
        room = budget - kept
        streamed = [i for i in range(n) if not keep[i]]
        if room < 0 or any(sizes[i] > room for i in streamed):
            continue
        ready, end = {}, {}

        def end_of(i):  # compute end of layer i (needs the reads of layers <= i issued)
            if i < 0:
                return 0.0
            if i not in end:
                end[i] = max(end_of(i - 1), ready.get(i, 0.0)) + compute[i]
            return end[i]

        disk_free, freed_at, used, fifo = 0.0, 0.0, 0, []
        for j in streamed:
            while used + sizes[j] > room:
                i = fifo.pop(0)
                freed_at = max(freed_at, end_of(i))
                used -= sizes[i]
            disk_free = max(disk_free, freed_at) + sizes[j] / bw
            ready[j] = disk_free
            used += sizes[j]
            fifo.append(j)
        best = min(best, end_of(n - 1))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_bound_never_exceeds_a_feasible_schedule(seed):
    import random

    rng = random.Random(seed)
    n = rng.randint(1, 6)
    compute = [rng.uniform(0, 3) for _ in range(n)]
    sizes = [rng.randint(1, 8) for _ in range(n)]
    budget = rng.randint(max(sizes), sum(sizes) + 2)
    bw = rng.uniform(0.5, 4)
    assert streaming_latency_bound(compute, sizes, budget, bw) <= \
        _best_schedule(compute, sizes, budget, bw) + 1e-9


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 compute times but 1 weight sizes"):
        streaming_latency_bound([1.0, 2.0], [3], 1, 1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        streaming_latency_bound([1.0], [3], 1, 0.0)


# ---- the loader's residency plan (src/loader/residency_plan.cpp) ----------------------------

native = pytest.mark.native


@native
def test_plan_keeps_everything_when_it_fits():
    from tinyai_workbench.core_native import _core

    plan = _core.plan_residency([10] * 4, [0, 1, 2, 3], [0.5] * 4, 40, 1.0)
    assert plan["keep"] == [True] * 4 and plan["keep_bytes"] == 40
    assert plan["predicted_seconds"] == pytest.approx(2.0)  # compute only: nothing is read


@native
@pytest.mark.parametrize("seed", range(30))
def test_plan_is_feasible_and_never_beats_the_lower_bound(seed):
    import random

    from tinyai_workbench.core_native import _core

    rng = random.Random(seed)
    n = rng.randint(2, 12)
    sizes = [rng.randint(1, 20) * 4096 for _ in range(n)]
    compute = [rng.uniform(0.0, 0.01) for _ in range(n)]
    budget = rng.randint(max(sizes), sum(sizes))
    bw = rng.uniform(1e6, 50e6)
    plan = _core.plan_residency(sizes, list(range(n)), compute, budget, bw)
    streamed = [s for s, k in zip(sizes, plan["keep"]) if not k]
    assert plan["keep_bytes"] == sum(s for s, k in zip(sizes, plan["keep"]) if k)
    assert plan["keep_bytes"] + max(streamed, default=0) <= budget
    assert plan["predicted_seconds"] <= plan["stream_all_seconds"] * 1.02 + 1e-12
    assert plan["predicted_seconds"] >= streaming_latency_bound(compute, sizes, budget, bw) - 1e-9


@native
def test_plan_prefers_keeping_on_a_slow_disk_and_streaming_on_a_fast_one():
    from tinyai_workbench.core_native import _core

    sizes, compute = [1 << 20] * 10, [0.01] * 10  # 1 MiB and 10 ms a layer, budget 5 MiB
    slow = _core.plan_residency(sizes, list(range(10)), compute, 5 << 20, 10e6)
    fast = _core.plan_residency(sizes, list(range(10)), compute, 5 << 20, 10e9)
    # Slow disk: every byte kept is 0.1 s saved; keep all but the room for one streamed layer.
    assert slow["keep_bytes"] == 4 << 20
    assert slow["predicted_seconds"] < slow["stream_all_seconds"]
    # Fast disk: reads hide behind compute whatever is kept, so the plan keeps the most among
    # the equally fast sets, and it runs at the compute time.
    assert fast["predicted_seconds"] == pytest.approx(0.1, rel=0.01)


@native
def test_plan_rejects_bad_input():
    from tinyai_workbench.core_native import _core

    with pytest.raises(ValueError, match="2 positions but 1 compute times"):
        _core.plan_residency([4, 4], [0, 1], [0.1], 8, 1.0)
    with pytest.raises(ValueError, match="unit 5"):
        _core.plan_residency([4, 4], [0, 5], [0.1, 0.1], 8, 1.0)
    with pytest.raises(ValueError, match="disk rate"):
        _core.plan_residency([4], [0], [0.1], 8, 0.0)


@native
def test_releasing_early_frees_room_sooner():
    from tinyai_workbench.core_native import _core

    # Four 1 MiB layers, a 2 MiB budget, a 200 MB/s disk (5.2 ms a read); layer 0 computes for
    # 20 ms, the others barely. Held for its whole gap, layer 0 leaves room to read only layer 1
    # behind its compute; released after 1 ms, layers 1 and 2 are read behind it.
    sizes, compute = [1 << 20] * 4, [0.02, 0.0001, 0.0001, 0.0001]
    held_all = _core.plan_residency(sizes, [0, 1, 2, 3], compute, 2 << 20, 200e6)
    held_short = _core.plan_residency(sizes, [0, 1, 2, 3], compute, 2 << 20, 200e6,
                                      hold=[0.001] * 4)
    assert held_short["stream_all_seconds"] < held_all["stream_all_seconds"] - 0.004
    assert held_short["predicted_seconds"] <= held_all["predicted_seconds"]
    with pytest.raises(ValueError, match="hold times"):
        _core.plan_residency(sizes, [0, 1, 2, 3], compute, 2 << 20, 200e6, hold=[0.001])


def test_best_overlap_ratio_is_one_when_compute_or_disk_alone_decides():
    # Schedule bound = unconstrained: nothing is forced into sequence.
    assert best_overlap_ratio(1.0, 1.0, 100, 1000.0) == pytest.approx(1.0)
    # The reads take longer than the schedule bound: the overlap bound is the disk.
    assert best_overlap_ratio(1.5, 1.0, 2000, 1000.0) == pytest.approx(1.0)


def test_best_overlap_ratio_names_a_gap_no_schedule_closes():
    # vgg19-like: the budget forces 0.6 s of reads after compute, the reads take 0.5 s.
    assert best_overlap_ratio(1.6, 1.0, 500, 1000.0) == pytest.approx(1.6)
    # Reading more (1.2 s) lifts the overlap bound, not past the schedule bound.
    assert best_overlap_ratio(1.8, 1.0, 1200, 1000.0) == pytest.approx(1.5)


def test_best_overlap_ratio_falls_as_a_schedule_reads_more():
    sched, free, disk = 1.7, 1.0, 1000.0
    ratios = [best_overlap_ratio(sched, free, r, disk) for r in range(0, 3001, 100)]
    assert all(a >= b for a, b in zip(ratios, ratios[1:]))
    assert ratios[0] == pytest.approx(1.7) and ratios[-1] == pytest.approx(1.0)


def test_best_overlap_ratio_of_a_real_bound():
    # The schedule bound of a profile, judged at its least read (weights - budget).
    compute, weights, budget, disk = [5.0, 0.0], [1, 10], 4, 1.0
    sched = streaming_latency_bound(compute, weights, budget, disk)  # 11 s (see above)
    assert best_overlap_ratio(sched, 5.0, sum(weights) - budget, disk) == pytest.approx(11 / 7)


@pytest.mark.parametrize("args", [(1.0, 1.0, 10, 0.0), (1.0, 0.0, 10, 1.0), (-1.0, 1.0, 10, 1.0),
                                  (1.0, 1.0, -1, 1.0)])
def test_best_overlap_ratio_rejects_bad_input(args):
    with pytest.raises(ValueError):
        best_overlap_ratio(*args)


def test_least_disk_for_ratio_finds_where_the_target_starts_to_hold():
    # Layer 0 computes 5 s on 1 byte, layer 1 needs 10 bytes, budget 4. At rate R the schedule
    # bound is 5 + 6/R and the least read 7 bytes, so the ratio is (5 + 6/R) / max(5, 7/R):
    # <= 1.2 once R >= 6 (for R >= 1.4 the overlap bound is the compute).
    rate = least_disk_for_ratio([5.0, 0.0], [1, 10], 4, 5.0, 1.2, lo_bytes_per_s=0.1,
                                hi_bytes_per_s=1e3, steps=2000)
    assert rate == pytest.approx(6.0, rel=0.01)
    assert best_overlap_ratio(streaming_latency_bound([5.0, 0.0], [1, 10], 4, rate), 5.0, 7,
                              rate) <= 1.2


def test_least_disk_for_ratio_none_when_even_the_fastest_disk_misses():
    # The unconstrained run given is faster than the compute itself: no disk helps.
    assert least_disk_for_ratio([5.0, 0.0], [1, 10], 4, 3.0, 1.2) is None


def test_least_disk_for_ratio_rejects_bad_input():
    with pytest.raises(ValueError):
        least_disk_for_ratio([1.0], [1], 1, 1.0, 0.9)
    with pytest.raises(ValueError):
        least_disk_for_ratio([1.0], [1], 1, 1.0, 1.2, lo_bytes_per_s=10.0, hi_bytes_per_s=1.0)
