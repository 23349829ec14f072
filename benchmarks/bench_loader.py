"""Progressive loader benchmark: storage bandwidth, standalone loader throughput, and (once
Session runs through the loader) end-to-end rows against the issue's targets. Prints ratios.

    python benchmarks/bench_loader.py                      # standalone rows, 512 MiB file
    python benchmarks/bench_loader.py --size-mib 128       # smaller synthetic file
    python benchmarks/bench_loader.py --weights path/to/weights.bin
    python benchmarks/bench_loader.py --end-to-end         # + vgg19/resnet50 session rows

Standalone rows (work now):
  * disk: O_DIRECT sequential read of the weights file (the bandwidth the overlap bound uses);
  * page cache: the same file read twice through the page cache (second pass timed);
  * loader: tw.ProgressiveLoader streaming every layer (prefetch on, budget 30 % of the file,
    zero compute, page cache dropped first) -- as MB/s and as a fraction of the disk;
  * loader at an emulated 200 MB/s disk: the throttle must deliver what it says;
  * CRC-32: the checksum every read pays (the loader cannot stream faster than this);
  * simulated inference on an emulated 200 MB/s disk (fixed compute per layer): stall fraction
    with a fixed window of 1 vs the adaptive window, at budgets of 30/50/70 %.

End-to-end rows (need a Session that streams through the loader: feature-detected by the
"loader_*" keys of Session.stats(); skipped with a note otherwise):
  * vgg19 at a 128 MiB weight budget: max|err| vs onnxruntime, weight_peak_bytes <= budget,
    process peak RSS (child process) vs onnxruntime's;
  * resnet50 and vgg19 at 30 % of their weights, weights read from disk: latency vs the
    overlap bound max(unconstrained latency, bytes read per inference / disk bandwidth), prefetch
    on and off; also vs the schedule bound, the least latency any schedule can reach with the
    model's per-layer compute, the budget and the disk (loader_bounds.py). The unconstrained,
    prefetch-on and prefetch-off sessions take turns run by run, with a disk probe of the
    model's own weights file in each round;
  * a 200 MB/s emulated disk with the adaptive window: stall fraction per inference, against
    the least stall the schedule bound allows at each budget.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tinyai_workbench as tw
from tinyai_workbench.core_native import _core
from tinyai_workbench.core_native.importer.constants import Constant
from tinyai_workbench.core_native.importer.weights_writer import write_weights
from tinyai_workbench.core_native.loader import ProgressiveLoader
from tinyai_workbench.core_native.loader_bounds import (best_overlap_ratio, least_disk_for_ratio,
                                                       streaming_latency_bound)

MiB = 1 << 20


# ---- standalone ---------------------------------------------------------------------------


def synthetic_weights(path: Path, size_mib: int) -> Path:
    """A weights file of about size_mib: alternating large and small layers (like a CNN's
    conv/fc mix), random bytes so nothing about the data helps."""
    rng = np.random.default_rng(0)
    big, small = max(1, size_mib // 12), max(1, size_mib // 48)
    sizes, total = [], 0
    while total < size_mib:
        for s in (big, small, small):
            sizes.append(s)
            total += s
    layers = [[(f"w{i}", Constant.from_array(rng.integers(0, 2**31, s * MiB // 4, dtype=np.int32)))]
              for i, s in enumerate(sizes)]
    write_weights(str(path), layers)
    return path


def probe(path: str, direct: bool, warm: bool = False) -> float:
    if warm:
        _core.measure_sequential_read(path, False)  # fill the page cache
    else:
        _core.drop_page_cache(path)
    return _core.measure_sequential_read(path, direct)["mb_per_s"]


def best_of(n: int, fn) -> float:
    return max(fn() for _ in range(n))


def stream_with_loader(path: str, budget_fraction: float, passes: int,
                       bandwidth_mbps: float = 0.0, window: int = 2) -> dict:
    """Acquire every layer in order `passes` times with no compute in between; MB/s of reads."""
    size = os.path.getsize(path)
    budget = int(size * budget_fraction)
    cfg = tw.ProgressiveLoaderConfig(enable_prefetch=True, prefetch_window=window,
                                     enable_adaptive_window=True, max_memory_usage=budget)
    with ProgressiveLoader(path, cfg, bandwidth_limit_mbps=bandwidth_mbps) as ld:
        sizes = ld.stats()["layer_bytes"]
        # A layer over a quarter of the budget is streamed in pieces of a sixteenth, page-aligned
        # (read in place), as a Session would (weight_streaming.h).
        piece_cap = max(4096, budget // 16 // 4096 * 4096)
        for layer, nbytes in enumerate(sizes):
            if nbytes > budget // 4:
                ld.set_layer_pieces(layer, list(range(piece_cap, nbytes, piece_cap)))
        order = [l for l, n in enumerate(sizes) if n > 0]
        ld.set_execution_order(order)
        # Warm-up pass: derives the split layers' per-piece CRCs (a one-time cost).
        for pos, layer in enumerate(order):
            for p in range(ld.num_pieces(layer)):
                ld.acquire_piece(layer, p, pos)
                ld.release_piece(layer, p)
        _core.drop_page_cache(path)
        ld.reset_stats()
        t0 = time.perf_counter()
        for _ in range(passes):
            for pos, layer in enumerate(order):
                for p in range(ld.num_pieces(layer)):
                    ld.acquire_piece(layer, p, pos)
                    ld.release_piece(layer, p)
        dt = time.perf_counter() - t0
        s = ld.stats()
    return {"mb_per_s": s["bytes_read"] / dt / 1e6, "seconds": dt, "bytes": s["bytes_read"],
            "peak_resident": s["peak_resident_bytes"], "budget": budget,
            "window": s["current_window"], "storage": s["storage"]}


def simulated_inference(path: str, budget_fraction: float, adaptive: bool, passes: int = 4,
                        bandwidth_mbps: float = 200.0, compute_over_io: float = 1.3) -> dict:
    """Layers acquired in order with a fixed compute time each (sleep), on an emulated disk.
    Compute per pass is `compute_over_io` x the time to read every layer once, so a good
    window can hide the reads as far as the budget lets it; returns the last pass's stall
    fraction."""
    size = os.path.getsize(path)
    budget = int(size * budget_fraction)
    cfg = tw.ProgressiveLoaderConfig(enable_prefetch=True, prefetch_window=1,
                                     enable_adaptive_window=adaptive, max_memory_usage=budget)
    with ProgressiveLoader(path, cfg, bandwidth_limit_mbps=bandwidth_mbps) as ld:
        sizes = ld.stats()["layer_bytes"]
        order = [l for l, n in enumerate(sizes) if n > 0]
        if max(sizes) > budget:
            return {"skipped": f"largest layer {max(sizes) / MiB:.0f} MiB > budget"}
        ld.set_execution_order(order)
        compute = compute_over_io * sum(sizes) / (bandwidth_mbps * 1e6) / len(order)
        for _ in range(passes):
            before = ld.stats()["stall_seconds"]
            t0 = time.perf_counter()
            for pos, layer in enumerate(order):
                ld.acquire(layer, pos)
                time.sleep(compute)
                ld.release(layer)
            wall = time.perf_counter() - t0
            stall = ld.stats()["stall_seconds"] - before
        s = ld.stats()
    return {"stall_fraction": stall / wall, "wall": wall, "window": s["current_window"],
            "peak_resident": s["peak_resident_bytes"], "budget": budget}


def crc_mb_per_s() -> float:
    data = np.random.default_rng(1).integers(0, 256, 64 * MiB, dtype=np.uint8)
    t0 = time.perf_counter()
    _core.crc32_update(data)  # in place: _core.crc32(bytes) would time a 64 MiB copy too
    return len(data) / (time.perf_counter() - t0) / 1e6


def standalone(path: str, repeats: int) -> dict:
    size = os.path.getsize(path)
    disk = best_of(repeats, lambda: probe(path, direct=True))
    cache = best_of(repeats, lambda: probe(path, direct=False, warm=True))
    cold = best_of(repeats, lambda: probe(path, direct=False))
    loader = max((stream_with_loader(path, 0.3, 1) for _ in range(repeats)),
                 key=lambda r: r["mb_per_s"])
    emulated = stream_with_loader(path, 0.3, 1, bandwidth_mbps=200.0)
    crc = best_of(repeats, crc_mb_per_s)
    print(f"\nweights file: {path} ({size / MiB:.0f} MiB); best of {repeats}")
    print(f"{'row':<44}{'MB/s':>10}{'vs disk':>10}")
    rows = [
        ("disk (O_DIRECT sequential, 8 MiB reads)", disk),
        ("page cache (warm, buffered)", cache),
        ("buffered read, cold page cache", cold),
        (f"loader, budget 30 % ({loader['budget'] / MiB:.0f} MiB), prefetch", loader["mb_per_s"]),
        (f"loader, {emulated['storage']}", emulated["mb_per_s"]),
        (f"CRC-32 (core, one thread, {_core.crc32_kernel()})", crc),
    ]
    for name, v in rows:
        print(f"{name:<44}{v:>10.0f}{v / disk:>10.2f}")
    print(f"loader peak resident {loader['peak_resident'] / MiB:.1f} MiB of a "
          f"{loader['budget'] / MiB:.1f} MiB budget; final window {loader['window']}")
    print(f"emulated 200 MB/s: delivered {emulated['mb_per_s']:.0f} MB/s "
          f"(ratio {emulated['mb_per_s'] / 200.0:.2f})")
    return {"disk_mb_per_s": disk, "page_cache_mb_per_s": cache, "loader": loader}


def window_adaptation(size_mib: int) -> None:
    """The adaptive window on an emulated 200 MB/s disk, against a fixed window of 1."""
    with tempfile.TemporaryDirectory(prefix="bench-loader-",
                                     dir=os.environ.get("TMPDIR", "/var/tmp")) as tmp:
        path = str(synthetic_weights(Path(tmp) / "weights.bin", size_mib))
        print(f"\nsimulated inference on an emulated 200 MB/s disk ({size_mib} MiB of weights, "
              f"compute = 1.3 x reading them all once; last of 4 passes)")
        print(f"{'budget':>8}{'stall % (window 1)':>20}{'stall % (adaptive)':>20}{'window':>8}"
              f"{'ratio':>8}")
        for fraction in (0.3, 0.5, 0.7):
            fixed = simulated_inference(path, fraction, adaptive=False)
            adaptive = simulated_inference(path, fraction, adaptive=True)
            if "skipped" in fixed:
                print(f"{fraction:>8.0%}  skipped: {fixed['skipped']}")
                continue
            print(f"{fraction:>8.0%}{100 * fixed['stall_fraction']:>20.1f}"
                  f"{100 * adaptive['stall_fraction']:>20.1f}{adaptive['window']:>8}"
                  f"{adaptive['stall_fraction'] / max(fixed['stall_fraction'], 1e-9):>8.2f}")


# ---- end to end (needs Session <-> loader integration) ----------------------------------


def _light(name: str) -> Path:
    import onnx

    return Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light" / \
        f"light_{name}.onnx"


def _session(model, budget: int | None, prefetch: bool = True, adaptive: bool = True,
             window: int = 2):
    cfg = tw.Config()
    cfg.loader.max_memory_usage = budget
    cfg.loader.enable_prefetch = prefetch
    cfg.loader.enable_adaptive_window = adaptive
    cfg.loader.prefetch_window = window
    return tw.Session(model, cfg)


def loader_integration_note(model) -> str | None:
    """None if Session streams weights through the loader, else why the rows are skipped."""
    from tinyai_workbench.app.test_data import synthetic_inputs

    sess = _session(model, max(1, model.weight_bytes // 2))
    try:
        sess.run(synthetic_inputs(model))
    except tw.TinyAIError as e:
        return f"Session refused a loader budget ({type(e).__name__}: {e})"
    if "loader_hits" not in sess.stats():
        return "Session.stats() has no loader_* keys: Session does not run through the loader yet"
    return None


def loader_counters(sess) -> dict:
    """The loader's counters in a Session's stats (keys without the loader_ prefix)."""
    return {k[len("loader_"):]: v for k, v in sess.stats().items() if k.startswith("loader_")}


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds this process's threads have run, split into the loader's I/O threads (named
    tinyai-loader) and the rest (the compute threads and Python); empty where /proc has no
    per-thread figures (not Linux). schedstat counts nanoseconds on the CPU (user and system);
    stat's clock ticks are the fallback where the kernel keeps no schedstat."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"loader": 0.0, "compute": 0.0}
    task_dir = f"/proc/{os.getpid()}/task"
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return {}
    for tid in tasks:
        try:
            with open(f"{task_dir}/{tid}/comm") as f:
                comm = f.read().strip()
            try:
                with open(f"{task_dir}/{tid}/schedstat") as f:
                    seconds = int(f.read().split()[0]) / 1e9
            except OSError:
                with open(f"{task_dir}/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        except OSError:  # the thread ended meanwhile
            continue
        out["loader" if comm == "tinyai-loader" else "compute"] += seconds
    return out


def child_peak_rss(kind: str, model_name: str, budget: int) -> dict:
    """Run one inference in a fresh process; its peak RSS (and output error for ours)."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, model_name, str(budget)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(kind: str, model_name: str, budget: int) -> None:
    from tinyai_workbench.app.test_data import synthetic_inputs

    model = tw.load_model(_light(model_name))
    feeds = synthetic_inputs(model)
    result = {}
    import onnxruntime as ort  # imported up front in both cases, so both pay its libraries

    def peak_rss() -> int:
        # VmHWM: this process image's own peak. ru_maxrss would not do: Linux carries the
        # parent's RSS at fork into the child's ru_maxrss across exec, so a parent that had
        # streamed a large synthetic file reported its own size here.
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    if kind == "ours":
        try:
            sess = _session(model, budget)
            out = sess.run(feeds)
        except tw.TinyAIError as e:
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
            return
        result["weight_peak_bytes"] = sess.stats()["weight_peak_bytes"]
        result["peak_rss_bytes"] = peak_rss()  # before onnxruntime loads the model below
        del sess
        ref = ort.InferenceSession(str(_light(model_name)), providers=["CPUExecutionProvider"])
        name = model.outputs[0].name
        result["max_abs_err"] = float(np.max(np.abs(out[name] - ref.run([name], feeds)[0])))
    else:
        ref = ort.InferenceSession(str(_light(model_name)), providers=["CPUExecutionProvider"])
        ref.run(None, feeds)
        result["peak_rss_bytes"] = peak_rss()
    print(json.dumps(result))


