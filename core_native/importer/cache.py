"""cached_import: import each distinct model once, keyed by the content of the .onnx file and
of its external data files.

Layout under the cache root (platformdirs user cache, or $TINYAI_CACHE_DIR):
  models-r<revision>/<key>/graph.json, weights.bin   a converted model
  sources/<onnx sha256>.json             the external data files that .onnx refers to

The sources record lets a repeat call compute the full key from file contents alone, without
parsing the model (or even importing onnx).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from ..errors import ModelError, TinyAIError
from . import graph_json
from .pipeline import convert_model, file_sha256
from .progress import ProgressFn
from .weights_writer import read_header

CACHE_ENV = "TINYAI_CACHE_DIR"
# Bump when the conversion changes what it writes (fusions, layer grouping, folding): models
# converted by an older importer are then converted again instead of being reused.
IMPORTER_REVISION = 8  # 8: Gelu chains and MatMul + bias fused (transformer_fusion.py)


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tinyai-workbench"))


def _cache_key(onnx_sha: str, src_dir: Path, data_files: List[str]) -> str:
    if not data_files:
        return onnx_sha
    h = hashlib.sha256(onnx_sha.encode())
    for loc in sorted(data_files):
        h.update(b"\0" + loc.encode() + b"\0")
        h.update(file_sha256(src_dir / os.path.normpath(loc)).encode())
    return h.hexdigest()


def is_valid_model_dir(path: Path, onnx_sha: Optional[str] = None) -> bool:
    """Cheap check (no CRC pass): graph.json valid and weights.bin header consistent."""
    try:
        doc = graph_json.read_graph_json(path)
        if onnx_sha is not None and doc.get("source_sha256") != onnx_sha:
            return False
        read_header(str(path / doc["weights_file"]))
        return True
    except (TinyAIError, OSError, ValueError):
        return False


def _read_sources(path: Path) -> Optional[List[str]]:
    try:
        with open(path, "r", encoding="utf-8") as f:
            files = json.load(f)["external_data"]
        return [str(x) for x in files] if isinstance(files, list) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_sources(path: Path, files: List[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"external_data": files}, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _sweep_stale_staging(models: Path, max_age_s: float = 24 * 3600) -> None:
    """Remove staging dirs left by imports that crashed (never ones young enough to be live)."""
    try:
        entries = list(models.iterdir())
    except OSError:
        return
    now = time.time()
    for p in entries:
        if p.name.startswith(".") and (".tmp-" in p.name or ".old-" in p.name):
            try:
                if now - p.stat().st_mtime > max_age_s:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass


def cached_import(src, progress: Optional[ProgressFn] = None) -> Path:
    """The converted model directory for `src`, importing it only if not cached yet."""
    src = Path(src)
    if not src.is_file():
        raise ModelError(f"model file not found: {src}")
    root = cache_root()
    src_dir = src.resolve().parent
    if progress:
        progress(0, 0, "hashing model")
    onnx_sha = file_sha256(src)
    sources = root / "sources" / f"{onnx_sha}.json"
    data_files = _read_sources(sources)
    if data_files is not None and all((src_dir / os.path.normpath(f)).is_file()
                                      for f in data_files):
        out = root / f"models-r{IMPORTER_REVISION}" / _cache_key(onnx_sha, src_dir, data_files)
        if is_valid_model_dir(out, onnx_sha):
            if progress:
                progress(0, 0, "done")
            return out
    # Unknown or stale: parse the model to learn its external files, then import.
    _sweep_stale_staging(root / f"models-r{IMPORTER_REVISION}")
    from .onnx_loading import external_data_locations, load_model_proto

    model = load_model_proto(str(src))
    data_files = external_data_locations(model)
    for loc in data_files:
        path = src_dir / os.path.normpath(loc)
        if not path.is_file():
            raise ModelError(f"external data file '{loc}' not found; looked for {path}")
    out = root / f"models-r{IMPORTER_REVISION}" / _cache_key(onnx_sha, src_dir, data_files)
    if not is_valid_model_dir(out, onnx_sha):
        if out.exists():  # a damaged entry: the cache owns it, so it can simply go
            shutil.rmtree(out, ignore_errors=True)
        convert_model(model, src, out, progress, source_sha256=onnx_sha)
    elif progress:
        progress(0, 0, "done")
    _write_sources(sources, data_files)
    return out
