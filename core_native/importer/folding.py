"""Constant folding: evaluate at import time every deterministic node whose inputs are all
constants, so the core only ever sees the nodes that depend on runtime inputs.

Constant nodes become constants; Shape/Size of a value whose shape is fully known becomes a
constant even when the value itself is not. A node that cannot be evaluated is simply kept.
"""
from __future__ import annotations

import warnings
from typing import Callable, List, Optional

import numpy as np

from .constants import (STRING, Constant, constant_from_tensor_proto, contiguous, dtype_code,
                        np_dtype)
from .fold_ops import FAST_OPS, Fallback
from .ir import Graph, Node
from .shapes import static_shape

# Never evaluated: results would differ run to run, or are not plain tensors.
NOT_FOLDABLE = frozenset({
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
    "Bernoulli", "Dropout", "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty",
    "SequenceInsert", "SequenceErase", "SequenceAt", "SequenceLength", "SplitToSequence",
    "ConcatFromSequence", "SequenceMap", "Optional", "OptionalGetElement",
    "OptionalHasElement",
})


# A folded tensor is written to weights.bin. Past this size folding is more likely reading a
# damaged shape than making a real weight (VGG-19's largest, fc6, is 392 MiB): keep the node.
MAX_FOLDED_BYTES = 2 << 30


def _prod(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _too_big(g: Graph, node: Node, inputs) -> bool:
    """Would evaluating `node` create an output over MAX_FOLDED_BYTES? Checked before running
    it, so a bogus shape never gets the chance to allocate (or write) hundreds of GB."""
    try:
        for o in node.outputs:
            dtype, shape = g.inferred.get(o, (0, None)) if o else (0, None)
            if shape and all(isinstance(d, int) and d >= 0 for d in shape):
                itemsize = np_dtype(dtype).itemsize if dtype else 8
                if _prod(shape) * itemsize > MAX_FOLDED_BYTES:
                    return True
        op = node.op_type
        if op == "ConstantOfShape":
            n, itemsize = _prod(inputs[0].reshape(-1)), 4
            for a in node.proto.attribute:
                if a.name == "value":
                    itemsize = np_dtype(a.t.data_type).itemsize
        elif op == "Expand":
            n = _prod(np.broadcast_shapes(inputs[0].shape, tuple(inputs[1].reshape(-1))))
            itemsize = inputs[0].itemsize
        elif op == "Tile":
            n, itemsize = inputs[0].size * _prod(inputs[1].reshape(-1)), inputs[0].itemsize
        elif op == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(())) for v in inputs[:3])
            n = int(abs((limit - start) / delta)) if delta else 0
            itemsize = inputs[0].itemsize
        else:
            return False
        return n * itemsize > MAX_FOLDED_BYTES
    except Exception:
        return False  # evaluation itself will fail and keep the node


def _attrs(node: Node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.proto.attribute}


def _constant_node_value(node: Node, base_dir: str) -> Optional[Constant]:
    for a in node.proto.attribute:
        if a.name == "value":
            return constant_from_tensor_proto(a.t, base_dir)
        if a.name == "value_float":
            return Constant.from_array(np.array(a.f, dtype=np.float32))
        if a.name == "value_floats":
            return Constant.from_array(np.array(list(a.floats), dtype=np.float32))
        if a.name == "value_int":
            return Constant.from_array(np.array(a.i, dtype=np.int64))
        if a.name == "value_ints":
            return Constant.from_array(np.array(list(a.ints), dtype=np.int64))
    return None  # strings / sparse_value: left to the reference evaluator


def _reference_eval(node: Node, inputs: List[Optional[np.ndarray]], opset: int):
    """Run one node through onnx.reference (slow but covers every standard op)."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    feeds, vis = {}, []
    for name, arr in zip(node.inputs, inputs):
        if name and name not in feeds:
            arr = contiguous(arr)
            feeds[name] = arr
            vis.append(helper.make_tensor_value_info(name, dtype_code(arr.dtype), arr.shape))
    outs = [helper.make_empty_tensor_value_info(o) for o in node.outputs if o]
    graph = helper.make_graph([node.proto], "fold", vis, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = ReferenceEvaluator(model).run(None, feeds)
    return results


def _evaluate(node: Node, inputs, opset: int):
    fast = FAST_OPS.get(node.op_type)
    if fast is not None:
        try:
            return fast(inputs, _attrs(node), opset)
        except Fallback:
            pass
    return _reference_eval(node, inputs, opset)


def _as_constants(node: Node, results) -> Optional[dict]:
    produced = {}
    names = [o for o in node.outputs]
    if len(results) < len([o for o in names if o]):
        return None
    it = iter(results)
    for name in names:
        if not name:
            continue
        r = next(it)
        if isinstance(r, np.generic):
            r = np.asarray(r)
        if not isinstance(r, np.ndarray) or r.dtype == object:
            return None
        try:
            produced[name] = Constant.from_array(r)
        except Exception:  # a numpy dtype ONNX has no code for
            return None
    return produced


def fold_constants(g: Graph, base_dir: str, report: Optional[Callable[[str], None]] = None) -> bool:
    """One folding pass in topological order; True if anything changed."""
    changed = False
    kept: List[Node] = []
    total = len(g.nodes)
    for i, node in enumerate(g.nodes):
        if report and i % 256 == 0:
            report(f"folding constants ({i}/{total} nodes)")
        produced = _try_fold(g, node, base_dir)
        if produced is None:
            kept.append(node)
            continue
        g.constants.update(produced)
        changed = True
    g.nodes = kept
    return changed


def _try_fold(g: Graph, node: Node, base_dir: str) -> Optional[dict]:
    op = node.op_type
    if op == "Constant" and len(node.outputs) == 1:
        c = _constant_node_value(node, base_dir)
        if c is not None:
            return {node.outputs[0]: c}
    if op in NOT_FOLDABLE or node.implicit_inputs:
        return None
    live = [n for n in node.inputs if n]
    if op in ("Shape", "Size") and live and live[0] not in g.constants:
        shape = static_shape(g, live[0])
        if shape is None:
            return None
        # Only the shape matters, so a zero-strided stand-in is as good as the real tensor.
        inputs = [np.broadcast_to(np.zeros((), np.float32), shape)]
    else:
        if not live or any(n not in g.constants for n in live):
            return None
        if any(g.constants[n].dtype == STRING for n in live):
            return None
        try:
            inputs = [g.constants[n].array() if n else None for n in node.inputs]
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception:
            return None
    if _too_big(g, node, inputs):
        return None
    try:
        results = _evaluate(node, inputs, g.opset)
    except KeyboardInterrupt:
        raise
    except Exception:  # MemoryError included: an unfoldable node is simply kept
        return None
    return _as_constants(node, results)
