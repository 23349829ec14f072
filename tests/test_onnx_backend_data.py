"""onnx's pytorch-converted/ and pytorch-operator/ backend tests: each case either matches its
expected outputs or fails cleanly with UnsupportedOperatorError (and is listed in the README)."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import tinyai_workbench as tw

from conftest import ONNX_TEST_DATA
from onnx_reference import assert_close

SUITES = ("pytorch-converted", "pytorch-operator")

# Cases the core rejects with UnsupportedOperatorError (reason in the README's
# "Unsupported" section). A case here that starts passing fails the test, so the list and
# the README stay honest.
KNOWN_UNSUPPORTED = {
    # float64 tensors: the core computes in float32 and refuses to silently downcast.
    "pytorch-operator/test_operator_add_broadcast": "float64",
    "pytorch-operator/test_operator_add_size1_broadcast": "float64",
    "pytorch-operator/test_operator_add_size1_right_broadcast": "float64",
    "pytorch-operator/test_operator_add_size1_singleton_broadcast": "float64",
    "pytorch-operator/test_operator_addconstant": "float64",
}


def _cases():
    for suite in SUITES:
        for d in sorted((ONNX_TEST_DATA / suite).iterdir()):
            if (d / "model.onnx").is_file():
                yield pytest.param(d, id=f"{suite}/{d.name}")


def _tensors(directory: Path, prefix: str):
    files = sorted(directory.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[-1]))
    out = []
    for f in files:
        t = onnx.TensorProto()
        t.ParseFromString(f.read_bytes())
        out.append(numpy_helper.to_array(t))
    return out


def _run_case(case_dir: Path):
    model = tw.load_model(case_dir / "model.onnx")
    data = case_dir / "test_data_set_0"
    inputs = _tensors(data, "input")
    feeds = {info.name: arr for info, arr in zip(model.inputs, inputs)}
    outs = tw.Session(model).run(feeds)
    return model, outs, _tensors(data, "output")


@pytest.mark.native
@pytest.mark.parametrize("case_dir", list(_cases()))
def test_backend_case(case_dir):
    key = f"{case_dir.parent.name}/{case_dir.name}"
    try:
        model, outs, expected = _run_case(case_dir)
    except tw.UnsupportedOperatorError as e:
        assert key in KNOWN_UNSUPPORTED, f"{key} newly unsupported: {e}"
        assert e.op_type and e.node_name is not None
        return
    assert key not in KNOWN_UNSUPPORTED, f"{key} now passes: remove it from KNOWN_UNSUPPORTED and the README"
    for info, want in zip(model.outputs, expected):
        assert_close(outs[info.name], want, what=f"{key}:{info.name}")


def test_backend_pass_rate_at_least_90_percent():
    total = len(list(_cases()))
    assert total >= 100
    assert len(KNOWN_UNSUPPORTED) <= 0.10 * total
