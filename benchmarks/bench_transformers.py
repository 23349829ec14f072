"""Transformer latency and activation memory: tinyai-workbench vs onnxruntime on an exported
6-layer, 384-hidden, 12-head BERT (MiniLM-sized, random weights) at sequence length 128, same
process, same thread count. Prints ours / onnxruntime (lower is better): medians of --runs
timed runs, the two engines alternating run by run so load from other processes hits both
alike, and at 1 thread also the ratio of thread CPU time (which time-slicing on a shared
machine does not inflate); and the activation peak against the in-order bound from
Session.estimate_memory_usage.

The model (~45 MB) is not in git; make it once with the torch venv:

    /work/venv-torch/bin/python tests/data_gen/make_transformer_models.py --bench
    python benchmarks/bench_transformers.py [--threads 1 2] [--runs 20] [--model PATH]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import tinyai_workbench as tw
from tinyai_workbench.core_native.importer import read_graph_json

DEFAULT_MODEL = (Path.home() / ".cache" / "tinyai-workbench" / "bench-models"
                 / "bert_l6_h384_ts17.onnx")
MAKE_CMD = "/work/venv-torch/bin/python tests/data_gen/make_transformer_models.py --bench"


def timed(fn, clock) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def interleaved(ours_fn, ort_fn, runs: int, warmup: int, cpu: bool):
    """Median wall seconds of each engine (and of thread CPU time when `cpu`), alternating."""
    for _ in range(warmup):
        ours_fn()
        ort_fn()
    walls, cpus = ([], []), ([], [])
    for _ in range(runs):
        for i, fn in enumerate((ours_fn, ort_fn)):
            walls[i].append(timed(fn, time.perf_counter))
            if cpu:  # both engines run on this thread at 1 thread
                cpus[i].append(timed(fn, time.thread_time))
    med = statistics.median
    return (med(walls[0]), med(walls[1]),
            med(cpus[0]) / med(cpus[1]) if cpu else None)


def reference_feeds(model_path: Path) -> dict:
    ref = model_path.with_name(model_path.stem + ".ref_s128.npz")
    if ref.is_file():
        with np.load(ref) as z:
            return {k: z[k] for k in ("input_ids", "attention_mask")}
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1024, size=(1, 128), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def bench(model_path: Path, threads: int, runs: int, warmup: int) -> dict:
    model = tw.load_model(model_path)
    feeds = reference_feeds(model_path)
    sess = tw.Session(model, tw.Config(threads=threads))
    ours_out = sess.run(feeds)
    est = sess.estimate_memory_usage(feeds)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    # onnxruntime's intra-op workers spin after each run; with the engines taking turns in one
    # process they would hold a core through our next run (measured here: our 2-thread
    # resnet50 ran at 1 thread's speed). Spinning off costs onnxruntime nothing measurable
    # on this model (44-50 ms either way at 2 threads).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    ref = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    ours, theirs, cpu_ratio = interleaved(lambda: sess.run(feeds), lambda: ref.run(None, feeds),
                                          runs, warmup, cpu=threads == 1)
    names = [o.name for o in ref.get_outputs()]
    ref_out = dict(zip(names, ref.run(None, feeds)))
    err = max(float(np.max(np.abs(ours_out[n] - ref_out[n]))) for n in names)
    fused = sum(1 for n in read_graph_json(model.model_dir)["nodes"]
                if n["op_type"] == "TinyAIAttention")
    peak = int(est.get("activation_peak_bytes", 0))
    bound = int(est.get("in_order_bound_bytes", 0))
    return {"threads": threads, "batch": int(feeds["input_ids"].shape[0]),
            "seq": int(feeds["input_ids"].shape[1]), "ours_ms": ours * 1e3,
            "ort_ms": theirs * 1e3, "ratio": ours / theirs, "cpu_ratio": cpu_ratio,
            "max_abs_err": err,
            "fused_attention": fused, "activation_peak_mib": peak / 2**20,
            "in_order_bound_mib": bound / 2**20,
            "peak_vs_bound": peak / bound if bound else float("nan")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    args = p.parse_args()
    if not args.model.is_file():
        print(f"SKIP: benchmark model {args.model} is missing; generate it with\n    {MAKE_CMD}")
        return 0
    rows = [bench(args.model, t, args.runs, args.warmup) for t in args.threads]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(f"model: {args.model.name} (6 layers, hidden 384, 12 heads), "
          f"batch {rows[0]['batch']}, seq {rows[0]['seq']}, "
          f"fused attention nodes: {rows[0]['fused_attention']}")
    print(f"{'threads':>7} {'ours ms':>9} {'ort ms':>9} {'ratio':>6} {'cpu':>6} {'max|err|':>9} "
          f"{'act peak MiB':>12} {'in-order MiB':>12} {'peak/bound':>10}")
    for r in rows:
        cpu = f"{r['cpu_ratio']:>6.2f}" if r["cpu_ratio"] is not None else f"{'-':>6}"
        print(f"{r['threads']:>7} {r['ours_ms']:>9.2f} {r['ort_ms']:>9.2f} {r['ratio']:>6.2f} {cpu} "
              f"{r['max_abs_err']:>9.2g} {r['activation_peak_mib']:>12.2f} "
              f"{r['in_order_bound_mib']:>12.2f} {r['peak_vs_bound']:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
