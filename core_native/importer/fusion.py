"""Fuse scaled-dot-product attention into one TinyAIAttention node.

The PyTorch exporters spell attention out as primitive ops. After constant folding the shapes
we meet are (Q [.., Lq, D], Kt [.., D, Lk], V [.., Lk, Dv]):

  eager / TorchScript:  MatMul(Q, Kt) -> Mul|Div(scalar) -> [Add(mask)] -> Softmax -> MatMul(., V)
  sdpa decompositions:  MatMul(Mul(Q, s), Mul(Kt, s)) -> [Add(mask)] -> Softmax
                          -> [IsNaN + Where(isnan, 0, .)] -> MatMul(., V)

Each becomes TinyAIAttention(Q, Kt, V, mask?) with attributes `scale` (every scalar factor
multiplied together) and `nan_to_zero` (1 when the exporter's NaN guard was present: rows
whose keys are all masked give zeros instead of NaN). The kernel (src/kernels/attention/)
computes one block of score rows per head at a time, so the [.., Lq, Lk] score tensor the
unfused graph materialises twice (scores, probabilities) never exists.

TinyAIAttention exists only in converted models: the op type is ours, never read from a file.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .constants import FLOAT_TYPES
from .ir import Graph, Node

FUSED_OP = "TinyAIAttention"


def _scalar_const(g: Graph, name: str) -> Optional[float]:
    c = g.constants.get(name) if name else None
    if c is None or c.dtype not in FLOAT_TYPES or c.numel != 1:
        return None
    return float(np.asarray(c.array()).reshape(-1)[0])


class _Matcher:
    def __init__(self, g: Graph):
        self.g = g
        self.producer: Dict[str, int] = {o: i for i, n in enumerate(g.nodes) for o in n.outputs if o}
        self.consumers = g.consumers()
        self.outputs = set(g.outputs)

    def node_of(self, value: str) -> Optional[Node]:
        i = self.producer.get(value)
        return None if i is None else self.g.nodes[i]

    def private(self, value: str, readers: int = 1) -> bool:
        """`value` is an intermediate only the pattern reads (safe to drop with it)."""
        return value not in self.outputs and len(self.consumers.get(value, ())) == readers

    def scaled(self, value: str) -> Tuple[str, float, List[Node]]:
        """Peel Mul/Div by scalar constants off `value`: (base value, factor, nodes peeled)."""
        factor, peeled = 1.0, []
        while self.private(value):
            n = self.node_of(value)
            if n is None or n.op_type not in ("Mul", "Div") or len(n.inputs) != 2:
                break
            a, b = n.inputs
            sb = _scalar_const(self.g, b)
            sa = _scalar_const(self.g, a) if n.op_type == "Mul" else None
            if sb is not None and sb != 0.0:
                factor *= sb if n.op_type == "Mul" else 1.0 / sb
                value = a
            elif sa is not None:
                factor *= sa
                value = b
            else:
                break
            peeled.append(n)
        return value, factor, peeled

    def scores(self, value: str):
        """value = scale * MatMul(Q, Kt) with scalar factors on either side; or None."""
        base, factor, peeled = self.scaled(value)
        mm = self.node_of(base)
        if mm is None or mm.op_type != "MatMul" or not self.private(base):
            return None
        q, fq, pq = self.scaled(mm.inputs[0])
        kt, fk, pk = self.scaled(mm.inputs[1])
        return q, kt, factor * fq * fk, peeled + [mm] + pq + pk

    def match(self, sm: Node):
        """The fused node's (inputs, scale, nan_to_zero, nodes replaced, output) or None."""
        g = self.g
        if len(sm.inputs) != 1 or not sm.outputs[0]:
            return None
        _, shape = g.type_of(sm.inputs[0])
        rank = len(shape) if shape is not None else None
        axis = int(next((a.i for a in sm.proto.attribute if a.name == "axis"),
                        1 if g.opset < 13 else -1))
        if rank is None or rank < 2 or axis not in (-1, rank - 1):
            return None
        # Output side: Softmax -> [IsNaN, Where] -> MatMul(P, V).
        probs, nan_to_zero, tail = sm.outputs[0], 0, []
        users = [g.nodes[i] for i in self.consumers.get(probs, ())]
        if probs in self.outputs:
            return None
        if len(users) == 2 and {u.op_type for u in users} == {"IsNaN", "Where"}:
            isnan = next(u for u in users if u.op_type == "IsNaN")
            where = next(u for u in users if u.op_type == "Where")
            zero = _scalar_const(g, where.inputs[1])
            if (where.inputs[0] != isnan.outputs[0] or where.inputs[2] != probs
                    or zero != 0.0 or not self.private(isnan.outputs[0])):
                return None
            probs, nan_to_zero, tail = where.outputs[0], 1, [isnan, where]
            users = [g.nodes[i] for i in self.consumers.get(probs, ())]
            if probs in self.outputs:
                return None
        if len(users) != 1 or users[0].op_type != "MatMul" or users[0].inputs[0] != probs:
            return None
        pv = users[0]
        # Input side: [Add(scores, mask)] -> Softmax.
        logits = sm.inputs[0]
        if not self.private(logits):
            return None
        mask, head = "", []
        add = self.node_of(logits)
        found = None
        if add is not None and add.op_type == "Add" and len(add.inputs) == 2:
            for s_pos in (0, 1):
                found = self.scores(add.inputs[s_pos])
                if found is not None:
                    mask = add.inputs[1 - s_pos]
                    head = [add]
                    break
        if found is None:
            found = self.scores(logits)
        if found is None:
            return None
        q, kt, scale, score_nodes = found
        for operand in (q, kt, pv.inputs[1]):
            shape = g.type_of(operand)[1]
            if shape is None or len(shape) < 2:
                return None  # 1-D MatMul operands: not attention
        if mask and g.type_of(mask)[0] not in (0, 1):
            return None  # an additive mask must be float32
        nodes = score_nodes + head + [sm] + tail + [pv]
        return [q, kt, pv.inputs[1], mask], scale, nan_to_zero, nodes, pv.outputs[0]


