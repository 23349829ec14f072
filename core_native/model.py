"""Loading a converted model: graph.json -> the native graph, plus what the GUI lists."""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import numpy as np

from . import _core
from .errors import ModelError

ProgressCallback = Callable[[int, int, str], None]

_NUMPY_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


@dataclass(frozen=True)
class LayerInfo:
    """A layer: the unit the user sees, loads and schedules."""

    index: int
    name: str
    op_types: Tuple[str, ...]
    weight_bytes: int
    nodes: Tuple[int, ...]


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: Optional[type]  # numpy scalar type, None if unknown
    shape: Optional[Tuple[Union[int, str], ...]]  # str entries are symbolic dimensions


class Model:
    """A converted model directory (graph.json + weights.bin), ready for sessions."""

    def __init__(self, model_dir: Union[str, os.PathLike], source: Optional[Path] = None):
        from .importer import read_graph_json

        self.model_dir = Path(model_dir)
        self.source = source
        doc = read_graph_json(self.model_dir)
        self.name: str = doc.get("name") or self.model_dir.name
        self.opset: int = int(doc.get("opset", 0))
        self.weights_path = self.model_dir / doc.get("weights_file", "weights.bin")
        if not self.weights_path.is_file():
            raise ModelError(f"weights file missing: {self.weights_path}; re-import the model")
        self._graph = _build_native_graph(doc)
        values = {v["name"]: v for v in doc["values"]}
        self.inputs: List[TensorInfo] = [_tensor_info(values.get(n, {"name": n})) for n in doc["inputs"]]
        self.outputs: List[TensorInfo] = [_tensor_info(values.get(n, {"name": n})) for n in doc["outputs"]]
        self.layers: List[LayerInfo] = [
            LayerInfo(i, l["name"], tuple(l.get("op_types", ())), int(l.get("weight_bytes", 0)),
                      tuple(l.get("nodes", ())))
            for i, l in enumerate(doc["layers"])
        ]
        self.op_types: Tuple[str, ...] = tuple(sorted({n["op_type"] for n in doc["nodes"]}))
        self.num_nodes = len(doc["nodes"])

    @property
    def weight_bytes(self) -> int:
        return sum(l.weight_bytes for l in self.layers)

    @property
    def native_graph(self):
        return self._graph

    def unsupported_op_types(self) -> List[str]:
        """Op types in this model the core has no kernel for."""
        return [op for op in self.op_types if not _core.has_kernel(op)]

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, layers={len(self.layers)}, nodes={self.num_nodes}, "
                f"weights={self.weight_bytes / 2**20:.1f} MiB)")


def _tensor_info(v: dict) -> TensorInfo:
    shape = v.get("shape")
    return TensorInfo(v["name"], _NUMPY_DTYPES.get(v.get("dtype", 0)),
                      None if shape is None else tuple(shape))


def _build_native_graph(doc: dict):
    try:
        b = _core.GraphBuilder(doc.get("name", ""), int(doc.get("opset", 0)))
        for v in doc["values"]:
            shape = v.get("shape")
            dims = [] if shape is None else [d if isinstance(d, int) else -1 for d in shape]
            params = [] if shape is None else [d if isinstance(d, str) else "" for d in shape]
            vid = b.add_value(v["name"], int(v.get("dtype", 0)), shape is not None, dims, params)
            c = v.get("constant")
            if c is not None:
                b.set_constant(vid, int(c["layer"]), int(c["offset"]), int(c["nbytes"]))
        for n in doc["nodes"]:
            idx = b.add_node(n["name"], n["op_type"], list(n["inputs"]), list(n["outputs"]),
                             int(n["layer"]))
            for key, a in n.get("attrs", {}).items():
                kind = a["type"]
                if kind == "tensor":
                    b.set_attr(idx, key, kind, base64.b64decode(a["data_b64"]), int(a["dtype"]),
                               list(a["shape"]))
                elif kind == "graph":
                    continue  # a subgraph: the op's kernel (if any) reports it unsupported
                else:
                    b.set_attr(idx, key, kind, a["value"])
        for l in doc["layers"]:
            b.add_layer(l["name"], list(l["nodes"]), int(l.get("weight_bytes", 0)))
        b.set_inputs(list(doc["inputs"]))
        b.set_outputs(list(doc["outputs"]))
        return b.finish()
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ModelError):
            raise
        raise ModelError(f"graph.json is malformed ({type(e).__name__}: {e}); re-import the model") from e


def load_model(path: Union[str, os.PathLike], progress: Optional[ProgressCallback] = None) -> Model:
    """Open an ONNX file (converted once, then cached) or an already converted model directory.

    Raises ModelError for missing, truncated or malformed files.
    """
    from .importer import cached_import

    p = Path(path)
    if p.is_dir():
        return Model(p)
    if not p.exists():
        raise ModelError(f"model file not found: {p}")
    return Model(cached_import(p, progress=progress), source=p)
