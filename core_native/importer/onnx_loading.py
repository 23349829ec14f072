"""Read an .onnx file into the importer's Graph, turning every way a file can be wrong into a
ModelError (or UnsupportedOperatorError) a user can act on."""
from __future__ import annotations

import os
from typing import Dict, List, Set

from ..errors import ModelError, UnsupportedOperatorError
from .constants import Constant, constant_from_tensor_proto
from .ir import Graph, Node, TypeInfo

DEFAULT_DOMAINS = ("", "ai.onnx")


def load_model_proto(path: str):
    """onnx.load without external data, with every parse failure wrapped."""
    import onnx

    if not os.path.isfile(path):
        raise ModelError(f"model file not found: {path}")
    try:
        model = onnx.load(path, load_external_data=False)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # DecodeError, RuntimeWarning-as-error, ValueError from onnx...
        raise ModelError(
            f"not an ONNX model: {path} could not be parsed ({type(e).__name__}: {e}); "
            f"the file may be truncated or not an .onnx file") from None
    _check_is_model(model, path)
    return model


def _check_is_model(model, path: str) -> None:
    """A protobuf that parsed as ModelProto can still be something else (a TensorProto, random
    bytes that happen to decode); require the parts every real model has."""
    why = None
    if model.ir_version <= 0:
        why = "it has no IR version"
    elif not model.HasField("graph"):
        why = "it has no graph"
    elif len(model.graph.node) == 0:
        why = "its graph has no nodes"
    elif len(model.graph.output) == 0:
        why = "its graph has no outputs"
    if why:
        raise ModelError(f"not an ONNX model: {path} parsed, but {why}")


def default_opset(model) -> int:
    for op in model.opset_import:
        if op.domain in DEFAULT_DOMAINS:
            return int(op.version)
    return 1  # ONNX: a model without an opset import for the default domain means opset 1


def _type_info(vi) -> TypeInfo:
    t = vi.type
    if t.WhichOneof("value") != "tensor_type":
        return 0, None
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return int(tt.elem_type), None
    dims: list = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append("?")
    return int(tt.elem_type), dims


def type_infos(graph_proto) -> Dict[str, TypeInfo]:
    out: Dict[str, TypeInfo] = {}
    for vi in list(graph_proto.input) + list(graph_proto.output) + list(graph_proto.value_info):
        if vi.name:
            out[vi.name] = _type_info(vi)
    return out


def _subgraph_outer_refs(graph_proto) -> Set[str]:
    """Names a subgraph reads from enclosing scopes (If/Loop/Scan bodies capture values)."""
    defined = {i.name for i in graph_proto.input} | {t.name for t in graph_proto.initializer}
    used: Set[str] = set()
    for n in graph_proto.node:
        used.update(i for i in n.input if i)
        for a in n.attribute:
            for sub in _attr_graphs(a):
                used |= _subgraph_outer_refs(sub)
        defined.update(o for o in n.output if o)
    used.update(o.name for o in graph_proto.output)
    return used - defined


def _attr_graphs(attr):
    if attr.HasField("g"):
        yield attr.g
    yield from attr.graphs


def _check_domain(n, name: str) -> None:
    if n.domain not in DEFAULT_DOMAINS:
        raise UnsupportedOperatorError(
            f"unsupported operator {n.domain}::{n.op_type} (node '{name}'); only operators of "
            f"the default ONNX domain are supported", n.op_type, name)


def _node_names(nodes) -> List[str]:
    """Deterministic, unique node names: empty ones become '<op>_<index>'."""
    seen: Set[str] = set()
    names = []
    for i, n in enumerate(nodes):
        base = n.name or f"{n.op_type}_{i}"
        name, k = base, 1
        while name in seen:  # duplicates are legal in ONNX but the workbench shows names
            k += 1
            name = f"{base}#{k}"
        seen.add(name)
        names.append(name)
    return names


def graph_from_model(model, base_dir: str) -> Graph:
    """Build the working Graph. Initializers (also when listed as graph inputs, the pre-IR-4
    convention) become constants; external data is located and size-checked now, read later."""
    try:
        g = _graph_from_model(model, base_dir)
        _check_text(g)
    except UnicodeDecodeError:
        raise _not_text() from None
    return g


def _not_text() -> ModelError:
    return ModelError("not an ONNX model: it contains names that are not valid UTF-8 text "
                      "(the file is damaged)")


def _check_text(g: Graph) -> None:
    """A damaged file can decode into names that are bytes, not text; they must not reach
    graph.json (or the core) as such."""
    names = [g.name, g.producer, *g.inputs, *g.outputs, *g.constants]
    for n in g.nodes:
        names += [n.name, n.op_type, *n.inputs, *n.outputs, *n.implicit_inputs]
        names += [a.name for a in n.proto.attribute]
    for name, (_, shape) in g.declared.items():
        names.append(name)
        names += [d for d in shape or () if not isinstance(d, int)]
    if not all(isinstance(x, str) for x in names):
        raise _not_text()


def _graph_from_model(model, base_dir: str) -> Graph:
    gp = model.graph
    constants: Dict[str, Constant] = {}
    for t in gp.initializer:
        if not t.name:
            raise ModelError("an initializer has no name")
        constants[t.name] = constant_from_tensor_proto(t, base_dir)
    for sparse in gp.sparse_initializer:
        raise ModelError(
            f"sparse initializer '{sparse.values.name}' is not supported; densify the model")
    names = _node_names(gp.node)
    nodes: List[Node] = []
    for i, (n, name) in enumerate(zip(gp.node, names)):
        _check_domain(n, name)
        n.name = name
        implicit: Set[str] = set()
        for a in n.attribute:
            for sub in _attr_graphs(a):
                implicit |= _subgraph_outer_refs(sub)
        nodes.append(Node(name=name, op_type=n.op_type, inputs=list(n.input),
                          outputs=list(n.output), proto=n, index=i,
                          implicit_inputs=sorted(implicit)))
    inputs = [vi.name for vi in gp.input if vi.name and vi.name not in constants]
    outputs = [vi.name for vi in gp.output if vi.name]
    producer = model.producer_name
    if model.producer_version:
        producer = f"{producer} {model.producer_version}".strip()
    return Graph(name=gp.name or "model", producer=producer, opset=default_opset(model),
                 ir_version=int(model.ir_version), nodes=nodes, inputs=inputs,
                 outputs=outputs, constants=constants, declared=type_infos(gp))


def external_data_locations(model) -> List[str]:
    """The distinct external data files a model refers to (initializers and Constant nodes),
    as written in the file; used to key the import cache on their content too."""
    from onnx import TensorProto

    found: List[str] = []

    def visit(t):
        if t.data_location == TensorProto.EXTERNAL:
            for e in t.external_data:
                if e.key == "location" and e.value not in found:
                    found.append(e.value)

    for t in model.graph.initializer:
        visit(t)
    for n in model.graph.node:
        for a in n.attribute:
            if a.HasField("t"):
                visit(a.t)
    return found

