"""Conv weights and the constant B of MatMul / Gemm packed for the GEMM kept across runs
(memory_speed_tradeoff >= 0.75, weights resident): same outputs as packing per run, counted as
Weight memory and in the estimate, replaced when the SIMD level or blocking changes, freed when
the settings stop keeping them."""
import numpy as np
import pytest

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

from conftest import ONNX_TEST_DATA
from tiny_models import save, tiny_cnn

pytestmark = pytest.mark.native


def _config(tradeoff, simd_level=3, block_size=64, threads=1, stream=None, budget=None):
    return tw.Config(memory=tw.MemoryOptimizerConfig(memory_speed_tradeoff=tradeoff, max_memory_budget=budget),
                     loader=tw.ProgressiveLoaderConfig(max_memory_usage=stream),
                     cache=tw.CacheConfig(block_size=block_size), simd_level=simd_level, threads=threads)


@pytest.fixture(scope="module")
def squeezenet():
    model = tw.load_model(ONNX_TEST_DATA / "light" / "light_squeezenet.onnx")
    return model, synthetic_inputs(model), model.outputs[0].name


def _weights(sess):
    return sess.stats()["weight_bytes"]


@pytest.mark.parametrize("threads", [1, 2])
def test_kept_packing_gives_the_same_outputs_as_packing_per_run(squeezenet, threads):
    model, feeds, out = squeezenet
    per_run = tw.Session(model, _config(0.5, threads=threads))
    kept = tw.Session(model, _config(1.0, threads=threads))
    expected = per_run.run(feeds)[out]
    for _ in range(3):  # the first run packs, the later ones reuse the packing
        np.testing.assert_array_equal(kept.run(feeds)[out], expected)
    assert _weights(kept) > _weights(per_run)


def test_packed_bytes_are_weight_memory_and_in_the_estimate(squeezenet):
    model, feeds, _ = squeezenet
    sess = tw.Session(model, _config(0.5))
    sess.run(feeds)
    base = _weights(sess)
    est = sess.estimate_memory_usage(feeds)
    assert not est["keep_packed_weights"] and est["packed_weight_bytes"] == 0
    sess.set_config(_config(1.0))
    est = sess.estimate_memory_usage(feeds)  # measures the packing under the new settings
    assert est["keep_packed_weights"]
    packed = est["packed_weight_bytes"]
    assert packed > 0
    assert est["weight_peak_bytes"] == base + packed
    sess.run(feeds)
    sess.run(feeds)
    assert _weights(sess) == base + packed  # packed once, not once per run
    assert sess.stats()["weight_peak_bytes"] == base + packed


def test_lower_tradeoff_frees_the_packed_copies(squeezenet):
    model, feeds, out = squeezenet
    sess = tw.Session(model, _config(1.0))
    expected = sess.run(feeds)[out]
    base = tw.Session(model, _config(0.5))
    base.run(feeds)
    assert _weights(sess) > _weights(base)
    sess.set_config(_config(0.5))
    est = sess.estimate_memory_usage(feeds)  # applies the settings: the copies go at once
    assert not est["keep_packed_weights"] and est["packed_weight_bytes"] == 0
    assert _weights(sess) == _weights(base)
    np.testing.assert_array_equal(sess.run(feeds)[out], expected)
    assert _weights(sess) == _weights(base)


@pytest.mark.parametrize("change", [dict(simd_level=2), dict(simd_level=1), dict(block_size=16),
                                    dict(simd_level=0), dict(threads=2)])
def test_settings_change_between_runs_repacks(squeezenet, change):
    model, feeds, out = squeezenet
    sess = tw.Session(model, _config(1.0))
    sess.run(feeds)
    sess.set_config(_config(1.0, **change))
    got = sess.run(feeds)[out]
    got_again = sess.run(feeds)[out]
    fresh = tw.Session(model, _config(1.0, **change))
    np.testing.assert_array_equal(got, fresh.run(feeds)[out])
    np.testing.assert_array_equal(got_again, got)
    np.testing.assert_array_equal(got, tw.Session(model, _config(0.5, **change)).run(feeds)[out])
    # The copy packed for the old settings was replaced, not kept beside the new one.
    assert _weights(sess) == _weights(fresh)
    assert sess.estimate_memory_usage(feeds)["packed_weight_bytes"] == \
        fresh.estimate_memory_usage(feeds)["packed_weight_bytes"]


