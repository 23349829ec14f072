"""Shared pieces of the tests over models exported by PyTorch (tests/data/<family>/):
the manifest, an isolated import cache, onnxruntime as reference and a reporting comparison."""
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

RTOL, ATOL = 1e-3, 1e-4


def data_dir(family: str) -> Path:
    return Path(__file__).resolve().parent / "data" / family


def load_manifest(family: str) -> dict:
    return json.loads((data_dir(family) / "manifest.json").read_text())


def isolated_cache_fixture(name: str):
    """An autouse fixture sending imports to a per-module temporary cache."""

    @pytest.fixture(autouse=True)
    def isolated_cache(tmp_path_factory, monkeypatch):
        cache = tmp_path_factory.getbasetemp() / f"tinyai-{name}-cache"
        cache.mkdir(exist_ok=True)
        monkeypatch.setenv("TINYAI_CACHE_DIR", str(cache))
        return cache

    return isolated_cache


def ort_session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Fails naming how many elements are off and the worst one."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.isfinite(actual).all(), f"{what}: non-finite values"
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = diff > ATOL + RTOL * np.abs(expected)
    if bad.any():
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        pytest.fail(f"{what}: {int(bad.sum())}/{bad.size} elements off, max abs error "
                    f"{diff.max():.4g} at {worst} (got {actual[worst]:.6g}, "
                    f"want {expected[worst]:.6g}; rtol={RTOL}, atol={ATOL})")
