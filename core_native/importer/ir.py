"""The importer's working graph: nodes, runtime inputs/outputs, constants and known types.

Plain Python objects (not ModelProto) so folding can add and drop nodes and constants cheaply.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..errors import ModelError
from .constants import Constant

# dtype (ONNX code, 0 = unknown) and shape (None = unknown; entries int or symbolic str).
TypeInfo = Tuple[int, Optional[list]]


@dataclass
class Node:
    name: str
    op_type: str
    inputs: List[str]
    outputs: List[str]
    proto: object  # the NodeProto (attributes, and a source for shape-inference skeletons)
    index: int  # position in the source file: keeps ordering deterministic
    implicit_inputs: List[str] = field(default_factory=list)  # outer names used by subgraphs

    def all_inputs(self):
        return [n for n in self.inputs if n] + self.implicit_inputs


@dataclass
class Graph:
    name: str
    producer: str
    opset: int
    ir_version: int
    nodes: List[Node]
    inputs: List[str]  # runtime inputs only (initializer-backed inputs are constants)
    outputs: List[str]
    constants: Dict[str, Constant]
    declared: Dict[str, TypeInfo] = field(default_factory=dict)  # from the file
    inferred: Dict[str, TypeInfo] = field(default_factory=dict)  # from shape inference

    def type_of(self, name: str) -> TypeInfo:
        c = self.constants.get(name)
        if c is not None:
            return c.dtype, list(c.shape)
        inf = self.inferred.get(name)
        dec = self.declared.get(name)
        dtype = (inf and inf[0]) or (dec and dec[0]) or 0
        shape = inf[1] if inf and inf[1] is not None else (dec[1] if dec else None)
        return dtype, shape

    def consumers(self) -> Dict[str, List[int]]:
        """value name -> indices (into self.nodes) of the nodes that read it, in order."""
        out: Dict[str, List[int]] = {}
        for i, n in enumerate(self.nodes):
            for name in n.all_inputs():
                lst = out.setdefault(name, [])
                if not lst or lst[-1] != i:
                    lst.append(i)
        return out


def toposort(g: Graph) -> None:
    """Sort g.nodes topologically (stable: file order wherever the file allows it).

    Raises ModelError for cycles, values read but never defined, and values defined twice.
    """
    producer: Dict[str, int] = {}
    for i, n in enumerate(g.nodes):
        for o in n.outputs:
            if not o:
                continue
            if o in producer or o in g.constants or o in g.inputs:
                raise ModelError(
                    f"value '{o}' is produced by node '{n.name}' but is already defined "
                    f"elsewhere; ONNX values must be assigned exactly once")
            producer[o] = i
    indeg = [0] * len(g.nodes)
    users: List[List[int]] = [[] for _ in g.nodes]
    for i, n in enumerate(g.nodes):
        deps = set()
        for name in n.all_inputs():
            if name in producer:
                deps.add(producer[name])
            elif name not in g.constants and name not in g.inputs:
                raise ModelError(
                    f"node '{n.name}' ({n.op_type}) reads '{name}', which is neither a graph "
                    f"input, an initializer nor the output of any node (the file may be "
                    f"truncated or damaged)")
        for d in deps:
            users[d].append(i)
        indeg[i] = len(deps)
    ready = [i for i in range(len(g.nodes)) if indeg[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(g.nodes):
        stuck = [g.nodes[i].name for i in range(len(g.nodes)) if indeg[i] > 0][:5]
        raise ModelError(f"the graph has a cycle (involving nodes {', '.join(stuck)})")
    for o in g.outputs:
        if o not in producer and o not in g.constants and o not in g.inputs:
            raise ModelError(f"graph output '{o}' is not produced by any node")
    g.nodes = [g.nodes[i] for i in order]


def prune(g: Graph) -> None:
    """Drop nodes whose outputs nobody reads, then constants nobody reads.

    Graph outputs count as read, so constant graph outputs stay constants.
    """
    needed = set(g.outputs)
    kept = []
    for n in reversed(g.nodes):
        if any(o and o in needed for o in n.outputs):
            kept.append(n)
            needed.update(n.all_inputs())
    kept.reverse()
    g.nodes = kept
    for name in [c for c in g.constants if c not in needed]:
        g.constants.pop(name).release()