def test_scalar_level_keeps_no_copy(squeezenet):
    model, feeds, _ = squeezenet
    sess = tw.Session(model, _config(1.0, simd_level=0))
    est = sess.estimate_memory_usage(feeds)
    assert est["keep_packed_weights"] and est["packed_weight_bytes"] == 0  # reads weights in place


def test_streamed_weights_keep_no_packed_copies(squeezenet):
    model, feeds, out = squeezenet
    resident = tw.Session(model, _config(1.0))
    expected = resident.run(feeds)[out]
    budget = model.weight_bytes // 2
    sess = tw.Session(model, _config(1.0, stream=budget))
    np.testing.assert_array_equal(sess.run(feeds)[out], expected)
    assert _weights(sess) <= budget
    est = sess.estimate_memory_usage(feeds)
    assert not est["keep_packed_weights"] and est["packed_weight_bytes"] == 0
    # Switching a resident session to streaming frees its copies.
    resident.set_config(_config(1.0, stream=budget))
    np.testing.assert_array_equal(resident.run(feeds)[out], expected)
    assert _weights(resident) <= budget


def test_budget_counts_the_packed_copies(squeezenet):
    model, feeds, _ = squeezenet
    probe = tw.Session(model, _config(0.5))
    enough_per_run = probe.estimate_memory_usage(feeds)["total_peak_bytes"]
    kept = tw.Session(model, _config(1.0)).estimate_memory_usage(feeds)
    assert kept["total_peak_bytes"] > enough_per_run + kept["packed_weight_bytes"] // 2
    sess = tw.Session(model, _config(1.0, budget=enough_per_run))
    with pytest.raises(tw.BudgetError):
        sess.run(feeds)
        sess.run(feeds)
    assert sess.stats()["total_peak_bytes"] <= enough_per_run
    sess.set_config(_config(0.5, budget=enough_per_run))  # per-run packing fits
    sess.run(feeds)


def test_non_constant_weight_is_not_kept(tmp_path):
    # A Conv whose weight is a graph input: its bytes change from run to run.
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [8, 4, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "conv_w_input", [x, w], [y])
    path = tmp_path / "conv_w.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    model = tw.load_model(path)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    sess = tw.Session(model, _config(1.0))
    ref = tw.Session(model, _config(0.5))
    for _ in range(2):
        ws = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
        np.testing.assert_array_equal(sess.run({"x": xs, "w": ws})["y"], ref.run({"x": xs, "w": ws})["y"])
    assert sess.estimate_memory_usage({"x": xs, "w": ws})["packed_weight_bytes"] == 0


def test_tiny_cnn_kept_packing_matches(tmp_path):
    model = tw.load_model(save(tiny_cnn(), tmp_path / "tiny.onnx"))
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    expected = tw.Session(model, _config(0.0)).run({"x": x})["y"]
    sess = tw.Session(model, _config(1.0))
    for _ in range(2):
        np.testing.assert_array_equal(sess.run({"x": x})["y"], expected)


# -- MatMul / Gemm: the constant B packed once -------------------------------------------------

