"""Transformer latency and activation memory: tinyai-workbench vs onnxruntime on an exported
6-layer, 384-hidden, 12-head BERT (MiniLM-sized, random weights) at sequence length 128, same
process, same thread count. Prints ours / onnxruntime (lower is better) and the activation
peak against the in-order bound from Session.estimate_memory_usage.

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


def median_latency(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
    ours = median_latency(lambda: sess.run(feeds), runs, warmup)
    est = sess.estimate_memory_usage(feeds)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    ref = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    theirs = median_latency(lambda: ref.run(None, feeds), runs, warmup)
    names = [o.name for o in ref.get_outputs()]
    ref_out = dict(zip(names, ref.run(None, feeds)))
    err = max(float(np.max(np.abs(ours_out[n] - ref_out[n]))) for n in names)
    fused = sum(1 for n in read_graph_json(model.model_dir)["nodes"]
                if n["op_type"] == "TinyAIAttention")
    peak = int(est.get("activation_peak_bytes", 0))
    bound = int(est.get("in_order_bound_bytes", 0))
    return {"threads": threads, "batch": int(feeds["input_ids"].shape[0]),
            "seq": int(feeds["input_ids"].shape[1]), "ours_ms": ours * 1e3,
            "ort_ms": theirs * 1e3, "ratio": ours / theirs, "max_abs_err": err,
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
    print(f"{'threads':>7} {'ours ms':>9} {'ort ms':>9} {'ratio':>6} {'max|err|':>9} "
          f"{'act peak MiB':>12} {'in-order MiB':>12} {'peak/bound':>10}")
    for r in rows:
        print(f"{r['threads']:>7} {r['ours_ms']:>9.2f} {r['ort_ms']:>9.2f} {r['ratio']:>6.2f} "
              f"{r['max_abs_err']:>9.2g} {r['activation_peak_mib']:>12.2f} "
              f"{r['in_order_bound_mib']:>12.2f} {r['peak_vs_bound']:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
