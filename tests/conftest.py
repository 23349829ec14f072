"""Shared test setup: an isolated import cache and offscreen Qt for every test session."""
import os
import tempfile
from pathlib import Path

import onnx
import pytest

# Set before anything imports the package, so no test writes into the user's real cache.
os.environ.setdefault("TINYAI_CACHE_DIR", tempfile.mkdtemp(prefix="tinyai-test-cache-"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ONNX_TEST_DATA = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data"


@pytest.fixture(scope="session")
def onnx_test_data() -> Path:
    return ONNX_TEST_DATA
