"""The ONNX importer: weights.bin layout, folding, layers, errors, cache and progress.

Pure Python (no native core needed): converted models are checked by parsing weights.bin
with struct and, for correctness, by rebuilding an ONNX model from graph.json + weights.bin
and comparing it with the original under onnxruntime.
"""
import base64
import glob
import json
import os
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tinyai_workbench.core_native import importer
from tinyai_workbench.core_native.errors import ModelError, UnsupportedOperatorError

ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data")
LIGHT = os.path.join(ONNX_DATA, "light")
REPO_CNN = Path(__file__).parent / "data" / "cnn"

HEADER = struct.Struct("<8sIIQQ")
ENTRY = struct.Struct("<QQII")


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------- helpers

def read_weights(model_dir):
    """Parse weights.bin with struct, checking every rule of weights_file.h; returns entries."""
    path = Path(model_dir) / "weights.bin"
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
        magic, version, num_layers, index_offset, file_size = HEADER.unpack_from(head)
        assert magic == b"TAIWGT01" and version == 1
        assert file_size == size
        assert head[HEADER.size:] == bytes(64 - HEADER.size)
        assert index_offset + num_layers * ENTRY.size == file_size
        f.seek(index_offset)
        entries = [ENTRY.unpack(f.read(ENTRY.size)) for _ in range(num_layers)]
        prev_end = 64
        for off, nbytes, crc, reserved in entries:
            assert reserved == 0
            assert off % 64 == 0 and off >= prev_end and off + nbytes <= index_offset
            f.seek(off)
            got, left = 0, nbytes
            while left:
                block = f.read(min(left, 16 << 20))
                got = zlib.crc32(block, got)
                left -= len(block)
            assert got == crc
            prev_end = off + nbytes
    return entries


def check_model_dir(model_dir):
    """graph.json agrees with weights.bin and FORMAT.md; returns (doc, entries)."""
    doc = importer.read_graph_json(model_dir)
    entries = read_weights(model_dir)
    assert len(entries) == len(doc["layers"])
    produced = {o for n in doc["nodes"] for o in n["outputs"] if o}
    values = {v["name"]: v for v in doc["values"]}
    first_use = {}
    for i, n in enumerate(doc["nodes"]):
        for name in n["inputs"]:
            if name:
                assert name in values
                first_use.setdefault(name, n["layer"])
    per_layer = [0] * len(entries)
    for v in doc["values"]:
        c = v.get("constant")
        if c is None:
            # Not a constant: produced by a node or a runtime input.
            assert v["name"] in produced or v["name"] in doc["inputs"], v["name"]
            continue
        off, nbytes, _, _ = entries[c["layer"]]
        assert c["offset"] % 64 == 0
        assert off <= c["offset"] and c["offset"] + c["nbytes"] <= off + nbytes
        assert all(isinstance(d, int) and d >= 0 for d in v["shape"])
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(v["dtype"])).itemsize
        assert c["nbytes"] == itemsize * int(np.prod(v["shape"], dtype=np.int64))
        if v["name"] in first_use:
            assert c["layer"] == first_use[v["name"]], v["name"]
        per_layer[c["layer"]] += c["nbytes"]
    assert per_layer == [layer["weight_bytes"] for layer in doc["layers"]]
    seen = sorted(i for layer in doc["layers"] for i in layer["nodes"])
    assert seen == list(range(len(doc["nodes"])))
    for li, layer in enumerate(doc["layers"]):
        for i in layer["nodes"]:
            assert doc["nodes"][i]["layer"] == li
    return doc, entries


def constants_of(model_dir):
    doc = importer.read_graph_json(model_dir)
    data = (Path(model_dir) / "weights.bin").read_bytes()
    out = {}
    for v in doc["values"]:
        c = v.get("constant")
        if c:
            dt = np.dtype(helper.tensor_dtype_to_np_dtype(v["dtype"])).newbyteorder("<")
            out[v["name"]] = np.frombuffer(data, dt, c["nbytes"] // dt.itemsize,
                                           c["offset"]).reshape(v["shape"])
    return out


