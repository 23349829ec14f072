"""Generate small, realistic CNN test models exported by PyTorch.

Run with a venv that has torch==2.13.0, transformers, onnx, onnxscript, numpy
(onnxruntime optional, used only for a sanity check here):

    /work/venv-torch/bin/python tests/data_gen/make_cnn_models.py [--out tests/data/cnn]

Not imported by the test suite.  It builds ResNet-, MobileNetV2- and
ConvNeXt-style networks from `transformers` configs (no weight downloads),
randomises every weight *and* the BatchNorm running statistics with a fixed
seed (so that BN folding and layout bugs change the numbers, unlike
constant-weight models), and exports each network twice:

* the TorchScript exporter (``dynamo=False``) at opset 17;
* the dynamo exporter (``dynamo=True``) at opset 18 (skipped, with the reason
  printed, if it fails).

For every model ``<name>.onnx`` it writes ``<name>.ref.npz`` holding the
seeded input (key ``input``) and the torch outputs (``output_0``, ...; in the
order of the ONNX graph outputs) for batch 1; models with a symbolic batch
dimension also get ``<name>.ref_b3.npz`` for batch 3.  ``manifest.json``
describes all of them.  Output is deterministic: node doc strings and
metadata (stack traces with local paths) are stripped before saving.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

warnings.filterwarnings("ignore")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # export_common, run as a script
import export_common  # noqa: E402
from export_common import ort_check, save, save_npz, strip_nondeterministic  # noqa: E402

import transformers  # noqa: E402
from transformers import (  # noqa: E402
    ConvNextConfig,
    ConvNextForImageClassification,
    MobileNetV2Config,
    MobileNetV2ForImageClassification,
    ResNetConfig,
    ResNetModel,
)

SEED = 1234
TS_OPSET = 17
DYNAMO_OPSET = 18
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "cnn"


# --------------------------------------------------------------------------
# Model definitions (small configs, random weights)
# --------------------------------------------------------------------------


class FeatureMapWrapper(nn.Module):
    """Returns the final (N, C, H, W) feature map and the pooled vector."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor):
        out = self.model(pixel_values=pixel_values)
        return out.last_hidden_state, out.pooler_output


class LogitsWrapper(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor):
        return self.model(pixel_values=pixel_values).logits


def build_resnet() -> tuple[nn.Module, tuple[int, int, int], list[str]]:
    cfg = ResNetConfig(
        num_channels=3,
        embedding_size=16,
        hidden_sizes=[32, 64, 96, 128],
        depths=[1, 1, 2, 1],
        layer_type="bottleneck",
        hidden_act="relu",
        downsample_in_first_stage=False,
        downsample_in_bottleneck=True,
    )
    # Non-square input (final feature map 2x3) so that H/W mix-ups show.
    return FeatureMapWrapper(ResNetModel(cfg)), (3, 64, 96), ["last_hidden_state", "pooler_output"]


def build_mobilenetv2() -> tuple[nn.Module, tuple[int, int, int], list[str]]:
    cfg = MobileNetV2Config(
        num_channels=3,
        image_size=96,
        depth_multiplier=0.35,
        depth_divisible_by=8,
        min_depth=8,
        expand_ratio=6.0,
        output_stride=32,
        first_layer_is_expansion=True,
        finegrained_output=False,  # last 1x1 conv to 1280*0.35 instead of 1280
        hidden_act="relu6",
        tf_padding=True,  # explicit (asymmetric) Pad nodes, as in the TF checkpoints
        classifier_dropout_prob=0.0,
        num_labels=10,
    )
    return LogitsWrapper(MobileNetV2ForImageClassification(cfg)), (3, 96, 128), ["logits"]


