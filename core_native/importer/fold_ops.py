"""Fast numpy evaluation of the ops constant folding meets most often (shape arithmetic and
weight generation). Each returns the node's outputs; raising Fallback hands the node to the
onnx reference evaluator instead. Semantics follow the ONNX spec for the model's opset."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np

Arrays = List[Optional[np.ndarray]]


class Fallback(Exception):
    """This variant is not handled here; use the reference evaluator."""


def _tensor_attr(t) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(t)


def _ints(a) -> List[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _axes(inputs: Arrays, attrs: dict, opset: int, since: int, idx: int = 1):
    """Axes from an attribute (before opset `since`) or from input `idx` (from it on)."""
    if opset >= since:
        return _ints(inputs[idx]) if len(inputs) > idx and inputs[idx] is not None else None
    return list(attrs["axes"]) if "axes" in attrs else None


def constant_of_shape(inputs, attrs, opset):
    shape = tuple(_ints(inputs[0]))
    value = _tensor_attr(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    # A broadcast view: the weights of the onnx "light" models are 500 MB of one number, and
    # the weights writer streams such views without ever materialising them.
    return [np.broadcast_to(value.reshape(-1)[0], shape)]


def shape_op(inputs, attrs, opset):
    dims = np.array(inputs[0].shape, dtype=np.int64)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    return [dims[slice(start, end)].copy()]


def size_op(inputs, attrs, opset):
    return [np.array(inputs[0].size, dtype=np.int64)]


def gather(inputs, attrs, opset):
    data, idx = inputs[0], np.asarray(inputs[1]).astype(np.int64)
    axis = attrs.get("axis", 0)
    axis = axis + data.ndim if axis < 0 else axis
    dim = data.shape[axis]
    if np.any(idx >= dim) or np.any(idx < -dim):
        raise ValueError("Gather index out of range")
    return [np.take(data, np.where(idx < 0, idx + dim, idx), axis=axis)]


def unsqueeze(inputs, attrs, opset):
    x = inputs[0]
    axes = _axes(inputs, attrs, opset, 13)
    if axes is None:
        raise Fallback()
    rank = x.ndim + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    for a in axes:
        x = np.expand_dims(x, a)
    return [x]


def squeeze(inputs, attrs, opset):
    x = inputs[0]
    axes = _axes(inputs, attrs, opset, 13)
    if axes is None:
        return [np.squeeze(x)]
    axes = tuple(a + x.ndim if a < 0 else a for a in axes)
    return [np.squeeze(x, axis=axes)]


def concat(inputs, attrs, opset):
    xs = [x for x in inputs if x is not None]
    # Concat-1 (opset < 4) defaulted to axis 1; later versions require the attribute.
    return [np.concatenate(xs, axis=attrs.get("axis", 1 if opset < 4 else 0))]


def cast(inputs, attrs, opset):
    from .constants import FLOAT_TYPES, np_dtype

    to = attrs["to"]
    if to not in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13):
        raise Fallback()  # strings, bfloat16, float8...: the reference knows the rounding
    x = inputs[0]
    if x.dtype.kind == "f" and to not in FLOAT_TYPES and to != 9 and not np.all(np.isfinite(x)):
        raise Fallback()
    return [x.astype(np_dtype(to))]


def reshape(inputs, attrs, opset):
    x = inputs[0]
    if opset < 5:
        shape = list(attrs.get("shape", []))
    else:
        shape = _ints(inputs[1])
    allowzero = attrs.get("allowzero", 0)
    out = [x.shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(shape)]
    return [np.reshape(x, out)]


def transpose(inputs, attrs, opset):
    perm = attrs.get("perm")
    return [np.transpose(inputs[0], perm if perm else None)]


def identity(inputs, attrs, opset):
    return [inputs[0]]


def _legacy_broadcast(attrs):
    if "broadcast" in attrs or "axis" in attrs:
        raise Fallback()  # opset < 7 broadcasting with an explicit axis


def add(inputs, attrs, opset):
    _legacy_broadcast(attrs)
    return [np.add(inputs[0], inputs[1])]


def sub(inputs, attrs, opset):
    _legacy_broadcast(attrs)
    return [np.subtract(inputs[0], inputs[1])]


def mul(inputs, attrs, opset):
    _legacy_broadcast(attrs)
    return [np.multiply(inputs[0], inputs[1])]


def div(inputs, attrs, opset):
    _legacy_broadcast(attrs)
    a, b = inputs[0], inputs[1]
    if a.dtype.kind in "iu":
        if np.any(b == 0):
            raise ValueError("integer division by zero")
        # ONNX integer division truncates toward zero (C semantics), numpy's // floors.
        q = a // b
        fix = (a % b != 0) & ((a < 0) != (b < 0))
        return [(q + fix.astype(q.dtype)).astype(np.result_type(a, b))]
    return [np.divide(a, b)]


def slice_op(inputs, attrs, opset):
    x = inputs[0]
    if opset < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = _ints(inputs[1]), _ints(inputs[2])
        axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None \
            else list(range(len(starts)))
        steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None \
            else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise ValueError("Slice step 0")
        # Python slicing clamps exactly as the ONNX spec prescribes, INT64_MAX included.
        index[a + x.ndim if a < 0 else a] = slice(s, e, st)
    return [x[tuple(index)]]


def range_op(inputs, attrs, opset):
    start, limit, delta = (np.asarray(v).reshape(()) for v in inputs[:3])
    if delta == 0:
        raise ValueError("Range delta 0")
    n = max(int(np.ceil((limit - start) / delta)), 0)
    return [(start + np.arange(n, dtype=np.int64) * delta).astype(start.dtype)]


def equal(inputs, attrs, opset):
    return [np.equal(inputs[0], inputs[1])]


def where(inputs, attrs, opset):
    return [np.where(inputs[0], inputs[1], inputs[2])]


def expand(inputs, attrs, opset):
    x = inputs[0]
    shape = np.broadcast_shapes(x.shape, tuple(_ints(inputs[1])))
    return [np.broadcast_to(x, shape)]


def sqrt(inputs, attrs, opset):
    return [np.sqrt(inputs[0])]


def neg(inputs, attrs, opset):
    return [np.negative(inputs[0])]


FAST_OPS: Dict[str, Callable] = {
    "ConstantOfShape": constant_of_shape, "Shape": shape_op, "Size": size_op,
    "Gather": gather, "Unsqueeze": unsqueeze, "Squeeze": squeeze, "Concat": concat,
    "Cast": cast, "Reshape": reshape, "Transpose": transpose, "Identity": identity,
    "Add": add, "Sub": sub, "Mul": mul, "Div": div, "Slice": slice_op, "Range": range_op,
    "Equal": equal, "Where": where, "Expand": expand, "Sqrt": sqrt, "Neg": neg,
}