def gelu_primitives(x, y, approximate="none"):
    """Gelu(x) -> y spelled with opset-13 ops (what the exporters write before opset 20)."""
    def const(name, value):
        return helper.make_node("Constant", [], [f"{y}::{name}"],
                                value=numpy_helper.from_array(np.array(value, np.float32)))

    def v(name):
        return f"{y}::{name}"
    nodes = [const("half", 0.5), const("one", 1.0)]
    if approximate == "tanh":
        nodes += [const("three", 3.0), const("c", 0.044715), const("k", (2 / np.pi) ** 0.5),
                  helper.make_node("Pow", [x, v("three")], [v("cube")]),
                  helper.make_node("Mul", [v("cube"), v("c")], [v("cc")]),
                  helper.make_node("Add", [x, v("cc")], [v("inner")]),
                  helper.make_node("Mul", [v("inner"), v("k")], [v("arg")]),
                  helper.make_node("Tanh", [v("arg")], [v("f")])]
    else:
        nodes += [const("root2", 2 ** 0.5),
                  helper.make_node("Div", [x, v("root2")], [v("arg")]),
                  helper.make_node("Erf", [v("arg")], [v("f")])]
    return nodes + [helper.make_node("Add", [v("f"), v("one")], [v("a")]),
                    helper.make_node("Mul", [x, v("a")], [v("xa")]),
                    helper.make_node("Mul", [v("xa"), v("half")], [y])]


