"""Repeated session create/run/destroy must not leak memory."""
import gc
import os

import numpy as np
import psutil
import pytest

import tinyai_workbench as tw
from tinyai_workbench.core_native import _core

from tiny_models import save, tiny_cnn

pytestmark = pytest.mark.native


@pytest.mark.parametrize("tradeoff", [0.5, 1.0])  # 1.0: kernels keep packed weights across runs
def test_200_create_run_destroy_cycles_do_not_grow_memory(tmp_path, tradeoff):
    model = tw.load_model(save(tiny_cnn(), tmp_path / "tiny.onnx"))
    x = np.ones((4, 3, 16, 16), np.float32)
    proc = psutil.Process()
    config = tw.Config(memory=tw.MemoryOptimizerConfig(memory_speed_tradeoff=tradeoff))

    def cycle():
        sess = tw.Session(model, config)
        sess.run({"x": x})
        del sess

    if tradeoff >= 0.75:  # the cycles do hold packed copies
        assert tw.Session(model, config).estimate_memory_usage({"x": x})["packed_weight_bytes"] > 0
    for _ in range(30):  # warm up allocator pools and caches
        cycle()
    gc.collect()
    buffers_before = _core.live_buffer_count()
    rss_before = proc.memory_info().rss
    for _ in range(200):
        cycle()
    gc.collect()
    assert _core.live_buffer_count() == buffers_before, "native buffers leaked"
    if os.environ.get("TINYAI_SANITIZER_RUN"):
        return  # ASan's quarantine holds freed memory on purpose; RSS says nothing there
    growth = proc.memory_info().rss - rss_before
    assert growth < 2 * 2**20, f"RSS grew by {growth / 2**20:.2f} MiB over 200 cycles"
