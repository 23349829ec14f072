"""Fuse the transformer MLP's exported primitive chains (after attention fusion).

GELU. The PyTorch exporters spell it out elementwise, five passes over the 4x-wide MLP
activation:

  erf:   Div(x, sqrt 2) | Mul(x, 1/sqrt 2) -> Erf -> Add(1) -> x * 0.5 * (.)
  tanh:  Mul(sqrt(2/pi), x + 0.044715 * Pow(x, 3)) -> Tanh -> Add(1) -> x * 0.5 * (.)

with the final product grouped any way ((x * a) * 0.5, (0.5 * a) * x, (x * 0.5) * a) and
either operand order everywhere. Each becomes one `Gelu` node (ONNX opset 20;
`approximate="tanh"` for the second form). The core's kernels are found by op type alone, so
the node runs whatever opset the model declares (FORMAT.md).

MatMul + bias. Every Linear is MatMul(x, W) -> Add(b). When W is a constant 2-D float matrix
[K, N], b a constant float with N elements (shape [N] or [1, .., 1, N], no more dimensions
than the product) and the Add is the product's only reader, the Add becomes a 3rd MatMul
input that the kernel adds in the GEMM's store (our extension, FORMAT.md): the product is
written once instead of written, read back and written again.

Constants are compared numerically (relative 1e-6: float32 spellings of sqrt 2 and friends
differ from the float64 values in the 8th digit). Only float32 (or unknown) values fuse.
"""
from __future__ import annotations

import math
from typing import List, Optional

from ..errors import ModelError
from .fusion import _Matcher, _scalar_const, first_match
from .ir import Graph, Node

GELU = "Gelu"
BIAS_PRODUCER = "MatMul"
_RTOL = 1e-6


def _is(value: Optional[float], want: float) -> bool:
    return value is not None and math.isclose(value, want, rel_tol=_RTOL)


class _GeluMatcher(_Matcher):
    def mul_operands(self, value: str, op: str = "Mul") -> Optional[Node]:
        """The private two-input `op` node producing `value`, or None."""
        n = self.node_of(value)
        if n is None or n.op_type != op or len(n.inputs) != 2 or not self.private(value):
            return None
        return n

    def const_other(self, n: Node, want: float) -> Optional[str]:
        """n is a binary node with a scalar constant `want` on one side: the other input."""
        a, b = n.inputs
        if _is(_scalar_const(self.g, b), want):
            return a
        if _is(_scalar_const(self.g, a), want):
            return b
        return None

    def erf_arg(self, erf: Node):
        """Erf(x / sqrt 2): (x, nodes) or None."""
        scaled = erf.inputs[0]
        for op, c in (("Div", math.sqrt(2.0)), ("Mul", math.sqrt(0.5))):
            n = self.mul_operands(scaled, op)
            if n is None:
                continue
            if op == "Mul":
                x = self.const_other(n, c)
            else:  # a divisor on the right only
                x = n.inputs[0] if _is(_scalar_const(self.g, n.inputs[1]), c) else None
            if x is not None:
                return x, [n]
        return None

    def cube_of(self, value: str, x: str) -> Optional[List[Node]]:
        """value = x^3 (Pow(x, 3) or x * (x * x) in any grouping): its nodes, or None."""
        n = self.mul_operands(value, "Pow")
        if n is not None:
            return [n] if n.inputs[0] == x and _is(_scalar_const(self.g, n.inputs[1]), 3.0) \
                else None
        n = self.mul_operands(value)
        if n is None or x not in n.inputs:
            return None
        other = n.inputs[1] if n.inputs[0] == x else n.inputs[0]
        sq = self.mul_operands(other)
        if sq is None or list(sq.inputs) != [x, x]:
            return None
        return [n, sq]

    def tanh_arg(self, tanh: Node):
        """Tanh(sqrt(2/pi) * (x + 0.044715 x^3)): (x, nodes) or None."""
        outer = self.mul_operands(tanh.inputs[0])
        inner = outer and self.const_other(outer, math.sqrt(2.0 / math.pi))
        add = inner and self.mul_operands(inner, "Add")
        if not add:
            return None
        for x, cubic in (add.inputs, reversed(add.inputs)):
            m = self.mul_operands(cubic)
            cube = m and self.const_other(m, 0.044715)
            nodes = cube and self.cube_of(cube, x)
            if nodes:
                return x, [outer, add, m] + nodes
        return None

    def match(self, core: Node):
        """(x, approximate, nodes, output) for the GELU around Erf/Tanh node `core`, or None."""
        if len(core.inputs) != 1 or not core.outputs[0]:
            return None
        found = self.erf_arg(core) if core.op_type == "Erf" else self.tanh_arg(core)
        if found is None:
            return None
        x, head = found
        if self.g.type_of(x)[0] not in (0, 1):
            return None  # the Gelu kernel is float32 only
        if not self.private(core.outputs[0]):
            return None
        users = self.consumers.get(core.outputs[0], ())
        plus = self.g.nodes[users[0]]
        if plus.op_type != "Add" or len(plus.inputs) != 2 or self.const_other(plus, 1.0) is None:
            return None
        a = plus.outputs[0]
        tail = self.product_tail(a, x)
        if tail is None:
            return None
        nodes, out = tail
        approximate = "none" if core.op_type == "Erf" else "tanh"
        return x, approximate, head + [core, plus] + nodes, out

    def _sole_mul_user(self, value: str) -> Optional[Node]:
        if not self.private(value):
            return None
        n = self.g.nodes[self.consumers[value][0]]
        return n if n.op_type == "Mul" and len(n.inputs) == 2 else None

    def product_tail(self, a: str, x: str):
        """x * 0.5 * a in two Muls, any grouping: (nodes, output) or None."""
        m1 = self._sole_mul_user(a)
        if m1 is None:
            return None
        other = m1.inputs[1] if m1.inputs[0] == a else m1.inputs[0]
        if other == x or _is(_scalar_const(self.g, other), 0.5):
            m2 = self._sole_mul_user(m1.outputs[0])
            if m2 is None:
                return None
            rest = m2.inputs[1] if m2.inputs[0] == m1.outputs[0] else m2.inputs[0]
            ok = _is(_scalar_const(self.g, rest), 0.5) if other == x else rest == x
            return ([m1, m2], m2.outputs[0]) if ok else None
        half = self.mul_operands(other)  # (x * 0.5) * a
        if half is not None and self.const_other(half, 0.5) == x:
            return [half, m1], m1.outputs[0]
        return None


