"""ONNX importer: converts an .onnx model into the core's model directory format
(graph.json + weights.bin, see core_native/FORMAT.md).

Pure Python; onnx is imported only when a model actually has to be parsed, so reusing a
cached import never pays for it.
"""
from .cache import cache_root, cached_import
from .graph_json import read_graph_json
from .pipeline import import_onnx
from .progress import tqdm_progress

__all__ = ["import_onnx", "cached_import", "read_graph_json", "tqdm_progress", "cache_root"]