def _linear_model(rows=37, batch=2):
    """MatMul x[batch, rows, 300] @ W[300, 70]; Gemm a[rows, 300] x W2[70, 300]^T * 0.5 + bias;
    Gemm a^T (transA) x W3[300, 45] + 0.3 * C[rows, 45]. K = 300 spans several K blocks at
    block_size 16; N = 70 and 45 leave partial register panels."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    init = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
            for name, shape in [("w", (300, 70)), ("w2", (70, 300)), ("bias2", (70,)),
                                ("w3", (300, 45)), ("c3", (rows, 45))]]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y1"]),
             helper.make_node("Gemm", ["a", "w2", "bias2"], ["y2"], transB=1, alpha=0.5),
             helper.make_node("Gemm", ["at", "w3", "c3"], ["y3"], transA=1, beta=0.3)]
    graph = helper.make_graph(nodes, "linear", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, rows, 300]),
        helper.make_tensor_value_info("a", TensorProto.FLOAT, [rows, 300]),
        helper.make_tensor_value_info("at", TensorProto.FLOAT, [300, rows])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y1", "y2", "y3")],
        initializer=init)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    weights = {t.name: numpy_helper.to_array(t) for t in init}
    feeds = {"x": rng.standard_normal((batch, rows, 300)).astype(np.float32),
             "a": rng.standard_normal((rows, 300)).astype(np.float32),
             "at": rng.standard_normal((300, rows)).astype(np.float32)}
    return proto, weights, feeds


def _linear_reference(w, feeds):
    x, a, at = (feeds[k].astype(np.float64) for k in ("x", "a", "at"))
    return {"y1": x @ w["w"], "y2": 0.5 * a @ w["w2"].T + w["bias2"],
            "y3": at.T @ w["w3"] + 0.3 * w["c3"]}


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    proto, weights, feeds = _linear_model()
    path = save(proto, tmp_path_factory.mktemp("linear") / "linear.onnx")
    return tw.load_model(path), weights, feeds


@pytest.mark.parametrize("simd_level,block_size,threads", [
    (3, 64, 1), (3, 16, 1), (3, 16, 2), (2, 16, 2), (1, 16, 1), (1, 64, 3)])
def test_kept_matmul_gemm_weights_give_the_same_outputs(linear, simd_level, block_size, threads):
    model, weights, feeds = linear
    cfg = dict(simd_level=simd_level, block_size=block_size, threads=threads)
    expected = tw.Session(model, _config(0.5, **cfg)).run(feeds)
    kept = tw.Session(model, _config(1.0, **cfg))
    ref = _linear_reference(weights, feeds)
    for _ in range(3):  # the first run packs, the later ones reuse the packing
        got = kept.run(feeds)
        for name in ("y1", "y2", "y3"):
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
            np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-3, err_msg=name)
    est = kept.estimate_memory_usage(feeds)
    assert est["keep_packed_weights"] and est["packed_weight_bytes"] > 0


def test_kept_matmul_weights_are_weight_memory_and_freed(linear):
    model, _, feeds = linear
    base = tw.Session(model, _config(0.5))
    base.run(feeds)
    sess = tw.Session(model, _config(1.0))
    est = sess.estimate_memory_usage(feeds)
    packed = est["packed_weight_bytes"]
    # Every B (300 x 70, 300 x 70 via transB, 300 x 45) once, padded to whole panels.
    assert packed >= 4 * 300 * (70 + 70 + 45)
    assert packed < 2 * 4 * 300 * (70 + 70 + 45)
    for _ in range(2):
        sess.run(feeds)
    assert _weights(sess) == _weights(base) + packed  # packed once, not once per run
    assert est["weight_peak_bytes"] == _weights(base) + packed
    sess.set_config(_config(0.5))
    est = sess.estimate_memory_usage(feeds)
    assert not est["keep_packed_weights"] and est["packed_weight_bytes"] == 0
    assert _weights(sess) == _weights(base)


@pytest.mark.parametrize("change", [dict(simd_level=2), dict(block_size=16), dict(threads=2),
                                    dict(simd_level=0)])
def test_kept_matmul_weights_repack_when_settings_change(linear, change):
    model, _, feeds = linear
    sess = tw.Session(model, _config(1.0))
    sess.run(feeds)
    sess.set_config(_config(1.0, **change))
    got = sess.run(feeds)
    fresh = tw.Session(model, _config(1.0, **change))
    per_run = tw.Session(model, _config(0.5, **change)).run(feeds)
    for name in ("y1", "y2", "y3"):
        np.testing.assert_array_equal(got[name], per_run[name], err_msg=name)
    fresh.run(feeds)
    assert _weights(sess) == _weights(fresh)  # the stale copies were replaced, not kept beside


def test_matrix_vector_products_keep_no_copy(tmp_path):
    # One row of activations: the GEMM reads B in place, so a packed copy would be waste.
    proto, _, _ = _linear_model(rows=1, batch=1)
    model = tw.load_model(save(proto, tmp_path / "gemv.onnx"))
    rng = np.random.default_rng(8)
    feeds = {"x": rng.standard_normal((1, 1, 300)).astype(np.float32),
             "a": rng.standard_normal((1, 300)).astype(np.float32),
             "at": rng.standard_normal((300, 1)).astype(np.float32)}
    sess = tw.Session(model, _config(1.0))
    est = sess.estimate_memory_usage(feeds)
    assert est["keep_packed_weights"] and est["packed_weight_bytes"] == 0
    expected = tw.Session(model, _config(0.5)).run(feeds)
    got = sess.run(feeds)
    for name in ("y1", "y2", "y3"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_streamed_matmul_weights_keep_no_copy(linear):
    model, _, feeds = linear
    expected = tw.Session(model, _config(0.5)).run(feeds)
    sess = tw.Session(model, _config(1.0, stream=model.weight_bytes // 2))
    got = sess.run(feeds)
    for name in ("y1", "y2", "y3"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-4, err_msg=name)
    assert sess.estimate_memory_usage(feeds)["packed_weight_bytes"] == 0
