"""The importer's transformer MLP fusions (core_native/importer/transformer_fusion.py) and the
MatMul bias input they write: each exporter's GELU spelling becomes one Gelu node, each
MatMul -> Add(bias) one MatMul(x, W, b), outputs still match onnxruntime on the original file,
and the cases that must not fuse are left alone.
"""
import json
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw
from tinyai_workbench import ModelError

from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native

K, N = 16, 24
X_SHAPE = [2, 5, K]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


def _c(name, value):
    return numpy_helper.from_array(np.array(value, np.float32), name)


def _gelu_nodes(x, y, form):
    """(nodes, initializers) computing y = GELU(x) the way `form` spells it."""
    if form.startswith("tanh"):
        inits = [_c("three", 3.0), _c("c044", 0.044715), _c("k", math.sqrt(2 / math.pi)),
                 _c("one", 1.0), _c("half", 0.5)]
        cube = ([helper.make_node("Pow", [x, "three"], ["cube"])] if form == "tanh_pow" else
                [helper.make_node("Mul", [x, x], ["sq"]),
                 helper.make_node("Mul", ["sq", x], ["cube"])])
        nodes = cube + [helper.make_node("Mul", ["c044", "cube"], ["cc"]),
                        helper.make_node("Add", ["cc", x], ["inner"]),
                        helper.make_node("Mul", ["k", "inner"], ["arg"]),
                        helper.make_node("Tanh", ["arg"], ["f"]),
                        helper.make_node("Add", ["one", "f"], ["a"]),
                        helper.make_node("Mul", [x, "half"], ["xh"], name="/mlp/act/Mul"),
                        helper.make_node("Mul", ["xh", "a"], [y])]
        return nodes, inits
    inits = [_c("one", 1.0), _c("half", 0.5), _c("root2", math.sqrt(2)),
             _c("inv_root2", math.sqrt(0.5)), _c("wrong", 1.5)]
    head = {"mul_inverse": [helper.make_node("Mul", ["inv_root2", x], ["arg"])],
            "wrong_constant": [helper.make_node("Div", [x, "wrong"], ["arg"])]}.get(
        form, [helper.make_node("Div", [x, "root2"], ["arg"], name="/mlp/act/Div")])
    nodes = head + [helper.make_node("Erf", ["arg"], ["f"]),
                    helper.make_node("Add", ["f", "one"], ["a"])]
    if form == "dynamo":  # (0.5 * a) * x
        nodes += [helper.make_node("Mul", ["half", "a"], ["ha"]),
                  helper.make_node("Mul", [x, "ha"], [y])]
    elif form == "half_first":  # (x * 0.5) * a
        nodes += [helper.make_node("Mul", [x, "half"], ["xh"]),
                  helper.make_node("Mul", ["a", "xh"], [y])]
    else:  # TorchScript: (x * a) * 0.5
        nodes += [helper.make_node("Mul", [x, "a"], ["xa"]),
                  helper.make_node("Mul", ["xa", "half"], [y])]
    return nodes, inits


