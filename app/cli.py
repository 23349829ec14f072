"""Command line: `tinyai-workbench` opens the workbench on the demo model; `gui`, `demo`, `run`
and `import` subcommands."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

import tinyai_workbench as tw
from tinyai_workbench.app import test_data


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _progress_bar(desc: str):
    from tinyai_workbench.core_native.importer import tqdm_progress
    return tqdm_progress(desc)


def _run_model(model: tw.Model, feeds: dict, repeat: int, threads: Optional[int]) -> dict:
    import psutil

    config = tw.Config(threads=threads)
    sess = tw.Session(model, config)
    latencies = []
    outputs = None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        outputs = sess.run(feeds)
        latencies.append(time.perf_counter() - t0)
    stats = sess.stats()
    return {
        "model": model.name,
        "layers": len(model.layers),
        "nodes": model.num_nodes,
        "weight_bytes": model.weight_bytes,
        "runs": len(latencies),
        "latency_first_s": latencies[0],
        "latency_median_s": statistics.median(latencies),
        "latency_min_s": min(latencies),
        "stats": dict(stats),
        "process_rss_bytes": psutil.Process().memory_info().rss,
        "outputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in outputs.items()},
        "_outputs": outputs,
    }


def _print_summary(r: dict) -> None:
    s = r["stats"]
    print(f"model        {r['model']}: {r['layers']} layers, {r['nodes']} nodes, weights {_mib(r['weight_bytes'])}")
    print(f"latency      median {r['latency_median_s'] * 1e3:.2f} ms, min {r['latency_min_s'] * 1e3:.2f} ms, "
          f"first {r['latency_first_s'] * 1e3:.2f} ms over {r['runs']} run(s)")
    print(f"memory peak  total {_mib(s['total_peak_bytes'])} = activations {_mib(s['activation_peak_bytes'])} "
          f"+ weights {_mib(s['weight_peak_bytes'])} + scratch {_mib(s['scratch_peak_bytes'])}")
    print(f"process RSS  {_mib(r['process_rss_bytes'])}")
    for name, o in r["outputs"].items():
        print(f"output       {name}: {o['dtype']} {o['shape']}")
    for row in r.get("comparison", []):
        verdict = "OK" if row["ok"] else "MISMATCH"
        print(f"check        {row['output']}: {verdict} (max abs error {row['max_abs_error']:.3g})")


def _report(r: dict, as_json: bool) -> int:
    r.pop("_outputs", None)
    if as_json:
        print(json.dumps(r, indent=2))
    else:
        _print_summary(r)
    return 0 if all(row["ok"] for row in r.get("comparison", [])) else 1


def cmd_run(args) -> int:
    model = tw.load_model(args.model, progress=None if args.json else _progress_bar("importing"))
    if args.inputs:
        feeds = test_data.load_inputs(model, Path(args.inputs))
    else:
        feeds = test_data.synthetic_inputs(model, batch=args.batch)
    r = _run_model(model, feeds, args.repeat, args.threads)
    if args.inputs:
        expected = test_data.load_expected_outputs(Path(args.inputs))
        if expected:
            r["comparison"] = test_data.compare_outputs([o.name for o in model.outputs], r["_outputs"], expected)
    return _report(r, args.json)


def cmd_demo(args) -> int:
    from tinyai_workbench.app.demo_model import demo_inputs, demo_model_path

    path = demo_model_path(progress=None if args.json else _progress_bar("demo model"))
    model = tw.load_model(path, progress=None if args.json else _progress_bar("importing demo"))
    r = _run_model(model, demo_inputs(), args.repeat, args.threads)
    out = r["_outputs"]["logits"]
    r["top5"] = [int(i) for i in np.argsort(out[0])[::-1][:5]]
    code = _report(r, args.json)
    if not args.json:
        print(f"top-5 classes {r['top5']}")
    return code


def cmd_import(args) -> int:
    out = tw.import_onnx(args.src, args.out_dir, progress=_progress_bar("importing"))
    model = tw.load_model(out)
    print(f"converted {args.src} -> {out}: {len(model.layers)} layers, weights {_mib(model.weight_bytes)}")
    return 0


def cmd_gui(args) -> int:
    from tinyai_workbench.app.gui import run_gui

    if args.model and args.demo:
        print("error: give a model or --demo, not both", file=sys.stderr)
        return 2
    return run_gui(model=args.model, preset=args.preset, run_seconds=args.run_seconds, screenshot=args.screenshot)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyai-workbench", description=__doc__)
    sub = p.add_subparsers(dest="command")
    g = sub.add_parser("gui", help="open the workbench window (the default command)")
    g.add_argument("model", nargs="?", help="an .onnx file or converted model directory (default: the demo model)")
    g.add_argument("--demo", action="store_true", help="open the built-in demo model")
    g.add_argument("--preset", help="a preset .toml file to start with")
    g.add_argument("--run-seconds", type=float, default=None,
                   help="headless check: run continuously this long, then print ui_max_stall_ms and plot_fps and exit")
    g.add_argument("--screenshot", help="with --run-seconds: save a screenshot of the window here")

    def common(sp):
        sp.add_argument("--repeat", type=int, default=1, help="number of timed runs (default 1)")
        sp.add_argument("--threads", type=int, default=None, help="worker threads (default: physical cores)")
        sp.add_argument("--json", action="store_true", help="print the result as JSON")

    d = sub.add_parser("demo", help="run the built-in demo model headless and print a summary")
    common(d)
    r = sub.add_parser("run", help="run an ONNX model headless, print latency and memory")
    r.add_argument("model", help="an .onnx file or a converted model directory")
    r.add_argument("--inputs", help="ONNX test-data dir with input_N.pb (and output_N.pb to check against)")
    r.add_argument("--batch", type=int, default=1, help="value for symbolic dims in synthetic inputs")
    common(r)
    i = sub.add_parser("import", help="convert an ONNX file into a model directory")
    i.add_argument("src")
    i.add_argument("out_dir")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "gui"
    if args.command is None:
        args = build_parser().parse_args(["gui"])
    try:
        return {"gui": cmd_gui, "demo": cmd_demo, "run": cmd_run, "import": cmd_import}[command](args)
    except tw.TinyAIError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
