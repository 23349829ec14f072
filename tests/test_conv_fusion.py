"""Conv → [Add|Sum] → Relu is fused into one Conv at import; results do not change at any
SIMD level or thread count."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw
from tinyai_workbench import ModelError, UnsupportedOperatorError

from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native

IN_SHAPE = [2, 4, 9, 11]


def _conv_relu(kind: str, *, conv_read_twice=False, conv_is_output=False,
               conv_attrs=None) -> onnx.ModelProto:
    """x -> Conv(kind) -> Relu -> y. kind: 3x3 (im2col), 1x1 (direct GEMM), depthwise."""
    rng = np.random.default_rng(3)
    c = IN_SHAPE[1]
    attrs = dict(conv_attrs or {})
    if kind == "3x3":
        w_shape, maps = (6, c, 3, 3), 6
        attrs.setdefault("pads", [1, 1, 1, 1])
    elif kind == "1x1":
        w_shape, maps = (5, c, 1, 1), 5
    else:  # depthwise
        w_shape, maps = (c, 1, 3, 3), c
        attrs.update(group=c, strides=[2, 2])
    inits = [numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "w"),
             # Biases of both signs: some channels end up mostly clipped, some mostly kept.
             numpy_helper.from_array(rng.uniform(-2, 2, maps).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", **attrs),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if conv_read_twice:
        nodes.append(helper.make_node("Neg", ["c"], ["n"], name="side"))
        outputs.append(helper.make_tensor_value_info("n", TensorProto.FLOAT, None))
    if conv_is_output:
        outputs.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "conv_relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, IN_SHAPE)],
                              outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    m.ir_version = 8
    return m


def _load(tmp_path, proto):
    path = tmp_path / "m.onnx"
    onnx.save_model(proto, str(path))
    model = tw.load_model(path)
    nodes = json.loads((model.model_dir / "graph.json").read_text())["nodes"]
    return model, nodes


def _feeds():
    return {"x": np.random.default_rng(1).standard_normal(IN_SHAPE).astype(np.float32)}


@pytest.mark.parametrize("kind", ["3x3", "1x1", "depthwise"])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_conv_relu_matches_onnxruntime(tmp_path, kind, level, threads):
    proto = _conv_relu(kind)
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["Conv"]
    assert nodes[0]["attrs"]["activation"] == {"type": "string", "value": "Relu"}
    assert nodes[0]["outputs"] == ["y"]
    out = tw.Session(model, tw.Config(simd_level=level, threads=threads)).run(_feeds())
    ref = ort_run(proto, _feeds())
    assert (ref["y"] == 0).any() and (ref["y"] > 0).any()  # the activation matters here
    assert_close(out["y"], ref["y"], rtol=1e-4, atol=1e-5, what=f"{kind} level {level}")


@pytest.mark.parametrize("case", ["conv_read_twice", "conv_is_output"])
def test_no_fusion_when_pre_activation_values_are_needed(tmp_path, case):
    proto = _conv_relu("3x3", **{case: True})
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes][:2] == ["Conv", "Relu"]
    assert "activation" not in nodes[0]["attrs"]
    out = tw.Session(model).run(_feeds())
    ref = ort_run(proto, _feeds())
    for name in ref:
        assert_close(out[name], ref[name], rtol=1e-4, atol=1e-5, what=name)


def test_conv_activation_attribute_from_a_file_is_not_onnx(tmp_path):
    # `activation` is the importer's own attribute: a file that sets it is not valid ONNX, and
    # the converted model must not silently apply (or silently drop) it.
    proto = _conv_relu("1x1", conv_attrs={"activation": "Relu"})
    with pytest.raises(ModelError, match="activation"):
        _load(tmp_path, proto)


def test_unknown_activation_is_unsupported(tmp_path):
    # The kernel itself rejects activations it cannot apply (the importer only writes Relu):
    # a hand-edited converted model with another one fails cleanly at session creation.
    model, _ = _load(tmp_path, _conv_relu("1x1"))
    edited = tmp_path / "edited"
    edited.mkdir()
    doc = json.loads((model.model_dir / "graph.json").read_text())
    doc["nodes"][0]["attrs"]["activation"]["value"] = "Sigmoid"
    (edited / "graph.json").write_text(json.dumps(doc))
    (edited / "weights.bin").write_bytes((model.model_dir / "weights.bin").read_bytes())
    with pytest.raises(UnsupportedOperatorError, match="Sigmoid"):
        tw.Session(tw.load_model(edited)).run(_feeds())


def _residual(op: str, *, relu=True, z_after_conv=True, z_shape=None, bias=True) -> onnx.ModelProto:
    """x -> Conv 3x3 -> c; r = Conv 1x1 (x) (the shortcut); y = [Relu](Add|Sum(c, r) or (r, c))."""
    rng = np.random.default_rng(5)
    c, maps = IN_SHAPE[1], 6
    inits = [numpy_helper.from_array(rng.standard_normal((maps, c, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal((maps, c, 1, 1)).astype(np.float32), "ws"),
             numpy_helper.from_array(rng.uniform(-2, 2, maps).astype(np.float32), "b")]
    main = helper.make_node("Conv", ["x", "w", "b"] if bias else ["x", "w"], ["c"], name="conv",
                            pads=[1, 1, 1, 1])
    if z_shape is None:
        shortcut = helper.make_node("Conv", ["x", "ws"], ["r"], name="shortcut")
    else:  # a broadcasting addend: stays a separate Add
        inits.append(numpy_helper.from_array(rng.standard_normal(z_shape).astype(np.float32), "r"))
        shortcut = None
    # Z computed after the main Conv in file order: the fused node must move to the Add.
    nodes = [main, shortcut] if z_after_conv else [shortcut, main]
    nodes = [n for n in nodes if n is not None]
    nodes.append(helper.make_node(op, ["r", "c"] if op == "Sum" else ["c", "r"],
                                  ["s" if relu else "y"], name="add"))
    if relu:
        nodes.append(helper.make_node("Relu", ["s"], ["y"], name="relu"))
    graph = helper.make_graph(nodes, "residual",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, IN_SHAPE)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("op,relu,z_after_conv,bias", [
    ("Add", True, True, True), ("Sum", True, False, True), ("Add", False, True, False),
    ("Sum", False, False, True)])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_residual_matches_onnxruntime(tmp_path, op, relu, z_after_conv, bias, level, threads):
    proto = _residual(op, relu=relu, z_after_conv=z_after_conv, bias=bias)
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["Conv", "Conv"]
    fused = next(n for n in nodes if len(n["inputs"]) == 4)
    other = next(n for n in nodes if n is not fused)
    # Either summand's Conv may absorb the Add; the other Conv's output is then Z.
    assert fused["inputs"] in (["x", "w", "b" if bias else "", "r"], ["x", "ws", "", "c"])
    assert other["outputs"] == [fused["inputs"][3]]
    assert fused["outputs"] == ["y"]
    assert ("activation" in fused["attrs"]) == relu
    out = tw.Session(model, tw.Config(simd_level=level, threads=threads)).run(_feeds())
    ref = ort_run(proto, _feeds())
    assert_close(out["y"], ref["y"], rtol=1e-4, atol=1e-5, what=f"{op} level {level}")


def test_broadcasting_add_is_not_fused(tmp_path):
    proto = _residual("Add", z_shape=[1, 6, 1, 1])
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["Conv", "Add", "Relu"]
    out = tw.Session(model).run(_feeds())
    assert_close(out["y"], ort_run(proto, _feeds())["y"], rtol=1e-4, atol=1e-5)


def test_conv_with_four_inputs_from_a_file_is_not_onnx(tmp_path):
    proto = _conv_relu("1x1")
    proto.graph.node[0].input.extend(["x"])
    with pytest.raises(ModelError, match="at most 3"):
        _load(tmp_path, proto)