def _replace(g: Graph, nodes: List[Node], node: Node) -> None:
    """The fused node takes the place of the last node it replaces: every input is defined
    before it, and everything reading its output comes after."""
    drop = {id(n) for n in nodes}
    last = max(i for i, n in enumerate(g.nodes) if id(n) in drop)
    kept = []
    for i, n in enumerate(g.nodes):
        if i == last:
            kept.append(node)
        elif id(n) not in drop:
            kept.append(n)
    g.nodes = kept


def _scope(name: str) -> str:
    # "/model/encoder/layer.0/intermediate/intermediate_act_fn/Div" -> ".../intermediate_act_fn"
    return name.rsplit("/", 1)[0] if "/" in name else name


def fuse_gelu(g: Graph) -> int:
    """Replace every GELU chain in g (in place) by one Gelu node; returns how many."""
    from onnx import helper

    fused = 0
    while True:
        hit = first_match(g.nodes, ("Erf", "Tanh"), _GeluMatcher(g).match)
        if hit is None:
            return fused
        x, approximate, nodes, out = hit
        name = f"{_scope(nodes[0].name)}/{GELU}"
        attrs = {"approximate": approximate} if approximate != "none" else {}
        proto = helper.make_node(GELU, [x], [out], name=name, **attrs)
        _replace(g, nodes, Node(name=name, op_type=GELU, inputs=[x], outputs=[out],
                                proto=proto, index=nodes[-1].index))
        fused += 1


def reject_fused_matmul(g: Graph) -> None:
    """A file's MatMul must not already carry our bias input: ONNX MatMul has two inputs.
    Checked on the file's graph, before folding or attention fusion could consume it."""
    for n in g.nodes:
        if n.op_type == BIAS_PRODUCER and len(n.inputs) > 2:
            raise ModelError(f"node '{n.name}' (MatMul) has {len(n.inputs)} inputs; ONNX MatMul "
                             "takes exactly 2 (A, B)")


def _bias_for(g: Graph, name: str, n_cols: int, out_rank: int) -> bool:
    c = g.constants.get(name)
    if c is None or c.dtype != 1 or c.numel != n_cols:
        return False
    shape = list(c.shape)
    # [N] or [1, .., 1, N]; more dimensions than the product would broadcast its shape up.
    return 1 <= len(shape) <= out_rank and shape[-1] == n_cols


def fuse_matmul_bias(g: Graph) -> int:
    """MatMul(x, W) -> Add(b) into MatMul(x, W, b) (in place); returns how many."""
    m = _Matcher(g)
    drop, fused = set(), 0  # ids of the Adds folded into their MatMul
    for add in g.nodes:
        if add.op_type != "Add" or len(add.inputs) != 2 or len(add.outputs) != 1:
            continue
        for pos in (0, 1):
            product, bias = add.inputs[pos], add.inputs[1 - pos]
            mm = m.node_of(product)
            if mm is None or mm.op_type != BIAS_PRODUCER or len(mm.inputs) != 2:
                continue
            if not m.private(product) or product == bias:
                continue
            w = g.constants.get(mm.inputs[1])
            if w is None or w.dtype != 1 or len(w.shape) != 2:
                continue
            if g.type_of(mm.inputs[0])[0] not in (0, 1):
                continue
            out_shape = g.type_of(product)[1]
            if out_shape is None or not _bias_for(g, bias, int(w.shape[1]), len(out_shape)):
                continue
            mm_index = m.producer[product]
            proto = type(mm.proto)()
            proto.CopyFrom(mm.proto)
            del proto.input[:]
            proto.input.extend([mm.inputs[0], mm.inputs[1], bias])
            del proto.output[:]
            proto.output.append(add.outputs[0])
            fused_node = Node(name=mm.name, op_type=BIAS_PRODUCER,
                              inputs=[mm.inputs[0], mm.inputs[1], bias],
                              outputs=[add.outputs[0]], proto=proto, index=mm.index)
            # The MatMul's place keeps the order valid: the bias is a constant.
            # (a fused node has 3 inputs, so the loop never matches it again).
            g.nodes[mm_index] = fused_node
            drop.add(id(add))
            fused += 1
            break
    if fused:
        g.nodes = [n for n in g.nodes if id(n) not in drop]
    return fused


def fuse_transformer_mlp(g: Graph) -> None:
    """Both fusions; MatMul + bias first so a Gelu after it reads the fused product."""
    fuse_matmul_bias(g)
    fuse_gelu(g)

