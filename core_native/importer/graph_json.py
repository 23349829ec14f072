"""graph.json (see core_native/FORMAT.md): build it from the imported graph, and read it back
with validation so a damaged or foreign file fails with a clear ModelError."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Dict, List

from ..errors import ModelError
from .ir import Graph
from .layers import Layer
from .constants import contiguous
from .weights_writer import Placement

FORMAT = "tinyai-graph"
VERSION = 1
GRAPH_FILE = "graph.json"
WEIGHTS_FILE = "weights.bin"


def _float(x: float) -> float:
    # Strict JSON has no NaN/Inf (e.g. Clip bounds); Python's json writes and reads its own
    # spelling, and the Python facade is what reads this file.
    return float(x)


def encode_attr(attr) -> dict:
    from onnx import AttributeProto as A
    from onnx import numpy_helper

    t = attr.type
    if t == A.INT:
        return {"type": "int", "value": int(attr.i)}
    if t == A.FLOAT:
        return {"type": "float", "value": _float(attr.f)}
    if t == A.STRING:
        return {"type": "string", "value": attr.s.decode("utf-8", "replace")}
    if t == A.INTS:
        return {"type": "ints", "value": [int(v) for v in attr.ints]}
    if t == A.FLOATS:
        return {"type": "floats", "value": [_float(v) for v in attr.floats]}
    if t == A.STRINGS:
        return {"type": "strings", "value": [s.decode("utf-8", "replace") for s in attr.strings]}
    if t == A.TENSOR:
        arr = contiguous(numpy_helper.to_array(attr.t))
        if arr.dtype == object:
            return _unrepresentable("STRING_TENSOR")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        return {"type": "tensor", "dtype": int(attr.t.data_type), "shape": list(arr.shape),
                "data_b64": base64.b64encode(arr.tobytes()).decode("ascii")}
    if t in (A.GRAPH, A.GRAPHS):
        # Control flow is not executed by the core; it reports the node as unsupported.
        return {"type": "graph"}
    return _unrepresentable(A.AttributeType.Name(t))


def _unrepresentable(onnx_type: str) -> dict:
    # Sparse tensors, type protos, string tensors: no op the core implements takes them, so
    # they travel like subgraphs (readers skip "graph" attrs and the op reports unsupported).
    return {"type": "graph", "onnx_type": onnx_type}


def _encode_checked(node, attr) -> dict:
    try:
        return encode_attr(attr)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:
        raise ModelError(f"attribute '{attr.name}' of node '{node.name}' ({node.op_type}) "
                         f"cannot be decoded ({e}); the model file is damaged") from None


def build(g: Graph, layers: List[Layer], placements: Dict[str, Placement],
          source_sha256: str) -> dict:
    node_layer = {}
    for li, layer in enumerate(layers):
        for ni in layer.nodes:
            node_layer[ni] = li
    values, seen = [], set()

    def declare(name):
        if not name or name in seen:
            return
        seen.add(name)
        dtype, shape = g.type_of(name)
        v = {"name": name, "dtype": int(dtype), "shape": shape}
        if name in placements:
            li, off, nbytes = placements[name]
            v["constant"] = {"layer": li, "offset": off, "nbytes": nbytes}
        values.append(v)

    for name in g.inputs:
        declare(name)
    nodes = []
    for i, n in enumerate(g.nodes):
        for name in n.all_inputs():
            declare(name)
        for name in n.outputs:
            declare(name)
        nodes.append({
            "name": n.name, "op_type": n.op_type, "inputs": list(n.inputs),
            "outputs": list(n.outputs), "layer": node_layer[i],
            "attrs": {a.name: _encode_checked(n, a) for a in n.proto.attribute},
        })
    for name in g.outputs:
        declare(name)
    return {
        "format": FORMAT, "version": VERSION, "name": g.name, "producer": g.producer,
        "source_sha256": source_sha256, "opset": g.opset, "weights_file": WEIGHTS_FILE,
        "values": values, "inputs": list(g.inputs), "outputs": list(g.outputs),
        "nodes": nodes,
        "layers": [{"name": l.name, "op_types": l.op_types, "nodes": l.nodes,
                    "weight_bytes": l.weight_bytes} for l in layers],
    }


def write(doc: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())


_REQUIRED = {"format": str, "version": int, "name": str, "weights_file": str, "values": list,
             "inputs": list, "outputs": list, "nodes": list, "layers": list}


def read_graph_json(model_dir) -> dict:
    """Load and validate model_dir/graph.json; ModelError says what is wrong."""
    path = Path(model_dir) / GRAPH_FILE
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ModelError(f"{model_dir} is not a converted model directory (no {GRAPH_FILE}); "
                         f"import the .onnx file first") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{path} cannot be read: {e}; re-import the model") from None

    def bad(why):
        return ModelError(f"{path} is not a valid converted model: {why}; re-import the model")

    if not isinstance(doc, dict):
        raise bad("the top level is not an object")
    if doc.get("format") != FORMAT:
        raise bad(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise bad(f"version {doc.get('version')!r} is not supported (this build reads "
                  f"version {VERSION})")
    for key, typ in _REQUIRED.items():
        if not isinstance(doc.get(key), typ):
            raise bad(f"'{key}' is missing or not a {typ.__name__}")
    names = set()
    for v in doc["values"]:
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            raise bad("a value has no name")
        names.add(v["name"])
    nlayers = len(doc["layers"])
    for n in doc["nodes"]:
        if not isinstance(n, dict) or not all(k in n for k in ("name", "op_type", "inputs",
                                                                 "outputs", "layer")):
            raise bad("a node lacks name/op_type/inputs/outputs/layer")
        if not isinstance(n["layer"], int) or not 0 <= n["layer"] < nlayers:
            raise bad(f"node '{n['name']}' refers to layer {n['layer']!r}")
        for ref in list(n["inputs"]) + list(n["outputs"]):
            if ref and ref not in names:
                raise bad(f"node '{n['name']}' refers to undeclared value '{ref}'")
    for layer in doc["layers"]:
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str) \
                or not isinstance(layer.get("nodes"), list):
            raise bad("a layer lacks name/nodes")
    for ref in doc["inputs"] + doc["outputs"]:
        if ref not in names:
            raise bad(f"graph input/output '{ref}' is not declared in values")
    return doc
