"""Check the cache model behind cache_stats() (source "model") against valgrind's cachegrind
on the same GEMM kernel and shape. Not a test: cachegrind is slow.

    python benchmarks/validate_cache_model.py                 # 256 x 256 x 256, AVX2 (level 2)
    python benchmarks/validate_cache_model.py --shape 384 200 512

Cachegrind cannot execute AVX-512, so the check runs the AVX2+FMA kernel (level 2). The GEMM
is run once and three times in two cachegrind runs; the difference / 2 isolates one call from
interpreter start-up. D1 and LL are simulated with this machine's L1d and L3 geometry.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tinyai_workbench as tw
from tinyai_workbench.core_native import _core
from tinyai_workbench.core_native.config import Config, to_native

SNIPPET = """
import numpy as np
from tinyai_workbench.core_native import _core
from tinyai_workbench.core_native.config import Config, to_native
cfg = to_native(Config(simd_level={level}, threads=1))
a = np.ones(({m}, {k}), np.float32); b = np.ones(({k}, {n}), np.float32)
for _ in range({reps}):
    c = _core._matmul(cfg, a, b)
"""


def cachegrind(script: str, caps: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.py"
        path.write_text(script)
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes",
               f"--D1={caps['l1d_bytes']},8,{caps['cache_line_bytes']}",
               f"--LL={caps['l3_bytes']},16,{caps['cache_line_bytes']}",
               f"--cachegrind-out-file={tmp}/cg.out", sys.executable, str(path)]
        # numpy's BLAS threads spin while idle; under cachegrind their references would swamp
        # the one GEMM being measured, differently in each run.
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        err = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
    def field(name):
        m = re.search(rf"{name}:\s+([\d,]+)", err)
        if m is None:
            raise RuntimeError(f"no '{name}' in cachegrind's summary:\n{err[-2000:]}")
        return int(m.group(1).replace(",", ""))
    return {"l1_references": field(r"D\s+refs"), "l1_misses": field(r"D1\s+misses"),
            "llc_references": field(r"D1\s+misses"), "llc_misses": field(r"LLd\s+misses")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", nargs=3, type=int, default=[256, 256, 256], metavar=("M", "N", "K"))
    p.add_argument("--level", type=int, default=2)
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    m, n, k = args.shape
    caps = tw.simd_capabilities()
    runs = {reps: cachegrind(SNIPPET.format(level=args.level, m=m, n=n, k=k, reps=reps), caps)
            for reps in (1, 3)}
    measured = {key: (runs[3][key] - runs[1][key]) / 2 for key in runs[1]}
    info = _core._gemm_info(to_native(Config(simd_level=args.level, threads=1)), m, n, k)
    print(f"GEMM {m}x{n}x{k}, {info['isa']} tile {info['mr']}x{info['nr']}, "
          f"blocking mc={info['mc']} kc={info['kc']} nc={info['nc']}")
    print(f"{'counter':<16}{'cachegrind':>14}{'model':>14}{'model/cg':>10}")
    for key in ("l1_references", "l1_misses", "llc_misses"):
        model = info[f"model_{key}"]
        print(f"{key:<16}{measured[key]:>14,.0f}{model:>14,.0f}{model / max(measured[key], 1):>10.2f}")


if __name__ == "__main__":
    main()
