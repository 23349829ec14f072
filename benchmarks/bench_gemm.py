"""fp32 GEMM throughput of tinyai-workbench's MATRIX_MUL kernels vs numpy (OpenBLAS) in the
same process at the same thread count. Prints GFLOP/s and the ratio ours / numpy (higher is
better for us). Runs alternate between the two libraries so load from other processes hits
both alike; the CPU-time column (1 thread only) is immune to time-slicing on a busy machine.

    python benchmarks/bench_gemm.py                        # n = 256 512 1024 2048, 1 thread
    python benchmarks/bench_gemm.py --threads 1 2 --runs 15 --level 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

SIZES = [256, 512, 1024, 2048]
OPENBLAS_PARK_S = 0.3


def measure(fn, runs: int, warmup: int, clock):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return statistics.median(samples)


def run_one_thread_count(args) -> None:
    import numpy as np  # imported after OPENBLAS_NUM_THREADS is set (see main)
    from tinyai_workbench.core_native import _core
    from tinyai_workbench.core_native.config import Config, to_native

    threads = args.threads[0]
    cfg = to_native(Config(simd_level=args.level, threads=threads))
    rng = np.random.default_rng(0)
    for n in args.sizes:
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        err = float(np.max(np.abs(_core._matmul(cfg, a, b) - a @ b)))
        flops = 2.0 * n ** 3
        runs = max(args.runs, 10)
        ours_w, npy_w, ours_c, npy_c = [], [], [], []
        for _ in range(runs):  # interleaved: one of each per round
            if threads > 1:
                # OpenBLAS's workers spin for a while after each call (about 0.1 s by default)
                # and would hold the second core through our run: let them park first.
                time.sleep(OPENBLAS_PARK_S)
            ours_w.append(measure(lambda: _core._matmul(cfg, a, b), 1, 1 if not ours_w else 0, time.perf_counter))
            npy_w.append(measure(lambda: a @ b, 1, 1 if not npy_w else 0, time.perf_counter))
            if threads == 1:
                ours_c.append(measure(lambda: _core._matmul(cfg, a, b), 1, 0, time.thread_time))
                npy_c.append(measure(lambda: a @ b, 1, 0, time.thread_time))
        ow, nw = statistics.median(ours_w), statistics.median(npy_w)
        line = (f"{n:>6}{threads:>8}{flops / ow / 1e9:>11.1f}{flops / nw / 1e9:>11.1f}"
                f"{nw / ow:>9.2f}")
        if threads == 1:
            oc, nc = statistics.median(ours_c), statistics.median(npy_c)
            line += f"{flops / oc / 1e9:>11.1f}{flops / nc / 1e9:>11.1f}{nc / oc:>9.2f}"
        print(line + f"{err:>11.1e}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=int, default=SIZES)
    p.add_argument("--threads", nargs="+", type=int, default=[1])
    p.add_argument("--runs", type=int, default=10, help="timed runs per library (median; >= 10)")
    p.add_argument("--level", type=int, default=3, help="SIMD optimization level 0..3")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        run_one_thread_count(args)
        return
    print(f"{'n':>6}{'threads':>8}{'ours GF/s':>11}{'numpy GF/s':>11}{'ratio':>9}"
          f"{'ours cpu':>11}{'numpy cpu':>11}{'ratio':>9}{'max|err|':>11}")
    print("(wall-clock median; 'cpu' columns: thread CPU time, 1 thread only; ratio = ours/numpy throughput)")
    for t in args.threads:
        # OpenBLAS reads its thread count at import: one child process per thread count.
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, __file__, "--child", "--threads", str(t), "--runs", str(args.runs),
               "--level", str(args.level), "--sizes", *map(str, args.sizes)]
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
