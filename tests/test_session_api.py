"""The Python API contract other parts of the product depend on."""
import threading
import time

import numpy as np
import pytest

import tinyai_workbench as tw

from onnx_reference import assert_close, ort_run
from tiny_models import save, tiny_cnn

pytestmark = pytest.mark.native

STATS_KEYS = {"activation_bytes", "activation_peak_bytes", "weight_bytes", "weight_peak_bytes",
              "scratch_bytes", "scratch_peak_bytes", "total_peak_bytes", "last_latency_s", "runs"}


@pytest.fixture
def model(tmp_path):
    return tw.load_model(save(tiny_cnn(), tmp_path / "tiny.onnx"))


def test_config_tree_has_the_seed_field_names():
    c = tw.Config()
    assert {f for f in vars(c.memory)} == {"enable_tensor_reuse", "enable_in_place_ops",
                                            "memory_speed_tradeoff", "max_memory_budget"}
    assert {f for f in vars(c.loader)} == {"enable_prefetch", "prefetch_window",
                                            "enable_adaptive_window", "max_memory_usage"}
    assert {f for f in vars(c.scheduler)} == {"enable_checkpointing", "memory_speed_tradeoff",
                                               "recompute_activations", "max_activation_memory"}
    assert {f for f in vars(c.cache)} == {"block_size", "cache_line_size", "enable_prefetch",
                                           "prefetch_distance"}
    assert c.simd_level == 3 and c.threads is None


def test_layers_describe_the_model(model):
    names = [l.name for l in model.layers]
    assert len(names) == len(set(names))
    assert sum(l.weight_bytes for l in model.layers) == model.weight_bytes
    conv = next(l for l in model.layers if "Conv" in l.op_types)
    assert conv.weight_bytes == (8 * 3 * 3 * 3 + 8) * 4
    # Weight-free ops attach to the layer before them (the Relu is fused into the Conv).
    assert "GlobalAveragePool" in conv.op_types


def test_run_matches_onnxruntime_at_several_batch_sizes(model, tmp_path):
    sess = tw.Session(model)
    for batch in (1, 4, 2):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 16, 16)).astype(np.float32)
        ours = sess.run({"x": x})["y"]
        assert_close(ours, ort_run(tiny_cnn(), {"x": x})["y"], what=f"batch {batch}")
    assert sess.stats()["plans_cached"] == 3


def test_stats_snapshot(model):
    sess = tw.Session(model)
    s = sess.stats()
    assert STATS_KEYS <= set(s)
    assert s["runs"] == 0
    # Resident weights are the layer blobs: the constants plus their 64-byte alignment padding.
    assert model.weight_bytes <= s["weight_bytes"] < model.weight_bytes + 64 * 4
    sess.run({"x": np.ones((2, 3, 16, 16), np.float32)})
    s = sess.stats()
    assert s["runs"] == 1
    assert s["last_latency_s"] > 0
    assert s["activation_bytes"] == 0, "activations are freed after a run"
    # Conv output (2x8x16x16 floats) is the largest intermediate and must be counted.
    assert s["activation_peak_bytes"] >= 2 * 8 * 16 * 16 * 4
    assert s["total_peak_bytes"] >= s["weight_bytes"] + s["activation_peak_bytes"] - 1


def test_run_releases_the_gil(tmp_path):
    # A model big enough that a run takes a while: the Python thread must keep ticking.
    model = tw.load_model(save(tiny_cnn(), tmp_path / "t.onnx"))
    sess = tw.Session(model)
    x = np.ones((64, 3, 16, 16), np.float32)
    ticks = []
    done = threading.Event()

    def runner():
        for _ in range(20):
            sess.run({"x": x})
        done.set()

    t = threading.Thread(target=runner)
    t.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    gaps = np.diff(ticks) if len(ticks) > 1 else np.array([0.0])
    assert len(ticks) > 5
    assert gaps.max() < 0.25, f"main thread stalled {gaps.max():.3f}s while the core ran"


def test_set_config_applies_at_next_run(model):
    sess = tw.Session(model)
    cfg = tw.Config(memory=tw.MemoryOptimizerConfig(memory_speed_tradeoff=0.1))
    sess.set_config(cfg)
    assert sess.config.memory.memory_speed_tradeoff == pytest.approx(0.1)
    sess.run({"x": np.ones((1, 3, 16, 16), np.float32)})
    assert sess._native.config.memory.memory_speed_tradeoff == pytest.approx(0.1)


def test_already_imported_model_does_not_parse_onnx_again(tmp_path, monkeypatch):
    path = save(tiny_cnn(seed=5), tmp_path / "again.onnx")
    tw.load_model(path)
    import onnx

    def boom(*a, **k):
        raise AssertionError("onnx parsed again")

    monkeypatch.setattr(onnx, "load", boom)
    monkeypatch.setattr(onnx, "load_model", boom)
    again = tw.load_model(path)
    assert again.layers


def test_scalar_graph_input_keeps_rank_zero(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Add", ["a", "b"], ["y"], name="add")
    graph = helper.make_graph([node], "scalar",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, []),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "scalar.onnx"
    onnx.save_model(m, str(path))
    out = tw.Session(tw.load_model(path)).run({"a": np.float32(2.0), "b": np.arange(3, dtype=np.float32)})
    np.testing.assert_array_equal(out["y"], [2, 3, 4])
