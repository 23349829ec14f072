"""Latency of tinyai-workbench vs onnxruntime on the onnx wheel's light/ models, same process,
same thread count. Prints a ratio table (ours / theirs; lower is better).

    python benchmarks/bench_models.py                     # resnet50, 1 thread
    python benchmarks/bench_models.py --models all --threads 1 2 --runs 10
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


def median_latency(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(name: str, threads: int, runs: int, warmup: int) -> dict:
    path = LIGHT / f"light_{name}.onnx"
    model = tw.load_model(path)
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, tw.Config(threads=threads))
    ours = median_latency(lambda: sess.run(feeds), runs, warmup)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    ref = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    theirs = median_latency(lambda: ref.run(None, feeds), runs, warmup)
    out_name = model.outputs[0].name
    err = float(np.max(np.abs(sess.run(feeds)[out_name] - ref.run([out_name], feeds)[0])))
    return {"model": name, "threads": threads, "ours_ms": ours * 1e3, "ort_ms": theirs * 1e3,
            "ratio": ours / theirs, "max_abs_err": err}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet50"], help=f"names or 'all' ({', '.join(ALL_MODELS)})")
    p.add_argument("--threads", nargs="+", type=int, default=[1])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    models = ALL_MODELS if args.models == ["all"] else args.models
    rows = [bench(m, t, args.runs, args.warmup) for t in args.threads for m in models]
    print(f"{'model':<14}{'threads':>8}{'ours ms':>12}{'ort ms':>12}{'ours/ort':>10}{'max|err|':>12}")
    for r in rows:
        print(f"{r['model']:<14}{r['threads']:>8}{r['ours_ms']:>12.2f}{r['ort_ms']:>12.2f}{r['ratio']:>10.2f}{r['max_abs_err']:>12.2e}")
    for t in args.threads:
        ratios = [r["ratio"] for r in rows if r["threads"] == t]
        print(f"geomean ours/ort at {t} thread(s): {float(np.exp(np.mean(np.log(ratios)))):.2f}")


if __name__ == "__main__":
    main()
