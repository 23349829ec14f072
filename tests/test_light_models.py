"""The nine CNNs in onnx's backend test data (light/) against their shipped expected outputs
and onnxruntime."""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

from onnx_reference import assert_close, ort_run

LIGHT_MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                "shufflenet", "squeezenet", "vgg19", "zfnet512"]
SLOW = {"vgg19", "zfnet512", "bvlc_alexnet"}  # hundreds of MB of folded weights


@pytest.mark.native
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in LIGHT_MODELS])
def test_light_model_matches_expected_and_onnxruntime(name, onnx_test_data):
    path = onnx_test_data / "light" / f"light_{name}.onnx"
    model = tw.load_model(path)
    feeds = synthetic_inputs(model)
    ours = tw.Session(model).run(feeds)
    out_name = model.outputs[0].name

    expected = onnx.TensorProto()
    expected.ParseFromString((onnx_test_data / "light" / f"light_{name}_output_0.pb").read_bytes())
    assert_close(ours[out_name], numpy_helper.to_array(expected), what=f"{name} vs shipped output")

    reference = ort_run(str(path), feeds)
    assert_close(ours[out_name], reference[out_name], what=f"{name} vs onnxruntime")
    assert np.isfinite(ours[out_name]).all()
