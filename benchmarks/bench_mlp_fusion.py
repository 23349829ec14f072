"""What the importer's transformer MLP fusions (importer/transformer_fusion.py: GELU chains ->
Gelu, MatMul -> Add(bias) -> MatMul with the bias in the GEMM's store) buy on the BERT of
bench_transformers.py: the same file converted with the pass and without it, both sessions and
onnxruntime taking turns run by run in one process. Prints fused / unfused (lower is better)
for wall time and, at 1 thread, thread CPU time (which time-slicing on a shared machine does
not inflate), and each against onnxruntime.

    python benchmarks/bench_mlp_fusion.py [--threads 1 2] [--runs 20] [--tradeoff 0.5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime as ort

import tinyai_workbench as tw
from tinyai_workbench.core_native.importer import import_onnx, pipeline, read_graph_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transformers import DEFAULT_MODEL, MAKE_CMD, reference_feeds  # noqa: E402


def convert(src: Path, out: Path, fuse: bool):
    keep = pipeline.fuse_transformer_mlp
    if not fuse:
        pipeline.fuse_transformer_mlp = lambda g: None
    try:
        return tw.load_model(import_onnx(src, out))
    finally:
        pipeline.fuse_transformer_mlp = keep


def medians(fns, runs: int, warmup: int, cpu: bool):
    for _ in range(warmup):
        for fn in fns:
            fn()
    walls, cpus = [[] for _ in fns], [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            walls[i].append(time.perf_counter() - t0)
            if cpu:
                t0 = time.thread_time()
                fn()
                cpus[i].append(time.thread_time() - t0)
    med = statistics.median
    return [med(w) for w in walls], [med(c) if cpu else None for c in cpus]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--tradeoff", type=float, default=0.5)
    args = p.parse_args()
    if not args.model.is_file():
        print(f"SKIP: benchmark model {args.model} is missing; generate it with\n    {MAKE_CMD}")
        return 0
    feeds = reference_feeds(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        fused = convert(args.model, Path(tmp) / "fused", True)
        plain = convert(args.model, Path(tmp) / "unfused", False)
        ops = [sum(1 for n in read_graph_json(m.model_dir)["nodes"]) for m in (fused, plain)]
        print(f"model: {args.model.name}, nodes fused {ops[0]} / unfused {ops[1]}, "
              f"tradeoff {args.tradeoff}")
        print(f"{'threads':>7} {'fused ms':>9} {'unfused ms':>10} {'ort ms':>8} "
              f"{'fused/unfused':>13} {'cpu f/u':>8} {'fused/ort':>9} {'unfused/ort':>11}")
        for threads in args.threads:
            cfg = tw.Config(threads=threads, memory=tw.MemoryOptimizerConfig(
                memory_speed_tradeoff=args.tradeoff))
            sf, su = tw.Session(fused, cfg), tw.Session(plain, cfg)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            ref = ort.InferenceSession(str(args.model), opts, providers=["CPUExecutionProvider"])
            (wf, wu, wo), (cf, cu, _) = medians(
                [lambda: sf.run(feeds), lambda: su.run(feeds), lambda: ref.run(None, feeds)],
                args.runs, args.warmup, cpu=threads == 1)
            cpu = f"{cf / cu:8.3f}" if cf else f"{'-':>8}"
            print(f"{threads:>7} {wf * 1e3:9.2f} {wu * 1e3:10.2f} {wo * 1e3:8.2f} "
                  f"{wf / wu:13.3f} {cpu} {wf / wo:9.2f} {wu / wo:11.2f}")
            del sf, su
    return 0


if __name__ == "__main__":
    sys.exit(main())
