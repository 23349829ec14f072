"""import_onnx: .onnx file -> converted model directory (graph.json + weights.bin)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from . import graph_json
from .conv_fusion import fuse_conv_epilogues
from .atomic import check_replaceable, staging_dir
from .affine_folding import fold_channel_affine
from .bn_folding import fold_batchnorm_into_conv
from .folding import fold_constants
from .fusion import fuse_attention
from .ir import prune, toposort
from .layers import assign_layers
from .onnx_loading import graph_from_model, load_model_proto
from .progress import ProgressFn, Reporter
from .shapes import infer
from .transformer_fusion import fuse_transformer_mlp, reject_fused_matmul
from .weights_writer import write_weights

MAX_FOLD_ROUNDS = 4  # folding can make more shapes static, which can make more Shapes fold
HASH_CHUNK = 1 << 20


def file_sha256(path, h=None) -> str:
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(HASH_CHUNK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def import_onnx(src, out_dir, progress: Optional[ProgressFn] = None, *,
                source_sha256: Optional[str] = None) -> Path:
    """Convert `src` (.onnx, embedded or external weights) into `out_dir`; returns out_dir.

    out_dir is replaced atomically; it must not exist, be empty, or hold a previous import.
    """
    src, out_dir = Path(src), Path(out_dir)
    check_replaceable(out_dir)
    if progress:
        progress(0, 0, "reading model")
    model = load_model_proto(str(src))
    return convert_model(model, src, out_dir, progress, source_sha256=source_sha256)


def convert_model(model, src: Path, out_dir: Path, progress: Optional[ProgressFn] = None, *,
                  source_sha256: Optional[str] = None) -> Path:
    """The part of import_onnx after parsing (cached_import has already parsed the file)."""
    check_replaceable(out_dir)
    rep = Reporter(progress)
    base_dir = str(src.resolve().parent)
    g = graph_from_model(model, base_dir)
    toposort(g)
    reject_fused_matmul(g)
    if source_sha256 is None:
        rep.stage("hashing model")
        source_sha256 = file_sha256(src)

    for _ in range(MAX_FOLD_ROUNDS):
        rep.stage("inferring shapes")
        g.inferred = infer(g)
        rep.stage("folding constants")
        changed = fold_constants(g, base_dir, rep.stage)
        prune(g)
        if not changed:
            break
    else:
        g.inferred = infer(g)  # the types recorded must describe the final graph

    if fold_batchnorm_into_conv(g):
        prune(g)  # the BatchNormalization statistics are no longer read
    if fold_channel_affine(g):  # Conv/BN -> Mul -> Add (Caffe's Scale) into the Conv/BN
        prune(g)
    fuse_conv_epilogues(g)  # after the folds: Conv -> BN -> Scale -> Relu is Conv -> Relu
    fuse_attention(g)
    fuse_transformer_mlp(g)  # after attention: its MatMuls read no constant weight anyway
    layers = assign_layers(g)
    with staging_dir(out_dir) as tmp:
        placements = write_weights(
            os.path.join(tmp, graph_json.WEIGHTS_FILE),
            [[(n, g.constants[n]) for n in layer.constants] for layer in layers],
            progress=rep.bytes, layer_names=[l.name for l in layers])
        rep.stage("writing graph.json")
        doc = graph_json.build(g, layers, placements, source_sha256)
        graph_json.write(doc, os.path.join(tmp, graph_json.GRAPH_FILE))
    rep.stage("done")
    return out_dir