def mlp_model(form="torchscript", *, bias_shape=(N,), bias_first=True, bias_input=False,
              product_read_twice=False, product_is_output=False, gelu_read_twice=False,
              opset=17):
    """x -> MatMul(W) -> Add(b) -> GELU(form) -> y (and extra outputs for the negative cases)."""
    rng = np.random.default_rng(5)
    inits = [numpy_helper.from_array(rng.standard_normal((K, N)).astype(np.float32), "w")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, X_SHAPE)]
    if bias_input:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, list(bias_shape)))
    else:
        inits.append(numpy_helper.from_array(
            rng.uniform(-1, 1, bias_shape).astype(np.float32), "b"))
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="/mlp/dense/MatMul"),
             helper.make_node("Add", ["b", "mm"] if bias_first else ["mm", "b"], ["h"],
                              name="/mlp/dense/Add")]
    gelu, consts = _gelu_nodes("h", "y", form)
    nodes += gelu
    inits += consts
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if product_read_twice:
        nodes.append(helper.make_node("Neg", ["mm"], ["side"]))
        outputs.append(helper.make_tensor_value_info("side", TensorProto.FLOAT, None))
    if product_is_output:
        outputs.append(helper.make_tensor_value_info("mm", TensorProto.FLOAT, None))
    if gelu_read_twice:
        outputs.append(helper.make_tensor_value_info("f", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "mlp", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _load(tmp_path, proto):
    path = tmp_path / "m.onnx"
    onnx.save_model(proto, str(path))
    model = tw.load_model(path)
    nodes = json.loads((model.model_dir / "graph.json").read_text())["nodes"]
    return model, nodes


def _feeds(proto):
    rng = np.random.default_rng(1)
    feeds = {"x": 2 * rng.standard_normal(X_SHAPE).astype(np.float32)}
    if any(i.name == "b" for i in proto.graph.input):
        dims = [d.dim_value for d in proto.graph.input[1].type.tensor_type.shape.dim]
        feeds["b"] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def _check_matches_ort(model, proto, level=3, threads=1, config=None):
    feeds = _feeds(proto)
    out = tw.Session(model, config or tw.Config(simd_level=level, threads=threads)).run(feeds)
    ref = ort_run(proto, feeds)
    for name, expected in ref.items():
        assert_close(out[name], expected, rtol=1e-4, atol=1e-5, what=f"{name} level {level}")


GELU_FORMS = ["torchscript", "dynamo", "half_first", "mul_inverse", "tanh_pow", "tanh_mul"]


@pytest.mark.parametrize("form", GELU_FORMS)
@pytest.mark.parametrize("level", [0, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_mlp_fuses_to_matmul_bias_and_gelu(tmp_path, form, level, threads):
    proto = mlp_model(form)
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["MatMul", "Gelu"]
    assert nodes[0]["inputs"] == ["x", "w", "b"] and nodes[0]["outputs"] == ["h"]
    assert nodes[1]["inputs"] == ["h"] and nodes[1]["outputs"] == ["y"]
    approximate = nodes[1]["attrs"].get("approximate", {}).get("value", "none")
    assert approximate == ("tanh" if form.startswith("tanh") else "none")
    _check_matches_ort(model, proto, level, threads)


@pytest.mark.parametrize("bias_shape", [(N,), (1, N), (1, 1, N)])
@pytest.mark.parametrize("bias_first", [True, False])
def test_bias_shapes_and_operand_orders_fuse(tmp_path, bias_shape, bias_first):
    proto = mlp_model(bias_shape=bias_shape, bias_first=bias_first)
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["MatMul", "Gelu"]
    _check_matches_ort(model, proto)


@pytest.mark.parametrize("case", ["product_read_twice", "product_is_output", "bias_input",
                                  "bias_broadcasts_rank"])
def test_bias_add_stays_when_it_must(tmp_path, case):
    kw = {"bias_broadcasts_rank": dict(bias_shape=(1, 1, 1, N))}.get(case, {case: True})
    proto = mlp_model(**kw)
    model, nodes = _load(tmp_path, proto)
    ops = [n["op_type"] for n in nodes]
    assert "Add" in ops and "Gelu" in ops, ops
    assert all(len(n["inputs"]) == 2 for n in nodes if n["op_type"] == "MatMul")
    _check_matches_ort(model, proto)


@pytest.mark.parametrize("case", ["wrong_constant", "gelu_read_twice"])
def test_gelu_chain_stays_when_it_must(tmp_path, case):
    proto = mlp_model("wrong_constant") if case == "wrong_constant" else mlp_model(
        gelu_read_twice=True)
    model, nodes = _load(tmp_path, proto)
    ops = [n["op_type"] for n in nodes]
    assert "Gelu" not in ops and "Erf" in ops, ops
    assert ops[0] == "MatMul" and len(nodes[0]["inputs"]) == 3  # the bias still fuses
    _check_matches_ort(model, proto)


def test_opset20_gelu_node_is_left_as_is(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["h"]),
             helper.make_node("Gelu", ["h"], ["y"], approximate="tanh")]
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal((K, N)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(N).astype(np.float32), "b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, X_SHAPE)], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    proto.ir_version = 9
    model, got = _load(tmp_path, proto)
    assert [n["op_type"] for n in got] == ["MatMul", "Gelu"]
    _check_matches_ort(model, proto)


@pytest.mark.parametrize("foldable", [False, True])
def test_source_matmul_with_three_inputs_is_rejected(tmp_path, foldable):
    proto = mlp_model()
    proto.graph.node[0].input.append("b")  # what only our importer may write
    if foldable:  # constant operands: folding would consume the MatMul before any fusion
        proto.graph.initializer.append(numpy_helper.from_array(
            np.ones(X_SHAPE, np.float32), "x_const"))
        proto.graph.node[0].input[0] = "x_const"
        proto.graph.node[1].input[:] = ["mm", "x_bias"]
        proto.graph.initializer.append(numpy_helper.from_array(np.ones(N, np.float32), "x_bias"))
    path = tmp_path / "bad.onnx"
    onnx.save_model(proto, str(path))
    with pytest.raises(ModelError, match="MatMul"):
        tw.load_model(path)


def test_streamed_weight_applies_the_bias_once(tmp_path):
    """A streamed W accumulates K pieces into Y: the bias must join only the last store."""
    rng = np.random.default_rng(9)
    k_big, n_big = 512, 256  # 512 KiB of weight, streamed under a 128 KiB budget
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["y"])]
    inits = [numpy_helper.from_array(rng.standard_normal((k_big, n_big)).astype(np.float32) / 16,
                                     "w"),
             numpy_helper.from_array(rng.uniform(1, 2, n_big).astype(np.float32), "b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [3, k_big])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8
    model, got = _load(tmp_path, proto)
    assert [n["op_type"] for n in got] == ["MatMul"] and len(got[0]["inputs"]) == 3
    feeds = {"x": rng.standard_normal((3, k_big)).astype(np.float32)}
    config = tw.Config(loader=tw.ProgressiveLoaderConfig(max_memory_usage=128 * 1024))
    sess = tw.Session(model, config)
    out = sess.run(feeds)["y"]
    assert sess.stats()["loader_misses"] > 0  # the weight really was streamed
    assert_close(out, ort_run(proto, feeds)["y"], rtol=1e-4, atol=1e-4, what="streamed")
