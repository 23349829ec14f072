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
    python benchmarks/bench_transformers.py --tradeoff 0.5 1.0
        # per-run packing vs packed MatMul weights kept across runs, side by side
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


def interleaved(ours_fns, ort_fn, runs: int, warmup: int, cpu: bool):
    """Median wall seconds of each of our sessions and of onnxruntime (and the ratios of
    thread CPU time, ours / theirs, when `cpu`), all taking turns run by run."""
    fns = list(ours_fns) + [ort_fn]
    for _ in range(warmup):
        for fn in fns:
            fn()
    walls, cpus = [[] for _ in fns], [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            walls[i].append(timed(fn, time.perf_counter))
            if cpu:  # both engines run on this thread at 1 thread
                cpus[i].append(timed(fn, time.thread_time))
    med = statistics.median
    ours = [med(w) for w in walls[:-1]]
    cpu_ratios = [med(c) / med(cpus[-1]) if cpu else None for c in cpus[:-1]]
    return ours, med(walls[-1]), cpu_ratios


def reference_feeds(model_path: Path) -> dict:
    ref = model_path.with_name(model_path.stem + ".ref_s128.npz")
    if ref.is_file():
        with np.load(ref) as z:
            return {k: z[k] for k in ("input_ids", "attention_mask")}
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1024, size=(1, 128), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def bench(model_path: Path, threads: int, runs: int, warmup: int, tradeoffs) -> list:
    """One row per memory/speed tradeoff (>= 0.75 keeps the packed MatMul weights across
    runs); every session and onnxruntime take turns run by run."""
    model = tw.load_model(model_path)
    feeds = reference_feeds(model_path)
    sessions = [tw.Session(model, tw.Config(threads=threads,
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
    ref = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    ours, theirs, cpu_ratios = interleaved([(lambda s=s: s.run(feeds)) for s in sessions],
                                           lambda: ref.run(None, feeds), runs, warmup,
                                           cpu=threads == 1)
    names = [o.name for o in ref.get_outputs()]
    ref_out = dict(zip(names, ref.run(None, feeds)))
    fused = sum(1 for n in read_graph_json(model.model_dir)["nodes"]
                if n["op_type"] == "TinyAIAttention")
    rows = []
    for i, sess in enumerate(sessions):
        out = sess.run(feeds)
        err = max(float(np.max(np.abs(out[n] - ref_out[n]))) for n in names)
        est = sess.estimate_memory_usage(feeds)
        peak = int(est.get("activation_peak_bytes", 0))
        bound = int(est.get("in_order_bound_bytes", 0))
        rows.append({"threads": threads, "tradeoff": tradeoffs[i],
                     "batch": int(feeds["input_ids"].shape[0]),
                     "seq": int(feeds["input_ids"].shape[1]), "ours_ms": ours[i] * 1e3,
                     "ort_ms": theirs * 1e3, "ratio": ours[i] / theirs, "cpu_ratio": cpu_ratios[i],
                     "max_abs_err": err, "fused_attention": fused,
                     "packed_mib": est.get("packed_weight_bytes", 0) / 2**20,
                     "activation_peak_mib": peak / 2**20, "in_order_bound_mib": bound / 2**20,
                     "peak_vs_bound": peak / bound if bound else float("nan")})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--tradeoff", nargs="+", type=float, default=[0.5],
                   help="memory_speed_tradeoff values, measured side by side (>= 0.75 keeps "
                        "packed MatMul/Gemm weights across runs)")
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    args = p.parse_args()
    if not args.model.is_file():
        print(f"SKIP: benchmark model {args.model} is missing; generate it with\n    {MAKE_CMD}")
        return 0
    rows = [r for t in args.threads for r in bench(args.model, t, args.runs, args.warmup, args.tradeoff)]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(f"model: {args.model.name} (6 layers, hidden 384, 12 heads), "
          f"batch {rows[0]['batch']}, seq {rows[0]['seq']}, "
          f"fused attention nodes: {rows[0]['fused_attention']}")
    print(f"{'threads':>7} {'tradeoff':>8} {'ours ms':>9} {'ort ms':>9} {'ratio':>6} {'cpu':>6} "
          f"{'max|err|':>9} {'packed MiB':>10} {'act peak MiB':>12} {'in-order MiB':>12} "
          f"{'peak/bound':>10}")
    for r in rows:
        cpu = f"{r['cpu_ratio']:>6.2f}" if r["cpu_ratio"] is not None else f"{'-':>6}"
        print(f"{r['threads']:>7} {r['tradeoff']:>8.2f} {r['ours_ms']:>9.2f} {r['ort_ms']:>9.2f} "
              f"{r['ratio']:>6.2f} {cpu} {r['max_abs_err']:>9.2g} {r['packed_mib']:>10.1f} "
              f"{r['activation_peak_mib']:>12.2f} {r['in_order_bound_mib']:>12.2f} "
              f"{r['peak_vs_bound']:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