def rebuild_onnx(model_dir):
    """An ONNX model equivalent to the converted directory (to compare under onnxruntime)."""
    doc = importer.read_graph_json(model_dir)
    vals = {v["name"]: v for v in doc["values"]}

    def vi(name):
        shape = vals[name]["shape"]
        dims = None if shape is None else [d if isinstance(d, int) else None for d in shape]
        return helper.make_tensor_value_info(name, vals[name]["dtype"], dims)

    nodes = []
    for n in doc["nodes"]:
        # A Conv with what the importer fused into it (importer/conv_fusion.py) is spelled out
        # again as ONNX: Conv(X, W, B) -> [Add(., Z)] -> [Relu].
        unfused = []
        if n["op_type"] == "Conv" and (len(n["inputs"]) > 3 or "activation" in n["attrs"]):
            attrs = dict(n["attrs"])
            activation = attrs.pop("activation", None)
            value = n["outputs"][0]
            if activation:
                unfused.insert(0, helper.make_node(activation["value"], [value + "::pre_act"], [value]))
                value += "::pre_act"
            if len(n["inputs"]) > 3:
                unfused.insert(0, helper.make_node("Add", [value + "::conv", n["inputs"][3]], [value]))
                value += "::conv"
            inputs = [i for i in n["inputs"][:3]]
            while inputs and not inputs[-1]:
                inputs.pop()
            n = dict(n, inputs=inputs, outputs=[value], attrs=attrs)
        if n["op_type"] == "MatMul" and len(n["inputs"]) > 2:
            # MatMul(A, B, bias) (importer/transformer_fusion.py): MatMul -> Add(bias).
            value = n["outputs"][0]
            unfused.insert(0, helper.make_node("Add", [value + "::mm", n["inputs"][2]], [value]))
            n = dict(n, inputs=n["inputs"][:2], outputs=[value + "::mm"])
        if n["op_type"] == "Gelu" and doc["opset"] < 20:
            # The importer writes Gelu whatever the model's opset; onnxruntime knows it from 20.
            nodes.extend(gelu_primitives(n["inputs"][0], n["outputs"][0],
                                         n["attrs"].get("approximate", {}).get("value", "none")))
            continue
        node = helper.make_node(n["op_type"], n["inputs"], n["outputs"], name=n["name"])
        for key, a in n["attrs"].items():
            t, val = a["type"], a.get("value")
            if t == "tensor":
                arr = np.frombuffer(base64.b64decode(a["data_b64"]),
                                    helper.tensor_dtype_to_np_dtype(a["dtype"]))
                attr = helper.make_attribute(key, numpy_helper.from_array(
                    arr.reshape(a["shape"]).copy()))
            elif t == "string":
                attr = helper.make_attribute(key, val.encode())
            elif t == "strings":
                attr = helper.make_attribute(key, [s.encode() for s in val])
            elif t in ("ints", "floats"):
                kind = onnx.AttributeProto.INTS if t == "ints" else onnx.AttributeProto.FLOATS
                attr = helper.make_attribute(key, val, attr_type=kind)
            else:
                attr = helper.make_attribute(key, val)
            node.attribute.append(attr)
        nodes.append(node)
        nodes.extend(unfused)
    inits = [numpy_helper.from_array(a.copy(), k) for k, a in constants_of(model_dir).items()]
    graph = helper.make_graph(nodes, doc["name"], [vi(i) for i in doc["inputs"]],
                              [vi(o) for o in doc["outputs"]], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", doc["opset"])])
    model.ir_version = 8
    return model


def small_model(nodes, inputs, outputs, initializers=(), opset=13, **kw):
    graph = helper.make_graph(nodes, "small", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)
    model.ir_version = 8
    return model


def conv_relu_model(rng=np.random.default_rng(0)):
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    fc = rng.standard_normal((8, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Relu", ["x"], ["x0"], name="pre"),
        helper.make_node("Conv", ["x0", "conv1.weight", "conv1.bias"], ["c"], name="conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "fc.weight"], ["y"], name="fc"),
    ]
    inits = [numpy_helper.from_array(w, "conv1.weight"), numpy_helper.from_array(b, "conv1.bias"),
             numpy_helper.from_array(fc, "fc.weight")]
    model = small_model(
        nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], inits)
    return model, {"conv1.weight": w, "conv1.bias": b, "fc.weight": fc}


def run_ort(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


# ----------------------------------------------------------------------------- layout

def test_weights_file_layout_and_graph_json(tmp_path):
    model, weights = conv_relu_model()
    onnx.save(model, tmp_path / "m.onnx")
    out = importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    assert out == tmp_path / "out"
    assert sorted(os.listdir(out)) == ["graph.json", "weights.bin"]
    doc, entries = check_model_dir(out)

    assert doc["format"] == "tinyai-graph" and doc["version"] == 1
    assert doc["weights_file"] == "weights.bin" and doc["opset"] == 13
    assert doc["source_sha256"] == __import__("hashlib").sha256(
        (tmp_path / "m.onnx").read_bytes()).hexdigest()
    assert doc["inputs"] == ["x"] and doc["outputs"] == ["y"]
    # The leading weight-free Relu forms the "input" layer: an empty blob, crc 0.
    assert [l["name"] for l in doc["layers"]] == ["input", "conv1", "fc"]
    # The Relu after the Conv is fused into it (importer/conv_fusion.py).
    assert doc["layers"][1]["op_types"] == ["Conv", "GlobalAveragePool", "Flatten"]
    assert doc["nodes"][1]["attrs"]["activation"] == {"type": "string", "value": "Relu"}
    assert entries[0][1] == 0 and entries[0][2] == 0 and entries[0][0] == 64
    assert doc["layers"][1]["weight_bytes"] == weights["conv1.weight"].nbytes + 32
    x = {v["name"]: v for v in doc["values"]}["x"]
    assert x["dtype"] == 1 and x["shape"] == ["n", 3, 6, 6] and "constant" not in x
    conv = doc["nodes"][1]
    assert conv["attrs"]["pads"] == {"type": "ints", "value": [1, 1, 1, 1]}
    consts = constants_of(out)
    for name, arr in weights.items():
        np.testing.assert_array_equal(consts[name], arr)

    feeds = {"x": np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)}
    np.testing.assert_allclose(run_ort(rebuild_onnx(out), feeds)[0],
                               run_ort(model, feeds)[0], rtol=1e-6)


def test_constant_dtypes_are_kept_as_onnx_codes(tmp_path):
    arrays = {"f64": np.arange(6, dtype=np.float64).reshape(2, 3),
              "f16": np.arange(4, dtype=np.float16), "i32": np.arange(3, dtype=np.int32),
              "i64": np.array([7, -1], dtype=np.int64), "b": np.array([True, False])}
    nodes = [helper.make_node("Identity", [k], [k + "_out"]) for k in arrays]
    # Identity of a constant folds; the folded outputs are graph outputs, so they stay.
    model = small_model(nodes, [], [helper.make_tensor_value_info(k + "_out", 0, None)
                                    for k in arrays],
                        [numpy_helper.from_array(a, k) for k, a in arrays.items()])
    onnx.save(model, tmp_path / "m.onnx")
    out = importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    doc, _ = check_model_dir(out)
    assert doc["nodes"] == []
    codes = {v["name"]: v["dtype"] for v in doc["values"]}
    assert codes == {"f64_out": 11, "f16_out": 10, "i32_out": 6, "i64_out": 7, "b_out": 9}
    consts = constants_of(out)
    for k, a in arrays.items():
        np.testing.assert_array_equal(consts[k + "_out"], a)


# ----------------------------------------------------------------------------- real models

def test_light_resnet50(tmp_path):
    out = importer.import_onnx(os.path.join(LIGHT, "light_resnet50.onnx"), tmp_path / "r50")
    doc, _ = check_model_dir(out)
    # Weights listed as graph inputs (caffe2 style) are constants, not runtime inputs.
    assert doc["inputs"] == ["gpu_0/data_0"]
    assert not any(n["op_type"] == "ConstantOfShape" for n in doc["nodes"])
    names = [l["name"] for l in doc["layers"]]
    assert names[:3] == ["conv1", "res2_0_branch2a", "res2_0_branch2b"]
    assert len(names) == len(set(names)) == 54  # 53 convs + the final fc
    # BatchNormalization is folded into the conv before it (importer/bn_folding.py), and every
    # Relu that follows a conv into it (importer/conv_fusion.py); the 16 residual Sums and the
    # Relus after them stay.
    assert doc["layers"][0]["op_types"] == ["Conv", "MaxPool"]
    ops = [n["op_type"] for n in doc["nodes"]]
    assert ops.count("Sum") == 16 and ops.count("Relu") == 16
    assert all(len(n["inputs"]) <= 3 for n in doc["nodes"] if n["op_type"] == "Conv")
    assert not any(n["op_type"] == "BatchNormalization" for n in doc["nodes"])
    total = sum(l["weight_bytes"] for l in doc["layers"])
    assert 100e6 < total < 104e6  # ResNet-50: 25.6 M float params
    assert all(v["shape"] is not None for v in doc["values"])


def test_light_vgg19_streams_548_mib_of_generated_weights(tmp_path):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = importer.import_onnx(os.path.join(LIGHT, "light_vgg19.onnx"), tmp_path / "vgg")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    doc, _ = check_model_dir(out)
    float_bytes = sum(v["constant"]["nbytes"] for v in doc["values"]
                      if "constant" in v and v["dtype"] == TensorProto.FLOAT)
    assert float_bytes == 143_667_240 * 4  # every VGG-19 parameter, folded from ConstantOfShape
    assert [l["name"] for l in doc["layers"]][-3:] == ["fc6", "fc7", "fc8"]
    # ConstantOfShape weights are written from a broadcast view: never all in RAM at once.
    assert peak < 150 << 20, f"peak traced memory {peak >> 20} MiB"
    fc6 = {v["name"]: v for v in doc["values"]}["fc6_w_0"]
    assert fc6["shape"] == [4096, 25088]
    with open(out / "weights.bin", "rb") as f:
        f.seek(fc6["constant"]["offset"] + fc6["constant"]["nbytes"] - 4)
        assert struct.unpack("<f", f.read(4))[0] == pytest.approx(0.02)
    assert elapsed < 60


@pytest.mark.parametrize("path", sorted(glob.glob(str(REPO_CNN / "*.onnx")))
                         + [os.path.join(ONNX_DATA, "pytorch-converted", "test_Conv2d",
                                         "model.onnx")],
                         ids=lambda p: Path(p).stem if "cnn" in p else Path(p).parent.name)
def test_converted_model_matches_onnxruntime(tmp_path, path):
    out = importer.import_onnx(path, tmp_path / "out")
    doc, _ = check_model_dir(out)
    sess_inputs = {v["name"]: v for v in doc["values"] if v["name"] in doc["inputs"]}
    rng = np.random.default_rng(0)
    feeds = {name: rng.standard_normal([d if isinstance(d, int) else 2 for d in v["shape"]])
             .astype(np.float32) for name, v in sess_inputs.items()}
    ref = run_ort(path, feeds)
    got = run_ort(rebuild_onnx(out), feeds)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- folding

def test_folding_shape_chain_and_constant_nodes(tmp_path):
    # Shape(x) of a static input -> Gather -> Unsqueeze -> Concat -> Reshape target: all folds,
    # as do Constant nodes; the dead Relu that only fed Shape disappears.
    nodes = [
        helper.make_node("Relu", ["x"], ["xr"]),
        helper.make_node("Shape", ["xr"], ["s"]),
        helper.make_node("Constant", [], ["idx"], value_int=0),
        helper.make_node("Gather", ["s", "idx"], ["n"]),
        helper.make_node("Constant", [], ["ax"], value_ints=[0]),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
        helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
        helper.make_node("Mul", ["y", "two"], ["z"]),
        helper.make_node("ConstantOfShape", ["cshape"], ["big"],
                         value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("MatMul", ["z", "big"], ["out"]),
    ]
    model = small_model(
        nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(2.0, np.float32), "two"),
         numpy_helper.from_array(np.array([12, 5], np.int64), "cshape")])
    onnx.save(model, tmp_path / "m.onnx")
    out = importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    doc, _ = check_model_dir(out)
    assert [n["op_type"] for n in doc["nodes"]] == ["Reshape", "Mul", "MatMul"]
    consts = constants_of(out)
    np.testing.assert_array_equal(consts["shape"], [2, -1])
    np.testing.assert_array_equal(consts["big"], np.full((12, 5), 0.5, np.float32))
    assert "s" not in consts and "idx" not in consts  # nothing reads them any more
    # Shapes are recorded for values after folding.
    assert {v["name"]: v["shape"] for v in doc["values"]}["out"] == [2, 5]
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(run_ort(rebuild_onnx(out), {"x": x})[0],
                               run_ort(model, {"x": x})[0], rtol=1e-6)


def test_random_ops_are_not_folded(tmp_path):
    nodes = [helper.make_node("RandomNormal", [], ["r"], shape=[2, 2], seed=1.0),
             helper.make_node("Add", ["x", "r"], ["y"])]
    model = small_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    onnx.save(model, tmp_path / "m.onnx")
    doc, _ = check_model_dir(importer.import_onnx(tmp_path / "m.onnx", tmp_path / "o"))
    assert [n["op_type"] for n in doc["nodes"]] == ["RandomNormal", "Add"]


def test_unsorted_unnamed_nodes_get_sorted_and_named(tmp_path):
    nodes = [helper.make_node("Relu", ["a"], ["y"]), helper.make_node("Neg", ["x"], ["a"]),
             helper.make_node("Relu", ["x"], ["unused"], name="dead")]
    model = small_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    onnx.save(model, tmp_path / "m.onnx")
    doc, _ = check_model_dir(importer.import_onnx(tmp_path / "m.onnx", tmp_path / "o"))
    assert [(n["name"], n["op_type"]) for n in doc["nodes"]] == [("Neg_1", "Neg"),
                                                                  ("Relu_0", "Relu")]
    assert [l["name"] for l in doc["layers"]] == ["input"]


def test_control_flow_attributes_are_marked_graph(tmp_path):
    branch = helper.make_graph([helper.make_node("Add", ["x", "k"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Sub", ["x", "k"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)]
    model = small_model(
        nodes, [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.ones(2, np.float32), "k")])
    onnx.save(model, tmp_path / "m.onnx")
    doc, _ = check_model_dir(importer.import_onnx(tmp_path / "m.onnx", tmp_path / "o"))
    (node,) = doc["nodes"]
    assert node["attrs"] == {"then_branch": {"type": "graph"}, "else_branch": {"type": "graph"}}
    assert "k" in constants_of(tmp_path / "o")  # captured by the branches: still needed


# ----------------------------------------------------------------------------- external data

def test_external_data_round_trip(tmp_path):
    model, weights = conv_relu_model()
    src = tmp_path / "src"
    src.mkdir()
    onnx.save(model, src / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.data", size_threshold=0)
    assert (src / "m.data").exists()
    out = importer.import_onnx(src / "m.onnx", tmp_path / "out")
    check_model_dir(out)
    consts = constants_of(out)
    for name, arr in weights.items():
        np.testing.assert_array_equal(consts[name], arr)


def test_missing_external_data_file_is_named(tmp_path):
    model, _ = conv_relu_model()
    onnx.save(model, tmp_path / "m.onnx", save_as_external_data=True, location="gone.data",
              size_threshold=0)
    os.remove(tmp_path / "gone.data")
    with pytest.raises(ModelError, match="gone.data"):
        importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temp dir left behind


def test_truncated_external_data_file(tmp_path):
    model, _ = conv_relu_model()
    onnx.save(model, tmp_path / "m.onnx", save_as_external_data=True, location="m.data",
              size_threshold=0)
    data = (tmp_path / "m.data").read_bytes()
    (tmp_path / "m.data").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="m.data"):
        importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")


# ----------------------------------------------------------------------------- bad files

def _expect_not_a_model(tmp_path, payload: bytes):
    (tmp_path / "bad.onnx").write_bytes(payload)
    with pytest.raises(ModelError) as info:
        importer.import_onnx(tmp_path / "bad.onnx", tmp_path / "out")
    assert "ONNX model" in str(info.value) or "truncated" in str(info.value)
    assert not (tmp_path / "out").exists()
    return info.value


def test_truncated_model_file(tmp_path):
    raw = Path(LIGHT, "light_resnet50.onnx").read_bytes()
    for cut in (len(raw) // 3, len(raw) - 7, 10):
        _expect_not_a_model(tmp_path, raw[:cut])


def test_random_bytes(tmp_path):
    _expect_not_a_model(tmp_path, np.random.default_rng(3).bytes(4096))


def test_tensor_proto_is_not_a_model(tmp_path):
    t = numpy_helper.from_array(np.arange(100, dtype=np.float32).reshape(10, 10), "t")
    err = _expect_not_a_model(tmp_path, t.SerializeToString())
    assert "not an ONNX model" in str(err)


def test_model_without_nodes(tmp_path):
    empty = onnx.ModelProto(ir_version=8)
    empty.opset_import.add(domain="", version=13)
    assert "not an ONNX model" in str(_expect_not_a_model(tmp_path, empty.SerializeToString()))


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        importer.import_onnx(tmp_path / "nope.onnx", tmp_path / "out")


def test_foreign_domain_is_unsupported(tmp_path):
    nodes = [helper.make_node("FusedConv", ["x"], ["y"], domain="com.microsoft")]
    model = small_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model.opset_import.add(domain="com.microsoft", version=1)
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(UnsupportedOperatorError) as info:
        importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    assert info.value.op_type == "FusedConv" and info.value.node_name == "FusedConv_0"
    assert "com.microsoft::FusedConv" in str(info.value)


def test_cycle_and_undefined_values(tmp_path):
    nodes = [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Add", ["x", "b"], ["y"])]
    model = small_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="cycle"):
        importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"])]
    model = small_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(model, tmp_path / "m2.onnx")
    with pytest.raises(ModelError, match="ghost"):
        importer.import_onnx(tmp_path / "m2.onnx", tmp_path / "out")


def test_read_graph_json_errors(tmp_path):
    with pytest.raises(ModelError, match="not a converted model"):
        importer.read_graph_json(tmp_path)
    (tmp_path / "graph.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot be read"):
        importer.read_graph_json(tmp_path)
    (tmp_path / "graph.json").write_text(json.dumps({"format": "tinyai-graph", "version": 99}))
    with pytest.raises(ModelError, match="version 99"):
        importer.read_graph_json(tmp_path)
    (tmp_path / "graph.json").write_text(json.dumps({"format": "tinyai-graph", "version": 1}))
    with pytest.raises(ModelError, match="'name'"):
        importer.read_graph_json(tmp_path)


# ----------------------------------------------------------------------------- output dir

def test_reimport_replaces_previous_import_but_not_foreign_dirs(tmp_path):
    model, _ = conv_relu_model()
    onnx.save(model, tmp_path / "m.onnx")
    out = importer.import_onnx(tmp_path / "m.onnx", tmp_path / "out")
    importer.import_onnx(tmp_path / "m.onnx", out)  # over a previous import: fine
    check_model_dir(out)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        importer.import_onnx(tmp_path / "m.onnx", tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "mine", "out"]


# ----------------------------------------------------------------------------- cache, progress

def test_cached_import_reuses_without_parsing(tmp_path, monkeypatch):
    model, _ = conv_relu_model()
    onnx.save(model, tmp_path / "m.onnx", save_as_external_data=True, location="m.data",
              size_threshold=0)
    first = importer.cached_import(tmp_path / "m.onnx")
    assert first.parent.parent == tmp_path / "cache" and first.parent.name.startswith("models-r")
    check_model_dir(first)

    def no_parsing(*a, **k):
        raise AssertionError("onnx.load called for a cached model")

    monkeypatch.setattr(onnx, "load", no_parsing)
    monkeypatch.setattr(onnx, "load_model", no_parsing)
    assert importer.cached_import(tmp_path / "m.onnx") == first
    monkeypatch.undo()
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))

    # Changing only the external data changes the cache key.
    data = bytearray((tmp_path / "m.data").read_bytes())
    data[:4] = struct.pack("<f", 42.0)
    (tmp_path / "m.data").write_bytes(bytes(data))
    second = importer.cached_import(tmp_path / "m.onnx")
    assert second != first
    assert constants_of(second)["conv1.weight"].reshape(-1)[0] == 42.0


def test_cached_import_repairs_a_damaged_entry(tmp_path):
    model, _ = conv_relu_model()
    onnx.save(model, tmp_path / "m.onnx")
    first = importer.cached_import(tmp_path / "m.onnx")
    with open(first / "weights.bin", "r+b") as f:
        f.truncate(100)
    assert importer.cached_import(tmp_path / "m.onnx") == first
    check_model_dir(first)


def test_progress_reports_monotonic_bytes(tmp_path):
    calls = []
    importer.import_onnx(os.path.join(LIGHT, "light_squeezenet.onnx"), tmp_path / "sq",
                         progress=lambda d, t, m: calls.append((d, t, m)))
    done = [d for d, _, _ in calls]
    assert done == sorted(done)
    assert any(m.startswith("folding") for _, _, m in calls)
    total = max(t for _, t, _ in calls)
    assert total == sum(l["weight_bytes"] for l in importer.read_graph_json(tmp_path / "sq")
                        ["layers"])
    assert calls[-1] == (total, total, "done")
    assert sum(1 for d, t, _ in calls if 0 < d < t) > 10


def test_tqdm_progress_callback(tmp_path, capsys):
    bar = importer.tqdm_progress("import")
    importer.import_onnx(os.path.join(LIGHT, "light_squeezenet.onnx"), tmp_path / "sq",
                         progress=bar)
    assert "import" in capsys.readouterr().err


def test_damaged_files_only_raise_model_error(tmp_path):
    # Random truncations and byte flips: the importer must answer with ModelError (or import
    # a still-valid model), never a raw DecodeError/KeyError/UnicodeError, and never write a
    # runaway weights file from a damaged shape.
    import random

    rng = random.Random(1234)
    sources = [Path(LIGHT, "light_squeezenet.onnx").read_bytes(),
               Path(ONNX_DATA, "pytorch-converted", "test_Conv2d", "model.onnx").read_bytes()]
    for i in range(150):
        raw = bytearray(rng.choice(sources))
        if i % 3 == 0:
            raw = raw[: rng.randrange(len(raw))]
        else:
            for _ in range(1 if i % 3 == 1 else 20):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        (tmp_path / "d.onnx").write_bytes(bytes(raw))
        out = tmp_path / f"out{i}"
        try:
            importer.import_onnx(tmp_path / "d.onnx", out)
        except ModelError:
            assert not out.exists()
            continue
        assert (out / "weights.bin").stat().st_size < 64 << 20
