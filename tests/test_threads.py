"""The intra-op thread pool: Config.threads defaults to the physical cores; parallel_for
covers every index exactly once in chunks of at least `grain`; the calling thread takes part;
an exception in any chunk reaches the caller; models give the same results at any count."""
import numpy as np
import onnx
import pytest

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs
from tinyai_workbench.core_native import _core
from tinyai_workbench.core_native.config import Config, to_native

from tiny_models import tiny_cnn

pytestmark = pytest.mark.native


def test_default_threads_is_physical_cores():
    assert Config().threads is None and to_native(Config()).threads == 0
    cores = _core.physical_core_count()
    assert cores == tw.simd_capabilities()["physical_cores"] >= 1
    assert _core._parallel_for(0, 10, 1)["pool_size"] == cores


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("n,grain", [(1, 1), (7, 1), (100, 7), (1000, 1), (1000, 400), (64, 100)])
def test_parallel_for_covers_each_index_once(threads, n, grain):
    r = _core._parallel_for(threads, n, grain)
    assert r["pool_size"] == threads
    assert r["visits"] == [1] * n
    lengths = sorted(r["chunk_lengths"])
    assert sum(lengths) == n
    assert all(length >= min(grain, n) for length in lengths)
    assert len(lengths) <= max(1, 4 * threads)


def test_parallel_for_empty_range():
    assert _core._parallel_for(2, 0, 1)["chunk_lengths"] == []


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_exceptions_propagate_and_pool_survives(threads):
    with pytest.raises(RuntimeError, match="failed on purpose"):
        _core._parallel_for(threads, 100, 1, throw_at=57)
    assert _core._parallel_for(threads, 100, 1)["visits"] == [1] * 100  # still usable


def test_many_small_jobs_back_to_back():
    for i in range(300):
        assert sum(_core._parallel_for(2, 8 + i % 5, 1)["visits"]) == 8 + i % 5


def _save(model, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return tw.load_model(path)


def test_thread_count_change_applies_at_next_run(tmp_path):
    model = _save(tiny_cnn(batch=4), tmp_path)
    feeds = {"x": np.random.default_rng(0).standard_normal((4, 3, 16, 16)).astype(np.float32)}
    sess = tw.Session(model, Config(threads=1))
    one = sess.run(feeds)["y"]
    for threads in (2, 3, 1):
        sess.set_config(Config(threads=threads))
        np.testing.assert_array_equal(sess.run(feeds)["y"], one)


@pytest.mark.parametrize("name", ["squeezenet", pytest.param("resnet50", marks=pytest.mark.slow)])
def test_light_model_same_result_at_1_and_2_threads(name, onnx_test_data):
    model = tw.load_model(onnx_test_data / "light" / f"light_{name}.onnx")
    feeds = synthetic_inputs(model)
    out = model.outputs[0].name
    one = tw.Session(model, Config(threads=1)).run(feeds)[out]
    two = tw.Session(model, Config(threads=2)).run(feeds)[out]
    np.testing.assert_allclose(two, one, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])),
    ("GlobalAveragePool", {}),
    ("GlobalMaxPool", {})])
