"""Shared test setup: an isolated import cache and offscreen Qt for every test session."""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

import onnx
import pytest

# Set before anything imports the package, so no test writes into the user's real cache.
# Imported light models take ~1.3 GB, so a cache this run created is removed at exit.
if "TINYAI_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="tinyai-test-cache-")
    os.environ["TINYAI_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ONNX_TEST_DATA = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data"


@pytest.fixture(scope="session")
def onnx_test_data() -> Path:
    return ONNX_TEST_DATA