def build_convnext() -> tuple[nn.Module, tuple[int, int, int], list[str]]:
    cfg = ConvNextConfig(
        num_channels=3,
        patch_size=4,
        num_stages=4,
        hidden_sizes=[16, 32, 48, 64],
        depths=[1, 1, 2, 1],
        hidden_act="gelu",
        layer_scale_init_value=1e-6,  # re-randomised below
        drop_path_rate=0.0,
        image_size=64,
        num_labels=10,
    )
    return LogitsWrapper(ConvNextForImageClassification(cfg)), (3, 64, 96), ["logits"]


ARCHS = {
    "resnet": build_resnet,
    "mobilenetv2": build_mobilenetv2,
    "convnext": build_convnext,
}


def randomise(model: nn.Module, gen: torch.Generator) -> None:
    """Fill every parameter and BN buffer with seeded random values of a sane scale."""

    def normal(t: torch.Tensor, std: float, mean: float = 0.0) -> None:
        t.copy_(torch.randn(t.shape, generator=gen) * std + mean)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)

    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                fan_in = mod.weight[0].numel()
                normal(mod.weight, (2.0 / fan_in) ** 0.5)
                if mod.bias is not None:
                    normal(mod.bias, 0.1)
            elif isinstance(mod, nn.Linear):
                normal(mod.weight, (1.0 / mod.in_features) ** 0.5)
                if mod.bias is not None:
                    normal(mod.bias, 0.1)
            elif isinstance(mod, nn.BatchNorm2d):
                uniform(mod.weight, 0.5, 1.5)
                normal(mod.bias, 0.2)
                normal(mod.running_mean, 0.3)
                uniform(mod.running_var, 0.3, 3.0)
            elif isinstance(mod, nn.LayerNorm) or type(mod).__name__.endswith("LayerNorm"):
                if getattr(mod, "weight", None) is not None:
                    uniform(mod.weight, 0.5, 1.5)
                if getattr(mod, "bias", None) is not None:
                    normal(mod.bias, 0.2)
        # ConvNeXt layer scale (default 1e-6 would make the residual branches vanish).
        for name, p in model.named_parameters():
            if name.endswith("layer_scale_parameter"):
                uniform(p, 0.2, 0.6)


# --------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------


def export_torchscript(wrapper: nn.Module, example: torch.Tensor, out_names: list[str],
                       dynamic_batch: bool, keep_bn: bool) -> onnx.ModelProto:
    dynamic_axes = None
    if dynamic_batch:
        dynamic_axes = {"pixel_values": {0: "batch"}}
        dynamic_axes.update({n: {0: "batch"} for n in out_names})
    # Constant folding fuses eval-mode BatchNorm into Conv; without it the graph
    # keeps BatchNormalization nodes (with the random running stats) and Identity nodes.
    return export_common.export_torchscript(
        wrapper, (example,), opset_version=TS_OPSET, input_names=["pixel_values"],
        output_names=out_names, dynamic_axes=dynamic_axes, do_constant_folding=not keep_bn)


def export_dynamo(wrapper: nn.Module, example: torch.Tensor, out_names: list[str],
                  dynamic_batch: bool) -> onnx.ModelProto:
    dynamic_shapes = None
    if dynamic_batch:
        dynamic_shapes = {"pixel_values": {0: torch.export.Dim("batch", min=1, max=64)}}
    return export_common.export_dynamo(
        wrapper, (example,), opset_version=DYNAMO_OPSET, input_names=["pixel_values"],
        output_names=out_names, dynamic_shapes=dynamic_shapes)