def test_pooling_splits_planes_over_threads(tmp_path, op, attrs):
    # Large enough to cross the parallel threshold: planes go to different threads, and
    # MaxPool's Indices (plane offsets added after the split) must still be global.
    from onnx import TensorProto, helper

    from onnx_reference import ort_run

    shape = [2, 24, 23, 29]
    outputs = ["y", "i"] if op == "MaxPool" else ["y"]
    node = helper.make_node(op, ["x"], outputs, **attrs)
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)] +
                              ([helper.make_tensor_value_info("i", TensorProto.INT64, None)] if op == "MaxPool" else []))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    model = _save(proto, tmp_path)
    feeds = {"x": np.random.default_rng(2).standard_normal(shape).astype(np.float32)}
    one = tw.Session(model, tw.Config(threads=1)).run(feeds)
    two = tw.Session(model, tw.Config(threads=2)).run(feeds)
    ref = ort_run(proto, feeds)
    for name in outputs:
        np.testing.assert_array_equal(two[name], one[name], err_msg=name)
        np.testing.assert_allclose(two[name], ref[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("op", ["Add", "Mul", "Sum"])
@pytest.mark.parametrize("a_shape,b_shape", [
    ([3, 5, 67, 131], [3, 5, 67, 131]),  # same shapes: one long run split across threads
    ([2, 128, 384], [384]),              # bias row: many runs, split by run ranges
    ([4, 24, 37, 41], [1, 24, 1, 1]),    # channel broadcast: runs start mid-way in outer dims
    ([5, 1, 7001], [3, 1]),              # both operands broadcast, outer dims of mixed sizes
    ([1, 300000], []),                   # scalar operand
])
def test_binary_elementwise_splits_output_over_threads(tmp_path, op, a_shape, b_shape):
    # Above the parallel threshold the output is split into disjoint ranges; every element
    # must come out exactly as on one thread and as onnxruntime computes it.
    from onnx import TensorProto, helper

    from onnx_reference import ort_run

    node = helper.make_node(op, ["a", "b"], ["y"])
    graph = helper.make_graph([node], "binary", [
        helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape),
        helper.make_tensor_value_info("b", TensorProto.FLOAT, b_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    model = _save(proto, tmp_path)
    rng = np.random.default_rng(3)
    feeds = {"a": rng.standard_normal(a_shape).astype(np.float32),
             "b": rng.standard_normal(b_shape).astype(np.float32)}
    one = tw.Session(model, tw.Config(threads=1)).run(feeds)["y"]
    two = tw.Session(model, tw.Config(threads=2)).run(feeds)["y"]
    np.testing.assert_array_equal(two, one)
    np.testing.assert_allclose(two, ort_run(proto, feeds)["y"], rtol=1e-6, atol=1e-6)


def _single_node_model(tmp_path, node, inputs, opset=17, initializers=()):
    from onnx import TensorProto, helper

    graph = helper.make_graph([node], node.op_type.lower(), [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in node.output],
        initializer=list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 8
    return proto, _save(proto, tmp_path)


@pytest.mark.parametrize("shape,perm", [
    ([2, 128, 12, 32], [0, 2, 1, 3]),  # BERT's head split: rows of 32 under 3 outer dims
    ([2, 12, 128, 32], [0, 2, 1, 3]),  # and its merge back
    ([2, 12, 128, 32], [0, 1, 3, 2]),  # K^T: a tiled 2-D transpose per head
    ([301, 467], [1, 0]),              # one 2-D transpose, no outer dim: split along its rows
    ([3, 5, 67, 131], [3, 2, 1, 0]),   # every axis moves
    ([1, 70001], [1, 0]),              # only an extent-1 axis moves: an alias, no copy
])
def test_transpose_splits_over_threads(tmp_path, shape, perm):
    # Above the copy threshold the outer dims go to different threads; every element must
    # land where numpy puts it, at any thread count.
    from onnx import helper

    node = helper.make_node("Transpose", ["x"], ["y"], perm=perm)
    _, model = _single_node_model(tmp_path, node, [("x", shape)])
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    want = np.transpose(x, perm)
    for threads in (1, 2, 3):
        got = tw.Session(model, tw.Config(threads=threads)).run({"x": x})["y"]
        np.testing.assert_array_equal(got, want, err_msg=f"{threads} threads")


@pytest.mark.parametrize("shape,axis", [
    ([2, 128, 384], -1),   # BERT-small: 256 rows of 384
    ([3, 40, 17, 23], 2),  # rows of 391 over a 2-D normalised shape
    ([1, 5, 9000], -1),    # fewer rows than a useful split: still correct
])
def test_layer_norm_splits_rows_over_threads(tmp_path, shape, axis):
    from onnx import helper, numpy_helper

    from onnx_reference import ort_run

    rng = np.random.default_rng(5)
    norm = shape[axis:]
    scale = numpy_helper.from_array(rng.standard_normal(norm).astype(np.float32), "scale")
    bias = numpy_helper.from_array(rng.standard_normal(norm).astype(np.float32), "bias")
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=axis)
    proto, model = _single_node_model(tmp_path, node, [("x", shape)], initializers=[scale, bias])
    feeds = {"x": (rng.standard_normal(shape) * 3 + 1).astype(np.float32)}
    one = tw.Session(model, tw.Config(threads=1)).run(feeds)["y"]
    for threads in (2, 3):
        two = tw.Session(model, tw.Config(threads=threads)).run(feeds)["y"]
        np.testing.assert_array_equal(two, one, err_msg=f"{threads} threads")
    np.testing.assert_allclose(one, ort_run(proto, feeds)["y"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shapes,axis", [
    ([[1, 64, 55, 55], [1, 64, 55, 55]], 1),  # squeezenet's fire concat: two contiguous blocks
    ([[2, 96, 28, 28], [2, 32, 28, 28], [2, 5, 28, 28]], 1),  # per image, uneven parts
    ([[70001], [3]], 0),                      # one long run and a tiny one
])
def test_concat_and_split_copy_over_threads(tmp_path, shapes, axis):
    # Large copies are split over the pool; every element must land where numpy puts it.
    from onnx import helper

    names = [f"x{i}" for i in range(len(shapes))]
    (tmp_path / "cat").mkdir()
    (tmp_path / "split").mkdir()
    concat = helper.make_node("Concat", names, ["y"], axis=axis)
    _, cat_model = _single_node_model(tmp_path / "cat", concat, list(zip(names, shapes)))
    rng = np.random.default_rng(6)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(names, shapes)}
    want = np.concatenate([feeds[n] for n in names], axis=axis)
    split = helper.make_node("Split", ["y"], names, axis=axis, split=[s[axis] for s in shapes])
    _, split_model = _single_node_model(tmp_path / "split", split, [("y", list(want.shape))],
                                        opset=11)
    for threads in (1, 2, 3):
        got = tw.Session(cat_model, tw.Config(threads=threads)).run(feeds)["y"]
        np.testing.assert_array_equal(got, want, err_msg=f"Concat, {threads} threads")
        parts = tw.Session(split_model, tw.Config(threads=threads)).run({"y": want})
        for n in names:
            np.testing.assert_array_equal(parts[n], feeds[n], err_msg=f"Split {n}, {threads} threads")
