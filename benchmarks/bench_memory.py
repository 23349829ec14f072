"""Activation memory per light model: naive (one buffer per tensor), the in-order lower bound
(max over graph-order steps of the intermediate bytes live at that step), ours (the planned
arena), the estimate before running, and the measured peaks.

    python benchmarks/bench_memory.py [--models all|NAME ...]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import onnx

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

LIGHT = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"
ALL = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
       "squeezenet", "vgg19", "zfnet512"]


def mib(n: float) -> str:
    return f"{n / 2**20:9.2f}"


def measure(name: str) -> dict:
    model = tw.load_model(LIGHT / f"light_{name}.onnx")
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, tw.Config())
    est = sess.estimate_memory_usage(feeds)  # before any run of this session
    sess.run(feeds)
    stats = sess.stats()
    return {"model": name, "naive": est["naive_activation_bytes"], "bound": est["in_order_bound_bytes"],
            "ours": stats["activation_peak_bytes"], "estimate": est["activation_peak_bytes"],
            "live_peak": est["live_peak_bytes"], "in_place": est["in_place_count"],
            "reordered": est["reordered"], "total_est": est["total_peak_bytes"],
            "total_measured": stats["total_peak_bytes"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["all"])
    args = p.parse_args()
    names = ALL if args.models == ["all"] else args.models
    print(f"{'model':<14}{'naive MiB':>10}{'bound MiB':>10}{'ours MiB':>10}{'ours/bound':>11}"
          f"{'live MiB':>10}{'in-place':>9}{'reorder':>8}{'total est':>10}{'measured':>10}{'est err':>8}")
    for name in names:
        r = measure(name)
        err = abs(r["total_est"] - r["total_measured"]) / r["total_measured"]
        print(f"{r['model']:<14}{mib(r['naive']):>10}{mib(r['bound']):>10}{mib(r['ours']):>10}"
              f"{r['ours'] / r['bound']:>11.3f}{mib(r['live_peak']):>10}{r['in_place']:>9}"
              f"{str(r['reordered']):>8}{mib(r['total_est']):>10}{mib(r['total_measured']):>10}{err:>8.1%}")


if __name__ == "__main__":
    main()