# name, arch, exporter, dynamic batch, external data, keep BatchNormalization nodes
# (TorchScript only; the dynamo exporter's optimizer always folds BN into Conv).
VARIANTS = [
    ("resnet_ts17", "resnet", "torchscript", True, False, True),
    ("resnet_dynamo18", "resnet", "dynamo", False, False, False),
    ("mobilenetv2_ts17", "mobilenetv2", "torchscript", False, True, False),
    ("mobilenetv2_dynamo18", "mobilenetv2", "dynamo", False, False, False),
    ("convnext_ts17", "convnext", "torchscript", False, False, False),
    ("convnext_dynamo18", "convnext", "dynamo", True, True, False),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, onnx {onnx.__version__}")

    models: dict[str, tuple[nn.Module, tuple[int, int, int], list[str]]] = {}
    for i, (arch, builder) in enumerate(ARCHS.items()):
        torch.manual_seed(SEED + i)
        wrapper, chw, out_names = builder()
        gen = torch.Generator().manual_seed(SEED + 100 + i)
        randomise(wrapper, gen)
        wrapper.eval()
        models[arch] = (wrapper, chw, out_names)

    manifest = {"generator": "tests/data_gen/make_cnn_models.py", "seed": SEED,
                "torch": torch.__version__, "transformers": transformers.__version__,
                "models": []}
    skipped = []
    for idx, (name, arch, exporter, dynamic_batch, external, keep_bn) in enumerate(VARIANTS):
        wrapper, chw, out_names = models[arch]
        rng = np.random.RandomState(SEED + 1000 + idx)
        batches = [1, 3] if dynamic_batch else [1]
        inputs = {b: rng.standard_normal((b, *chw)).astype(np.float32) for b in batches}
        # Export with batch 2 when the batch is symbolic so that no size-1 specialisation sneaks in.
        example = torch.from_numpy(
            rng.standard_normal((2 if dynamic_batch else 1, *chw)).astype(np.float32))
        with torch.no_grad():
            try:
                if exporter == "torchscript":
                    proto = export_torchscript(wrapper, example, out_names, dynamic_batch, keep_bn)
                    opset = TS_OPSET
                else:
                    proto = export_dynamo(wrapper, example, out_names, dynamic_batch)
                    opset = DYNAMO_OPSET
            except Exception as exc:  # noqa: BLE001
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                print(f"SKIP {name}: {exporter} exporter failed: {reason}")
                traceback.print_exc(limit=3)
                skipped.append({"name": name, "reason": reason})
                continue
            proto = strip_nondeterministic(proto, model_metadata=False)
            onnx.checker.check_model(proto)
            graph_outs = [o.name for o in proto.graph.output]
            assert graph_outs == out_names, (graph_outs, out_names)
            assert [i.name for i in proto.graph.input] == ["pixel_values"]

            path = out_dir / f"{name}.onnx"
            files = save(proto, path, external)
            refs = {}
            for b, x in inputs.items():
                res = wrapper(torch.from_numpy(x))
                res = res if isinstance(res, tuple) else (res,)
                outs = [r.detach().numpy().astype(np.float32) for r in res]
                ref_path = out_dir / (f"{name}.ref.npz" if b == 1 else f"{name}.ref_b{b}.npz")
                arrays = {"input": x}
                arrays.update({f"output_{k}": o for k, o in enumerate(outs)})
                save_npz(ref_path, arrays)
                refs[b] = outs
                files.append(ref_path)
            check = ort_check(path, inputs[1], refs[1])

        ops = sorted({n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node})
        sizes = {f.name: f.stat().st_size for f in files}
        entry = {
            "name": name,
            "file": path.name,
            "arch": arch,
            "exporter": exporter,
            "opset": opset,
            "dynamic_batch": dynamic_batch,
            "external_data": external,
            "batchnorm_folded": not keep_bn,
            "input_name": "pixel_values",
            "input_shape": [1, *chw],
            "output_names": out_names,
            "refs": {str(b): (f"{name}.ref.npz" if b == 1 else f"{name}.ref_b{b}.npz")
                     for b in batches},
            "op_types": ops,
        }
        manifest["models"].append(entry)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        print(f"{name}: {exporter} opset {opset}, dynamic_batch={dynamic_batch}, "
              f"external_data={external}, sizes={sizes}, sha256={digest}; {check}")
        print(f"    ops: {' '.join(ops)}")

    manifest["skipped"] = skipped
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    print(f"total size of {out_dir}: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