def _make_node(name: str, inputs: List[str], output: str, scale: float, nan_to_zero: int):
    from onnx import helper

    proto = helper.make_node(FUSED_OP, inputs, [output], name=name, scale=float(scale),
                             nan_to_zero=int(nan_to_zero))
    return proto


def _fused_name(nodes: List[Node]) -> str:
    # "/model/encoder/layer.0/attention/self/MatMul" -> ".../attention/self/TinyAIAttention"
    first = nodes[0].name
    if "/" in first:
        return first.rsplit("/", 1)[0] + "/" + FUSED_OP
    return f"{first}_{FUSED_OP}"


def first_match(nodes, op_types, match):
    """The first non-None match(node) over the nodes whose op type is in op_types, else None:
    where each fusion pass anchors its pattern (a Softmax, an Erf or Tanh)."""
    for node in nodes:
        if node.op_type in op_types:
            hit = match(node)
            if hit is not None:
                return hit
    return None


def fuse_attention(g: Graph) -> int:
    """Replace every attention pattern in g (in place); returns how many were fused."""
    fused = 0
    while True:
        hit = first_match(g.nodes, ("Softmax",), _Matcher(g).match)
        if hit is None:
            return fused
        inputs, scale, nan_to_zero, nodes, output = hit
        while inputs and inputs[-1] == "":
            inputs.pop()
        drop = {id(n) for n in nodes}
        last = max(i for i, n in enumerate(g.nodes) if id(n) in drop)
        name = _fused_name(nodes)
        node = Node(name=name, op_type=FUSED_OP, inputs=inputs, outputs=[output],
                    proto=_make_node(name, inputs, output, scale, nan_to_zero),
                    index=g.nodes[last].index)
        # The fused node takes the final MatMul's place: every input is defined before it.
        kept = []
        for i, n in enumerate(g.nodes):
            if i == last:
                kept.append(node)
            elif id(n) not in drop:
                kept.append(n)
        g.nodes = kept
        fused += 1
