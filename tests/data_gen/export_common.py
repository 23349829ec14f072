"""Helpers shared by the test-model generators (make_cnn_models.py, make_transformer_models.py):
run the two PyTorch exporters, strip what makes exports differ from run to run, save models
and reference arrays byte-for-byte reproducibly, and cross-check with onnxruntime.

Needs torch (only /work/venv-torch has it); not imported by the test suite.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Mapping, Union

import numpy as np
import onnx


def export_torchscript(wrapper, args: tuple, **export_kwargs) -> onnx.ModelProto:
    """The TorchScript exporter (dynamo=False) into memory; kwargs go to torch.onnx.export
    (opset_version, input_names, output_names, dynamic_axes, do_constant_folding...)."""
    import torch

    buf = io.BytesIO()
    torch.onnx.export(wrapper, args, buf, dynamo=False, **export_kwargs)
    return onnx.load_from_string(buf.getvalue())


def export_dynamo(wrapper, args: tuple, **export_kwargs) -> onnx.ModelProto:
    """The dynamo exporter with its optimizer on, quietly; kwargs go to torch.onnx.export
    (opset_version, input_names, output_names, dynamic_shapes...)."""
    import torch

    prog = torch.onnx.export(wrapper, args, dynamo=True, optimize=True, verbose=False, report=False,
                             **export_kwargs)
    return prog.model_proto


def strip_nondeterministic(model: onnx.ModelProto, model_metadata: bool = True) -> onnx.ModelProto:
    """Drop doc strings / per-node metadata (stack traces with local paths); with
    `model_metadata` also the model-level metadata_props."""

    def clean_graph(g: onnx.GraphProto) -> None:
        g.doc_string = ""
        for node in g.node:
            node.doc_string = ""
            del node.metadata_props[:]
            for attr in node.attribute:
                if attr.HasField("g"):
                    clean_graph(attr.g)
                for sub in attr.graphs:
                    clean_graph(sub)
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            vi.doc_string = ""
            del vi.metadata_props[:]
        for init in g.initializer:
            init.doc_string = ""
            del init.metadata_props[:]
        del g.metadata_props[:]

    model.doc_string = ""
    if model_metadata:
        del model.metadata_props[:]
    clean_graph(model.graph)
    for fn in model.functions:
        fn.doc_string = ""
        for node in fn.node:
            node.doc_string = ""
            del node.metadata_props[:]
    return model


def save(model: onnx.ModelProto, path: Path, external: bool) -> list[Path]:
    """Write `path` (and `path`.data with external weights); returns the files written."""
    for p in (path, path.with_name(path.name + ".data")):
        if p.exists():
            p.unlink()
    if external:
        location = path.name + ".data"
        onnx.save_model(model, str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=location,
                        size_threshold=1024, convert_attribute=False)
        return [path, path.with_name(location)]
    onnx.save_model(model, str(path))
    return [path]


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez, but with fixed zip timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, buf.getvalue())


def ort_check(path: Path, feeds: Union[np.ndarray, Mapping[str, np.ndarray]], refs: list[np.ndarray]) -> str:
    """Max |onnxruntime - torch| over the outputs; `feeds` by input name, or one array for
    the model's first input."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime not installed: not checked"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if isinstance(feeds, np.ndarray):
        feeds = {sess.get_inputs()[0].name: feeds}
    outs = sess.run(None, dict(feeds))
    err = max(float(np.max(np.abs(o - r))) for o, r in zip(outs, refs))
    return f"ort max|diff| vs torch = {err:.3g}"
