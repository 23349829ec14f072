"""cache_stats(): hardware counters (source "perf") where perf_event_open allows, otherwise
the GEMM tiling model (source "model", saying why). The model is checked against cachegrind
in a slow test (benchmarks/validate_cache_model.py prints the full comparison)."""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

import tinyai_workbench as tw
from tinyai_workbench.core_native import _core
from tinyai_workbench.core_native.config import Config, to_native

pytestmark = pytest.mark.native

KEYS = {"source", "detail", "l1_references", "l1_misses", "l1_hit_rate", "llc_references",
        "llc_misses", "llc_hit_rate", "hit_rate", "gemm_calls", "gemm_flops"}


def test_cache_stats_report_source_and_count_gemms():
    tw.reset_cache_stats()
    before = tw.cache_stats()
    assert KEYS <= set(before)
    assert before["source"] in ("perf", "model")
    if before["source"] == "model":
        assert "perf_event_open" in before["detail"]  # says why the model is used
        assert before["gemm_calls"] == 0 and before["l1_references"] == 0
    a = np.ones((64, 96), np.float32)
    b = np.ones((96, 80), np.float32)
    _core._matmul(to_native(Config(simd_level=3, threads=1)), a, b)
    after = tw.cache_stats()
    assert after["gemm_calls"] == before["gemm_calls"] + 1
    assert after["gemm_flops"] == before["gemm_flops"] + 2 * 64 * 96 * 80
    assert after["l1_references"] > before["l1_references"]
    assert 0.0 <= after["l1_hit_rate"] <= 1.0 and 0.0 <= after["llc_hit_rate"] <= 1.0
    tw.reset_cache_stats()
    assert tw.cache_stats()["gemm_calls"] == 0


def test_model_follows_the_tiling():
    cfg = lambda bs: to_native(Config(simd_level=3, threads=1, cache=tw.CacheConfig(block_size=bs)))  # noqa: E731
    small_k = _core._gemm_info(cfg(8), 512, 512, 2048)    # kc = 64: C re-read per K block
    large_k = _core._gemm_info(cfg(128), 512, 512, 2048)  # kc = 1024: narrower B blocks
    assert small_k["kc"] == 64 and large_k["kc"] == 1024
    assert small_k["nc"] > large_k["nc"]
    assert small_k["model_l1_misses"] != large_k["model_l1_misses"]
    big = _core._gemm_info(cfg(64), 1024, 1024, 1024)
    assert big["model_l1_misses"] < big["model_l1_references"]
    assert big["model_llc_misses"] <= big["model_llc_references"]
    # compulsory traffic at least: A, B and C once
    assert big["model_llc_misses"] >= 3 * 1024 * 1024 * 4 / 64


def test_optimize_memory_layout_sets_cache_config(tmp_path):
    import onnx
    from tiny_models import tiny_cnn
    path = tmp_path / "m.onnx"
    onnx.save(tiny_cnn(batch=1), str(path))
    sess = tw.Session(tw.load_model(path), Config(simd_level=1))
    applied = tw.optimize_memory_layout(sess)
    assert sess.config.simd_level == 3 and sess.config.cache == applied["cache"]
    assert applied["packed_weights"] == "scratch"
    caps = tw.simd_capabilities()
    assert applied["cache"].cache_line_size == caps["cache_line_bytes"]
    sess.run({"x": np.ones((1, 3, 16, 16), np.float32)})


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_model_agrees_with_cachegrind():
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "validate_cache_model.py"
    spec = importlib.util.spec_from_file_location("validate_cache_model", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    m = n = k = 192
    caps = tw.simd_capabilities()
    runs = {reps: mod.cachegrind(mod.SNIPPET.format(level=2, m=m, n=n, k=k, reps=reps), caps)
            for reps in (1, 3)}
    measured = {key: (runs[3][key] - runs[1][key]) / 2 for key in runs[1]}
    info = _core._gemm_info(to_native(Config(simd_level=2, threads=1)), m, n, k)
    for key, (lo, hi) in {"l1_references": (0.5, 2.0), "l1_misses": (0.33, 3.0),
                          "llc_misses": (0.33, 3.0)}.items():
        ratio = info[f"model_{key}"] / max(measured[key], 1)
        assert lo <= ratio <= hi, f"{key}: model/cachegrind = {ratio:.2f}"
