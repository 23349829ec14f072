"""Activation memory per light model: naive (one buffer per tensor), the in-order lower bound
(max over graph-order steps of the intermediate bytes live at that step), ours (the planned
arena), the estimate before running, and the measured peaks. With --recompute, also the
activation peak with checkpointing/recompute at the smallest feasible
scheduler.max_activation_memory, its ratio to the in-order bound, the recompute steps and
the latency ratio of that plan to the plain one (median of --repeat runs each, same process).

    python benchmarks/bench_memory.py [--models all|NAME ...] [--recompute] [--repeat N]

NAME skip_net is the nested-skip-connection model of tests/test_checkpointing.py (built in a
temporary directory), where recomputation has long-lived values to drop.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import onnx

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

LIGHT = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data" / "light"
ALL = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
       "squeezenet", "vgg19", "zfnet512"]


def load(name: str) -> tw.Model:
    if name != "skip_net":
        return tw.load_model(LIGHT / f"light_{name}.onnx")
    import sys
    import tempfile
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_checkpointing import skip_net  # noqa: E402
    from tiny_models import save  # noqa: E402
    path = Path(tempfile.mkdtemp()) / "skip_net.onnx"
    return tw.load_model(save(skip_net(), path))


def mib(n: float) -> str:
    return f"{n / 2**20:9.2f}"


def measure(name: str) -> dict:
    model = load(name)
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


def _latency(sess: tw.Session, feeds, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(feeds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_recompute(name: str, repeat: int) -> dict:
    """The smallest feasible cap is the arena automatic recomputation reaches (tradeoff 0, no
    cap); the run under that cap is checked against it and timed against the plain plan."""
    model = load(name)
    feeds = synthetic_inputs(model)
    plain = tw.Session(model, tw.Config())
    bound = plain.estimate_memory_usage(feeds)["in_order_bound_bytes"]
    sched = tw.LayerSchedulerConfig(enable_checkpointing=True, recompute_activations=True, memory_speed_tradeoff=0.0)
    floor = tw.Session(model, tw.Config(scheduler=sched)).estimate_memory_usage(feeds)["activation_peak_bytes"]
    capped = tw.Session(model, tw.Config(scheduler=tw.LayerSchedulerConfig(
        enable_checkpointing=True, recompute_activations=True, max_activation_memory=floor)))
    capped.run(feeds)
    stats = capped.stats()
    plain.run(feeds)
    t_plain = _latency(plain, feeds, repeat)
    t_capped = _latency(capped, feeds, repeat)
    return {"cap": floor, "peak": stats["activation_peak_bytes"], "bound": bound,
            "recomputes": stats["recompute_count"], "latency_ratio": t_capped / t_plain}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["all"])
    p.add_argument("--recompute", action="store_true", help="add the checkpointing/recompute columns")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per plan for the latency ratio")
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
    if not args.recompute:
        return
    print(f"\n{'model':<14}{'cap MiB':>10}{'peak MiB':>10}{'peak/bound':>11}{'recomputes':>11}{'latency x':>10}")
    for name in names:
        r = measure_recompute(name, args.repeat)
        print(f"{name:<14}{mib(r['cap']):>10}{mib(r['peak']):>10}{r['peak'] / r['bound']:>11.3f}"
              f"{r['recomputes']:>11}{r['latency_ratio']:>10.2f}")


if __name__ == "__main__":
    main()
