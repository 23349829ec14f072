"""Latency of tinyai-workbench vs onnxruntime on the onnx wheel's light/ models, same process,
same thread count. Prints a ratio table (ours / theirs; lower is better): medians of --runs
timed runs after --warmup runs, the two engines alternating run by run so load from other
processes hits both alike. At 1 thread a second ratio uses thread CPU time, which
time-slicing on a shared machine does not inflate.

    python benchmarks/bench_models.py                     # resnet50, 1 thread
    python benchmarks/bench_models.py --models all --threads 1 2 --runs 10
    python benchmarks/bench_models.py --models squeezenet --level 2   # SIMD level 0..3
    python benchmarks/bench_models.py --models resnet50 squeezenet --tradeoff 0.5 1.0
        # per-run packing vs packed conv weights kept across runs, side by side
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

LIGHT = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"
ALL_MODELS = ["resnet50", "squeezenet", "densenet121", "inception_v1", "vgg19"]


def timed(fn, clock) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def bench(name: str, threads: int, runs: int, warmup: int, level: int, tradeoffs) -> list:
    """One row per memory/speed tradeoff; every session and onnxruntime take turns run by run."""
    path = LIGHT / f"light_{name}.onnx"
    model = tw.load_model(path)
    feeds = synthetic_inputs(model)
    sessions = [tw.Session(model, tw.Config(threads=threads, simd_level=level,
                                            memory=tw.MemoryOptimizerConfig(memory_speed_tradeoff=t)))
                for t in tradeoffs]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    # onnxruntime's intra-op workers spin after each run; with the engines taking turns in one
    # process they would hold a core through our next run (measured here: our 2-thread
    # resnet50 ran at 1 thread's speed). Spinning off costs onnxruntime nothing measurable
    # on this model (44-50 ms either way at 2 threads).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    ref = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    ours_fns = [(lambda s=s: s.run(feeds)) for s in sessions]
    ort_fn = lambda: ref.run(None, feeds)  # noqa: E731
    for _ in range(warmup):
        for fn in ours_fns:
            fn()
        ort_fn()
    ours = [[] for _ in sessions]
    ours_cpu = [[] for _ in sessions]
    theirs, theirs_cpu = [], []
    for _ in range(runs):
        for i, fn in enumerate(ours_fns):
            ours[i].append(timed(fn, time.perf_counter))
        theirs.append(timed(ort_fn, time.perf_counter))
        if threads == 1:  # both run on this thread at 1 thread
            for i, fn in enumerate(ours_fns):
                ours_cpu[i].append(timed(fn, time.thread_time))
            theirs_cpu.append(timed(ort_fn, time.thread_time))
    out_name = model.outputs[0].name
    expected = ref.run([out_name], feeds)[0]
    t = statistics.median(theirs)
    rows = []
    for i, sess in enumerate(sessions):
        err = float(np.max(np.abs(sess.run(feeds)[out_name] - expected)))
        o = statistics.median(ours[i])
        row = {"model": name, "threads": threads, "tradeoff": tradeoffs[i], "ours_ms": o * 1e3,
               "ort_ms": t * 1e3, "ratio": o / t, "cpu_ratio": None, "max_abs_err": err,
               "packed_mib": sess.estimate_memory_usage(feeds)["packed_weight_bytes"] / 2**20}
        if ours_cpu[i]:
            row["cpu_ratio"] = statistics.median(ours_cpu[i]) / statistics.median(theirs_cpu)
        rows.append(row)
    return rows


def geomean(values) -> float:
    return float(np.exp(np.mean(np.log(values))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet50"], help=f"names or 'all' ({', '.join(ALL_MODELS)})")
    p.add_argument("--threads", nargs="+", type=int, default=[1])
    p.add_argument("--runs", type=int, default=10, help="timed runs per engine (median)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--level", type=int, default=3, help="our SIMD optimization level 0..3")
    p.add_argument("--tradeoff", nargs="+", type=float, default=[0.5],
                   help="memory_speed_tradeoff values, measured side by side (>= 0.75 keeps "
                        "packed conv weights across runs)")
    args = p.parse_args()
    models = ALL_MODELS if args.models == ["all"] else args.models
    print(f"{'model':<14}{'threads':>8}{'tradeoff':>9}{'ours ms':>12}{'ort ms':>12}{'ours/ort':>10}"
          f"{'cpu ratio':>11}{'max|err|':>12}{'packed MiB':>12}", flush=True)
    rows = []
    for t in args.threads:
        for m in models:
            for r in bench(m, t, args.runs, args.warmup, args.level, args.tradeoff):
                rows.append(r)
                cpu = f"{r['cpu_ratio']:>11.2f}" if r["cpu_ratio"] is not None else f"{'-':>11}"
                print(f"{r['model']:<14}{r['threads']:>8}{r['tradeoff']:>9.2f}{r['ours_ms']:>12.2f}"
                      f"{r['ort_ms']:>12.2f}{r['ratio']:>10.2f}{cpu}{r['max_abs_err']:>12.2e}"
                      f"{r['packed_mib']:>12.1f}", flush=True)
    for t in args.threads:
        for tr in args.tradeoff:
            sel = [r for r in rows if r["threads"] == t and r["tradeoff"] == tr]
            line = (f"geomean ours/ort at {t} thread(s), tradeoff {tr:.2f}: "
                    f"{geomean([r['ratio'] for r in sel]):.2f} (wall)")
            if t == 1:
                line += f", {geomean([r['cpu_ratio'] for r in sel]):.2f} (cpu time)"
            print(line)
    for m in models:
        by_t = {r["threads"]: r for r in rows if r["model"] == m and r["tradeoff"] == args.tradeoff[0]}
        if 1 in by_t and 2 in by_t:
            print(f"{m}: 2-thread speedup ours {by_t[1]['ours_ms'] / by_t[2]['ours_ms']:.2f}x, "
                  f"ort {by_t[1]['ort_ms'] / by_t[2]['ort_ms']:.2f}x")


if __name__ == "__main__":
    main()