def schedule_inputs(free_sess, feeds, computes, free_latency: float):
    """Per-layer compute and weight bytes in the order the plan first uses the layers: the
    compute is the unconstrained runs' median per layer, scaled so the layers sum to the
    median latency (per-step overheads are spread over the layers)."""
    per_layer = [statistics.median(run[i] for run in computes) for i in range(len(computes[0]))]
    scale = free_latency / max(sum(per_layer), 1e-12)
    order = []
    for step in free_sess.create_execution_plan(feeds):
        if step["layer"] >= 0 and step["layer"] not in order:
            order.append(step["layer"])
    sizes = free_sess.stats()["loader_layer_bytes"]
    return [per_layer[l] * scale for l in order], [sizes[l] for l in order]


def schedule_bound(free_sess, feeds, computes, free_latency: float, budget: int,
                   disk_bytes_per_s: float) -> float:
    """streaming_latency_bound for a model (see schedule_inputs)."""
    compute, sizes = schedule_inputs(free_sess, feeds, computes, free_latency)
    return streaming_latency_bound(compute, sizes, budget, disk_bytes_per_s)


def end_to_end(disk_mb_per_s: float, runs: int) -> None:
    from tinyai_workbench.app.test_data import synthetic_inputs

    print("\nend to end")
    probe_model = tw.load_model(_light("resnet50"))
    note = loader_integration_note(probe_model)
    if note:
        print(f"  skipped: {note}")
        return

    # vgg19 at 128 MiB: correctness, weight peak, process peak RSS vs onnxruntime.
    budget = 128 * MiB
    ours = child_peak_rss("ours", "vgg19", budget)
    ort_rss = child_peak_rss("ort", "vgg19", budget)
    if "error" in ours:
        print(f"  vgg19 @ 128 MiB: failed: {ours['error']} (onnxruntime peak RSS "
              f"{ort_rss['peak_rss_bytes'] / 1e6:.0f} MB)")
    else:
        print(f"  vgg19 @ 128 MiB: max|err| {ours['max_abs_err']:.2e}; weight peak "
              f"{ours['weight_peak_bytes'] / MiB:.1f} MiB (<= 128: "
              f"{ours['weight_peak_bytes'] <= budget}); peak RSS "
              f"{ours['peak_rss_bytes'] / 1e6:.0f} MB vs onnxruntime "
              f"{ort_rss['peak_rss_bytes'] / 1e6:.0f} MB (ratio "
              f"{ours['peak_rss_bytes'] / ort_rss['peak_rss_bytes']:.2f}; target <= 300 MB)")

    # 30 % budgets: latency vs the overlap bound, as the issue defines it, max(unconstrained,
    # MB read / disk), and vs the schedule bound: the least latency any schedule can reach with
    # this compute profile, budget and disk (loader_bounds.streaming_latency_bound; it also
    # counts the cuts where the budget forces reads into sequence with compute, which the
    # overlap bound ignores). The disk is measured on the model's own weights file, once per
    # round between the runs, so both bounds use the disk of the same minutes.
    print(f"  load average {os.getloadavg()[0]:.2f}; standalone disk probe {disk_mb_per_s:.0f} MB/s; "
          f"disk = median O_DIRECT read of the model's file between runs")
    print("  ld disk = the rate the loader itself measured while reading (bytes over the time a "
          "read was in flight);\n  /sched@ld = latency over the schedule bound at that rate; "
          "plan ms = the loader's simulated inference under its residency plan")
    print(f"  {'model':<10}{'prefetch':>9}{'ms':>8}{'free ms':>9}{'MB read':>8}{'min MB':>7}"
          f"{'disk':>6}{'bound':>7}{'/bound':>7}{'sched':>7}{'/sched':>7}{'/free':>7}"
          f"{'stall %':>8}{'ld disk':>8}{'/sched@ld':>10}{'plan ms':>8}")
    for name in ("resnet50", "vgg19"):
        model = tw.load_model(_light(name))
        feeds = synthetic_inputs(model)
        weights = str(model.weights_path)
        budget = int(model.weight_bytes * 0.3)
        min_read = model.weight_bytes - budget
        # The three sessions take turns, one run each, so a load change on the shared machine
        # hits all of them alike (the ratios compare runs of the same minutes).
        sessions = {"free": _session(model, None)}
        for prefetch in (True, False):
            sess = _session(model, budget, prefetch=prefetch)
            try:
                sess.run(feeds)  # warm-up (plans, split-layer CRCs, the window adapts)
                sess.run(feeds)
            except tw.TinyAIError as e:
                print(f"  {name:<10}{'on' if prefetch else 'off':>9}  failed: {e}")
                continue
            sessions["on" if prefetch else "off"] = sess
        sessions["free"].run(feeds)
        before = {k: loader_counters(v) for k, v in sessions.items()}
        times = {k: [] for k in sessions}
        cpu = {k: {"loader": 0.0, "compute": 0.0} for k in sessions}
        disks, computes = [], []
        for _ in range(runs):
            disks.append(probe(weights, direct=True))
            for k, sess in sessions.items():
                if k != "free":
                    _core.drop_page_cache(weights)
                c0 = thread_cpu_seconds()
                t0 = time.perf_counter()
                sess.run(feeds)
                times[k].append(time.perf_counter() - t0)
                c1 = thread_cpu_seconds()
                for part in c1:
                    cpu[k][part] += (c1[part] - c0[part]) / runs
                if k == "free":
                    computes.append(sess.stats()["layer_compute_seconds"])
        free = statistics.median(times["free"])
        disk = statistics.median(disks) * 1e6
        sched = schedule_bound(sessions["free"], feeds, computes, free, budget, disk)
        for k in ("on", "off"):
            if k not in sessions:
                continue
            t = statistics.median(times[k])
            after = loader_counters(sessions[k])
            read = (after["bytes_read"] - after["verify_bytes_read"]
                    - before[k]["bytes_read"] + before[k]["verify_bytes_read"]) / runs
            stall = (after["stall_seconds"] - before[k]["stall_seconds"]) / runs
            bound = max(free, read / disk)
            busy = after["disk_busy_seconds"] - before[k]["disk_busy_seconds"]
            loader_disk = (after["bytes_read"] - before[k]["bytes_read"]) / max(busy, 1e-9)
            sched_ld = schedule_bound(sessions["free"], feeds, computes, free, budget,
                                      loader_disk)
            plan = f"{after['plan_predicted_seconds'] * 1e3:>8.1f}" if after["plan_active"] \
                else f"{'-':>8}"
            print(f"  {name:<10}{k:>9}{t * 1e3:>8.1f}{free * 1e3:>9.1f}{read / 1e6:>8.0f}"
                  f"{min_read / 1e6:>7.0f}{disk / 1e6:>6.0f}{bound * 1e3:>7.1f}{t / bound:>7.2f}"
                  f"{sched * 1e3:>7.1f}{t / sched:>7.2f}{t / free:>7.2f}{100 * stall / t:>8.1f}"
                  f"{loader_disk / 1e6:>8.0f}{t / sched_ld:>10.2f}{plan}"
                  f"   window {after['current_window']}")
        if cpu["free"]["compute"] > 0 and "on" in sessions:
            # The CPU both kinds of thread need per inference, shared by the machine's cores:
            # the prefetch-on run cannot take less than that, stalls or not.
            cores = os.cpu_count() or 1
            on = cpu["on"]
            floor = (on["compute"] + on["loader"]) / cores
            print(f"  {name:<10}{'(cpu)':>9}  CPU per inference: compute {on['compute'] * 1e3:.0f} ms "
                  f"(unconstrained run {cpu['free']['compute'] * 1e3:.0f} ms), loader threads "
                  f"{on['loader'] * 1e3:.0f} ms; over {cores} cores at least {floor * 1e3:.0f} ms "
                  f"= {floor / free:.2f}x the unconstrained run")
        print(f"  {name:<10}{'(bound)':>9}  the schedule bound is {sched / free:.2f}x the "
              f"unconstrained run: no schedule at this budget and disk gets closer to it")
        least = best_overlap_ratio(sched, free, min_read, disk)
        full = best_overlap_ratio(sched, free, model.weight_bytes, disk)
        print(f"  {name:<10}{'(target)':>9}  the best ratio to the overlap bound any schedule "
              f"reaches at this disk: {least:.2f} reading only what the budget forces "
              f"({min_read / 1e6:.0f} MB), {full:.2f} reading every weight each run "
              f"(1.2 target {'reachable' if least <= 1.2 else 'out of reach'} without extra reads)")
        compute, sizes = schedule_inputs(sessions["free"], feeds, computes, free)
        needed = least_disk_for_ratio(compute, sizes, budget, free, 1.2)
        print(f"  {name:<10}{'(disk)':>9}  the 1.2 target is reachable without extra reads on "
              + (f"a disk of {needed / 1e6:.0f} MB/s or faster (this one: {disk / 1e6:.0f} MB/s)"
                 if needed else "no disk: the compute alone misses it"))
        del sessions

    # 200 MB/s emulated disk, adaptive window: stall fraction per inference.
    print("  emulated 200 MB/s disk, adaptive window (resnet50):")
    model = tw.load_model(_light("resnet50"))
    feeds = synthetic_inputs(model)
    if not hasattr(tw.Session, "set_bandwidth_limit_mbps"):
        print("    skipped: Session has no set_bandwidth_limit_mbps()")
        return
    # Where the budget allows a low stall: the least stall any schedule has is
    # 1 - unconstrained / schedule bound (at a 200 MB/s disk). The unconstrained session runs
    # between the throttled runs, so the bound uses the compute of the same minutes.
    free_sess = _session(model, None)
    free_sess.run(feeds)
    print("    (floor % = the least stall any schedule has; the bound uses the unconstrained runs "
          "taken in turns with the throttled ones)")
    for fraction in (0.3, 0.5, 0.7, 0.9, 0.95, 1.0):
        budget = int(model.weight_bytes * fraction)
        sess = _session(model, budget, window=1)
        sess.set_bandwidth_limit_mbps(200.0)
        for _ in range(3):  # let the window adapt and the residency plan settle
            sess.run(feeds)
        before = loader_counters(sess)
        times, frees, computes = [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            free_sess.run(feeds)
            frees.append(time.perf_counter() - t0)
            computes.append(free_sess.stats()["layer_compute_seconds"])
            t0 = time.perf_counter()
            sess.run(feeds)
            times.append(time.perf_counter() - t0)
        t, free = statistics.median(times), statistics.median(frees)
        after = loader_counters(sess)
        stall = (after["stall_seconds"] - before["stall_seconds"]) / runs
        read = (after["bytes_read"] - after["verify_bytes_read"]
                - before["bytes_read"] + before["verify_bytes_read"]) / runs
        sched = schedule_bound(free_sess, feeds, computes, free, budget, 200e6)
        floor = 1 - free / sched
        print(f"    budget {fraction:>4.0%}: {t * 1e3:7.1f} ms (free {free * 1e3:5.1f}; "
              f"{t / sched:.2f}x the schedule bound), stall {100 * stall / t:5.1f} % "
              f"(floor {100 * floor:4.1f} %), {read / 1e6:5.1f} MB read, kept "
              f"{after['planned_resident_bytes'] / 1e6:5.1f} MB, window {after['current_window']} "
              f"({after['storage']})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="a weights.bin to read (default: a synthetic file)")
    p.add_argument("--size-mib", type=int, default=512, help="size of the synthetic file")
    p.add_argument("--repeats", type=int, default=3, help="standalone rows: best of N")
    p.add_argument("--end-to-end", action="store_true", help="also the Session rows")
    p.add_argument("--runs", type=int, default=5, help="end-to-end: timed runs per row")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1], int(args.child[2]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-loader-",
                                     dir=os.environ.get("TMPDIR", "/var/tmp")) as tmp:
        path = args.weights or str(synthetic_weights(Path(tmp) / "weights.bin", args.size_mib))
        result = standalone(path, args.repeats)
    window_adaptation(min(args.size_mib, 64))
    if args.end_to_end:
        end_to_end(result["disk_mb_per_s"], args.runs)


if __name__ == "__main__":
    main()
