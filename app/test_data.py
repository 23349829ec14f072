"""Inputs for headless runs: ONNX test-data directories (input_N.pb / output_N.pb) or
deterministic synthetic inputs shaped like the model's declared inputs."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from tinyai_workbench.core_native import InputError, Model


def _numbered(directory: Path, prefix: str) -> List[Path]:
    files = [p for p in directory.glob(f"{prefix}_*.pb") if re.fullmatch(rf"{prefix}_\d+\.pb", p.name)]
    return sorted(files, key=lambda p: int(p.stem.split("_")[-1]))


def _read_tensor(path: Path) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    t = onnx.TensorProto()
    try:
        t.ParseFromString(path.read_bytes())
        return numpy_helper.to_array(t)
    except Exception as e:  # protobuf raises several unrelated types
        raise InputError(f"{path}: not a serialized ONNX tensor ({e})") from e


def load_inputs(model: Model, directory: Path) -> Dict[str, np.ndarray]:
    """input_N.pb files, matched to the model's inputs by tensor name, else by position."""
    files = _numbered(directory, "input")
    if not files:
        raise InputError(f"{directory} holds no input_N.pb files")
    names = [i.name for i in model.inputs]
    if len(files) != len(names):
        raise InputError(f"{directory} has {len(files)} input files but the model takes {len(names)} inputs ({', '.join(names)})")
    feeds = {}
    for pos, f in enumerate(files):
        import onnx
        t = onnx.TensorProto()
        t.ParseFromString(f.read_bytes())
        name = t.name if t.name in names else names[pos]
        feeds[name] = _read_tensor(f)
    return feeds


def load_expected_outputs(directory: Path) -> List[np.ndarray]:
    return [_read_tensor(f) for f in _numbered(directory, "output")]


def synthetic_inputs(model: Model, batch: int = 1) -> Dict[str, np.ndarray]:
    """The ONNX backend tests' deterministic dummy data: arange(n)/n for floats, zeros otherwise;
    symbolic dimensions become `batch`."""
    feeds = {}
    for info in model.inputs:
        if info.shape is None:
            raise InputError(f"input '{info.name}' has no declared shape; pass --inputs DIR")
        shape = tuple(d if isinstance(d, int) else batch for d in info.shape)
        dtype = info.dtype or np.float32
        n = int(np.prod(shape))
        if dtype == np.float32:
            feeds[info.name] = (np.arange(n).reshape(shape) / max(n, 1)).astype(np.float32)
        else:
            feeds[info.name] = np.zeros(shape, dtype=dtype)
    return feeds


def compare_outputs(names: List[str], actual: Dict[str, np.ndarray], expected: List[np.ndarray],
                    rtol: float = 1e-3, atol: float = 1e-4) -> List[dict]:
    """One row per output: name, max abs error, and whether it is within tolerance."""
    rows = []
    for name, want in zip(names, expected):
        got = actual[name]
        ok = got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))
        err = float(np.max(np.abs(got.astype(np.float64) - want))) if got.shape == want.shape and got.size else 0.0
        rows.append({"output": name, "shape": list(got.shape), "max_abs_error": err, "ok": ok,
                     "expected_shape": list(want.shape)})
    return rows
