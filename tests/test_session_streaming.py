"""Sessions streaming weights through the progressive loader under a weight budget."""
import numpy as np
import pytest

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

from conftest import ONNX_TEST_DATA

pytestmark = pytest.mark.native


def _streaming(budget, prefetch=True, window=2, total=None):
    return tw.Config(loader=tw.ProgressiveLoaderConfig(enable_prefetch=prefetch, prefetch_window=window,
                                                       max_memory_usage=budget),
                     memory=tw.MemoryOptimizerConfig(max_memory_budget=total))


@pytest.fixture(scope="module")
def resnet():
    return tw.load_model(ONNX_TEST_DATA / "light" / "light_resnet50.onnx")


def test_streamed_outputs_match_resident_and_stay_in_budget(resnet):
    feeds = synthetic_inputs(resnet)
    out = resnet.outputs[0].name
    expected = tw.Session(resnet).run(feeds)[out]
    budget = int(0.3 * resnet.weight_bytes)
    sess = tw.Session(resnet, _streaming(budget))
    # Nothing is preloaded when streaming (the prefetcher may already be reading ahead).
    assert sess.stats()["weight_bytes"] <= budget
    for _ in range(2):
        np.testing.assert_array_equal(sess.run(feeds)[out], expected)
        s = sess.stats()
        assert s["weight_peak_bytes"] <= budget
        assert s["loader_misses"] > 0 and s["loader_bytes_read"] > 0
    statuses = s["layer_status"]
    assert len(statuses) == len(resnet.layers)
    assert set(statuses) <= {0, 1, 2, 3}


def test_session_layer_api(resnet):
    # Prefetch off: with it on, the I/O thread may already be reading layer 0 at creation.
    sess = tw.Session(resnet, _streaming(int(0.3 * resnet.weight_bytes), prefetch=False))
    first = resnet.layers[0].name
    assert sess.get_layer_status(first) == tw.LayerStatus.UNLOADED
    assert sess.load_layer(first)
    assert sess.get_layer_status(0) == tw.LayerStatus.LOADED
    sess.set_layer_priority(first, "critical")
    assert sess.get_layer_priority(0) == tw.LayerPriority.CRITICAL
    assert not sess.unload_layer(0)  # pinned
    sess.set_layer_priority(0, tw.LayerPriority.LOW)
    assert sess.unload_layer(0)
    assert sess.get_layer_status(0) == tw.LayerStatus.UNLOADED
    with pytest.raises(ValueError):
        sess.get_layer_status("no such layer")


def test_streaming_minimum_budget_runs(resnet):
    feeds = synthetic_inputs(resnet)
    probe = tw.Session(resnet, _streaming(resnet.weight_bytes))
    est = probe.estimate_memory_usage(feeds)
    minimum = est["minimum_streaming_total_bytes"]
    assert minimum < est["minimum_total_bytes"] or minimum == est["minimum_total_bytes"]
    weight_room = minimum - (est["total_peak_bytes"] - est["weight_peak_bytes"])
    sess = tw.Session(resnet, _streaming(weight_room, total=minimum))
    sess.run(feeds)
    sess.run(feeds)
    assert sess.stats()["total_peak_bytes"] <= minimum


def test_emulated_disk_is_labelled(resnet):
    sess = tw.Session(resnet, _streaming(int(0.5 * resnet.weight_bytes)))
    sess.set_bandwidth_limit_mbps(2000)
    assert "emulated" in sess.stats()["storage"]
    with pytest.raises(ValueError):
        sess.set_bandwidth_limit_mbps(-1)


def test_session_simd_and_cache_methods(resnet):
    sess = tw.Session(resnet)
    assert sess.enable_simd("CONV", False)
    assert sess.config.simd_ops.conv is False
    sess.set_simd_optimization_level(1)
    assert sess.config.simd_level == 1
    assert sess.cache_stats()["source"] in ("perf", "model")


def test_loader_budget_set_through_estimate_reaches_the_loader(resnet):
    feeds = synthetic_inputs(resnet)
    sess = tw.Session(resnet)
    budget = int(0.4 * resnet.weight_bytes)
    sess.set_config(_streaming(budget))
    est = sess.estimate_memory_usage(feeds)  # applies the queued config (as the GUI does)
    assert est["weight_peak_bytes"] <= budget
    sess.run(feeds)
    assert sess.stats()["loader_budget_bytes"] == budget
    assert sess.stats()["weight_bytes"] <= budget
