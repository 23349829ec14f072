"""Conv → Relu is fused into one Conv at import, and the core's Conv applies a fused addend;
results do not change at any SIMD level or thread count."""
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


@pytest.mark.parametrize("op", ["Add", "Sum"])
def test_residual_add_stays_a_separate_node(tmp_path, op):
    # The importer does not fold residual adds into the Conv (measured slower: conv_fusion.py);
    # the Relu after the Add does not follow a Conv, so it stays too.
    proto = _residual(op)
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["Conv", "Conv", op, "Relu"]
    assert all(len(n["inputs"]) <= 3 for n in nodes)
    out = tw.Session(model).run(_feeds())
    assert_close(out["y"], ort_run(proto, _feeds())["y"], rtol=1e-4, atol=1e-5)


def _hand_fused(tmp_path, bias: bool, relu: bool):
    """x -> Conv(w[, b]) -> c; y = [Relu](c + r) for a runtime input r, as a converted model
    whose Conv carries r as its 4th input (FORMAT.md), written by editing graph.json."""
    rng = np.random.default_rng(9)
    maps = 6
    inits = [numpy_helper.from_array(rng.standard_normal((maps, IN_SHAPE[1], 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.uniform(-2, 2, maps).astype(np.float32), "b")]
    out_shape = [IN_SHAPE[0], maps] + IN_SHAPE[2:]
    nodes = [helper.make_node("Conv", ["x", "w", "b"] if bias else ["x", "w"], ["c"], name="conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "r"], ["s" if relu else "y"], name="add")]
    if relu:
        nodes.append(helper.make_node("Relu", ["s"], ["y"], name="relu"))
    graph = helper.make_graph(nodes, "hand_fused",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, IN_SHAPE),
                               helper.make_tensor_value_info("r", TensorProto.FLOAT, out_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    proto.ir_version = 8
    model, _ = _load(tmp_path, proto)
    doc = json.loads((model.model_dir / "graph.json").read_text())
    conv = doc["nodes"][0]
    assert conv["op_type"] == "Conv" and doc["nodes"][1]["op_type"] == "Add"
    conv["inputs"] = (conv["inputs"] + [""])[:3] + ["r"]
    conv["outputs"] = ["y"]
    if relu:
        conv["attrs"]["activation"] = {"type": "string", "value": "Relu"}
    doc["nodes"] = [conv]
    assert len(doc["layers"]) == 1  # the Add and Relu belong to the Conv's layer
    doc["layers"][0]["nodes"], doc["layers"][0]["op_types"] = [0], ["Conv"]
    doc["values"] = [v for v in doc["values"] if v["name"] not in ("c", "s")]
    for v in doc["values"]:
        if v["name"] == "r":
            v["shape"] = None  # so a wrong Z reaches the kernel's own check
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "graph.json").write_text(json.dumps(doc))
    (edited / "weights.bin").write_bytes((model.model_dir / "weights.bin").read_bytes())
    feeds = dict(_feeds(), r=np.random.default_rng(4).standard_normal(out_shape).astype(np.float32))
    return proto, tw.load_model(edited), feeds


@pytest.mark.parametrize("bias,relu", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_conv_with_fused_addend_matches_onnxruntime(tmp_path, bias, relu, level, threads):
    # The core's Conv adds a 4th input Z before the activation: Y = act(conv + B + Z).
    proto, model, feeds = _hand_fused(tmp_path, bias, relu)
    out = tw.Session(model, tw.Config(simd_level=level, threads=threads)).run(feeds)
    assert_close(out["y"], ort_run(proto, feeds)["y"], rtol=1e-4, atol=1e-5,
                 what=f"bias={bias} relu={relu} level {level}")


def test_fused_addend_of_the_wrong_shape_is_an_error(tmp_path):
    _, model, feeds = _hand_fused(tmp_path, True, True)
    feeds["r"] = feeds["r"][:, :3]
    with pytest.raises(tw.TinyAIError, match="fused addend"):
        tw.Session(model).run(feeds)


def test_broadcasting_add_is_not_fused(tmp_path):
    # Per channel and per column: neither a Z of the output's shape nor a per-channel bias
    # (which importer/affine_folding.py would fold into the Conv).
    proto = _residual("Add", z_shape=[1, 6, 1, IN_SHAPE[-1]])
    model, nodes = _load(tmp_path, proto)
    assert [n["op_type"] for n in nodes] == ["Conv", "Add", "Relu"]
    out = tw.Session(model).run(_feeds())
    assert_close(out["y"], ort_run(proto, _feeds())["y"], rtol=1e-4, atol=1e-5)


def test_conv_with_four_inputs_from_a_file_is_not_onnx(tmp_path):
    proto = _conv_relu("1x1")
    proto.graph.node[0].input.extend(["x"])
    with pytest.raises(ModelError, match="at most 3"):
        _load(tmp_path, proto)
