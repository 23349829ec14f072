"""Build a model directory beside its destination and move it into place in one rename, so a
crash never leaves a half-written directory that looks like a valid model."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

# What an output directory may already contain for us to replace it.
MODEL_FILES = frozenset({"graph.json", "weights.bin"})


def check_replaceable(out_dir: Path) -> None:
    """Refuse to overwrite a directory that holds anything but a previous import."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    extra = sorted(set(os.listdir(out_dir)) - MODEL_FILES)
    if extra:
        raise FileExistsError(
            f"{out_dir} is not empty and not a converted model (it contains "
            f"{', '.join(extra[:3])}); choose another output directory")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """Yields an empty temp dir next to out_dir; on success it replaces out_dir."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        yield tmp
        _fsync_dir(tmp)
        commit(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def commit(tmp: Path, out_dir: Path) -> None:
    try:
        os.rename(tmp, out_dir)  # atomic when out_dir does not exist (or is empty)
    except OSError:
        check_replaceable(out_dir)
        old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(out_dir.parent)
