"""Helpers for the data-movement and pooling op tests: small ONNX graphs built with
onnx.helper, run through tinyai and onnxruntime and compared output by output."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import tinyai_workbench as tw

try:
    from .onnx_reference import assert_close, ort_run
except ImportError:  # tests/ collected as rootdir-relative modules (no tests/__init__.py)
    from onnx_reference import assert_close, ort_run

RTOL, ATOL = 1e-4, 1e-5

FLOAT, INT32, INT64, BOOL = np.float32, np.int32, np.int64, np.bool_


def make_model(nodes, inputs: dict, outputs: dict, *, initializers: dict | None = None,
               opset: int = 13, symbolic: bool = False) -> onnx.ModelProto:
    """`inputs`: name -> array (graph inputs, fed at run time); `outputs`: name -> numpy
    dtype; `initializers`: name -> array. `symbolic` declares input dims as named symbols so
    the importer cannot fold shape queries on them."""
    if isinstance(nodes, onnx.NodeProto):
        nodes = [nodes]
    vis = []
    for name, arr in inputs.items():
        shape = [f"{name}_d{i}" for i in range(arr.ndim)] if symbolic else list(arr.shape)
        vis.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype),
                                                 shape))
    outs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), None)
            for n, dt in outputs.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    graph = helper.make_graph(list(nodes), "g", vis, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 19 else 9
    return model


def run_tinyai(model: onnx.ModelProto, feeds: dict, tmp_path: Path) -> dict:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return tw.Session(tw.load_model(path)).run(feeds)


def check(model: onnx.ModelProto, feeds: dict, tmp_path: Path, rtol=RTOL, atol=ATOL,
          expected: dict | None = None) -> dict:
    """Compares every graph output with onnxruntime (or with `expected` where onnxruntime
    has no kernel for the variant)."""
    want = expected if expected is not None else ort_run(model, feeds)
    got = run_tinyai(model, feeds, tmp_path)
    for out in model.graph.output:
        assert got[out.name].dtype == want[out.name].dtype, \
            f"{out.name}: dtype {got[out.name].dtype} != {want[out.name].dtype}"
        assert_close(got[out.name], want[out.name], rtol=rtol, atol=atol,
                     what=f"{model.graph.node[-1].op_type}:{out.name}")
    return got


def check_unsupported(model: onnx.ModelProto, feeds: dict, tmp_path: Path, op_type: str):
    """The model is rejected (at load or at run) with UnsupportedOperatorError naming the op."""
    with pytest.raises(tw.UnsupportedOperatorError) as info:
        run_tinyai(model, feeds, tmp_path)
    assert info.value.op_type == op_type
    assert op_type in str(info.value)


def run_native_nodes(tmp_path: Path, nodes: list, outputs: dict) -> dict:
    """Runs hand-written graph.json nodes that the importer would fold away (e.g. Constant):
    a trivial model is imported, then its graph is replaced. `outputs`: name -> onnx dtype."""
    x = np.zeros(1, np.float32)
    seed = make_model(helper.make_node("Identity", ["x"], ["unused"]), {"x": x},
                      {"unused": np.float32})
    src = tmp_path / "seed.onnx"
    onnx.save(seed, str(src))
    model_dir = tmp_path / "native"
    shutil.copytree(tw.load_model(src).model_dir, model_dir)
    doc = json.loads((model_dir / "graph.json").read_text())
    doc["values"] = [{"name": "x", "dtype": 1, "shape": [1]}] + [
        {"name": n, "dtype": dt, "shape": None} for n, dt in outputs.items()]
    doc["outputs"] = list(outputs)
    for n in nodes:
        n.setdefault("layer", 0)
        n.setdefault("attrs", {})
    doc["nodes"] = nodes
    doc["layers"][0]["nodes"] = list(range(len(nodes)))
    doc["layers"][0]["op_types"] = [n["op_type"] for n in nodes]
    (model_dir / "graph.json").write_text(json.dumps(doc))
    return tw.Session(tw.load_model(model_dir)).run({"x": x})
