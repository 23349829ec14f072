"""The built-in demo model: generated from the recipe in assets/ on first use, then cached."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import platformdirs

from tinyai_workbench.assets import demo_model_recipe as recipe

ProgressCallback = Callable[[int, int, str], None]


def cache_root() -> Path:
    """The user cache directory (TINYAI_CACHE_DIR overrides, e.g. for tests)."""
    return Path(os.environ.get("TINYAI_CACHE_DIR") or platformdirs.user_cache_dir("tinyai-workbench"))


def demo_model_path(progress: Optional[ProgressCallback] = None) -> Path:
    """Path of the demo .onnx (with external weights), generating it deterministically if absent."""
    import onnx

    target_dir = cache_root() / "demo" / f"recipe-v{recipe.RECIPE_VERSION}"
    onnx_path = target_dir / "tinyai_demo.onnx"
    if onnx_path.is_file() and (target_dir / "tinyai_demo.onnx.data").is_file():
        return onnx_path
    if progress:
        progress(0, 2, "generating demo model weights")
    model = recipe.build_demo_model()
    if progress:
        progress(1, 2, "writing demo model")
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = target_dir.with_name(target_dir.name + f".tmp{os.getpid()}")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(tmp_dir / onnx_path.name), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=onnx_path.name + ".data", size_threshold=1024)
    try:
        os.replace(tmp_dir, target_dir)  # atomic: a half-written demo never looks complete
    except OSError:
        import shutil
        shutil.rmtree(tmp_dir, ignore_errors=True)  # another process won the race
    if progress:
        progress(2, 2, "demo model ready")
    return onnx_path


def demo_inputs() -> dict:
    return recipe.demo_input()
