"""Bad files and bad inputs give clear exceptions and leave the process alive."""
import os

import numpy as np
import onnx
import pytest

import tinyai_workbench as tw

from tiny_models import save, single_op_model, tiny_cnn

pytestmark = pytest.mark.native


@pytest.fixture
def model_path(tmp_path):
    return save(tiny_cnn(), tmp_path / "tiny.onnx")


def test_truncated_file(tmp_path, model_path):
    data = model_path.read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(tw.ModelError):
        tw.load_model(bad)


def test_random_bytes(tmp_path):
    bad = tmp_path / "random.onnx"
    bad.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(tw.ModelError):
        tw.load_model(bad)


def test_protobuf_that_is_not_a_model(tmp_path):
    bad = tmp_path / "tensor.onnx"
    bad.write_bytes(onnx.numpy_helper.from_array(np.ones((4, 4), np.float32), "t").SerializeToString())
    with pytest.raises(tw.ModelError, match="(?i)model"):
        tw.load_model(bad)


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.onnx"
    bad.write_bytes(b"")
    with pytest.raises(tw.ModelError):
        tw.load_model(bad)


def test_missing_file(tmp_path):
    with pytest.raises(tw.ModelError, match="not found"):
        tw.load_model(tmp_path / "nope.onnx")


def test_missing_external_data(tmp_path):
    path = save(tiny_cnn(), tmp_path / "ext.onnx", external=True)
    os.remove(tmp_path / "ext.onnx.data")
    with pytest.raises(tw.ModelError, match="ext.onnx.data"):
        tw.load_model(path)


def test_unsupported_operator_names_op_and_node(tmp_path):
    path = save(single_op_model("NoSuchOperator"), tmp_path / "unsupported.onnx")
    with pytest.raises(tw.UnsupportedOperatorError) as info:
        tw.Session(tw.load_model(path))
    assert info.value.op_type == "NoSuchOperator"
    assert info.value.node_name == "my_nosuchoperator"
    assert "NoSuchOperator" in str(info.value) and "my_nosuchoperator" in str(info.value)


def test_custom_domain_is_unsupported(tmp_path):
    path = save(single_op_model("Fancy", domain="com.example"), tmp_path / "custom.onnx")
    with pytest.raises(tw.UnsupportedOperatorError):
        tw.Session(tw.load_model(path))


@pytest.fixture
def session(model_path):
    return tw.Session(tw.load_model(model_path))


def test_wrong_input_name(session):
    with pytest.raises(tw.InputError, match="unknown input 'image'.*'x'"):
        session.run({"image": np.zeros((1, 3, 16, 16), np.float32)})


def test_missing_input(session):
    with pytest.raises(tw.InputError, match="missing input 'x'"):
        session.run({})


def test_wrong_rank(session):
    with pytest.raises(tw.InputError, match="rank 4"):
        session.run({"x": np.zeros((3, 16, 16), np.float32)})


def test_wrong_static_dimension(session):
    with pytest.raises(tw.InputError, match="dimension 2 must be 16"):
        session.run({"x": np.zeros((1, 3, 15, 16), np.float32)})


def test_wrong_dtype(session):
    with pytest.raises(tw.InputError, match="float64"):
        session.run({"x": np.zeros((1, 3, 16, 16), np.float64)})
    with pytest.raises(tw.InputError, match="float32"):
        session.run({"x": np.zeros((1, 3, 16, 16), np.int64)})


def test_session_still_usable_after_errors(session):
    for bad in ({}, {"x": np.zeros((1, 3, 15, 16), np.float32)}):
        with pytest.raises(tw.InputError):
            session.run(bad)
    out = session.run({"x": np.ones((2, 3, 16, 16), np.float32)})
    assert out["y"].shape == (2, 10)


def test_corrupted_weights_file_is_detected(model_path):
    model = tw.load_model(model_path)
    weights = model.weights_path.read_bytes()
    # Flip a byte inside the first non-empty blob (after the 64-byte header).
    corrupted = bytearray(weights)
    corrupted[64 + 5] ^= 0xFF
    model.weights_path.write_bytes(bytes(corrupted))
    try:
        with pytest.raises(tw.ModelError, match="(?i)corrupt|checksum"):
            tw.Session(model)
    finally:
        model.weights_path.write_bytes(weights)


def test_truncated_weights_file_is_detected(model_path):
    model = tw.load_model(model_path)
    weights = model.weights_path.read_bytes()
    model.weights_path.write_bytes(weights[:-10])
    try:
        with pytest.raises(tw.ModelError, match="(?i)truncated|invalid"):
            tw.Session(model)
    finally:
        model.weights_path.write_bytes(weights)


def test_bad_config_values_name_the_field(model_path):
    model = tw.load_model(model_path)
    with pytest.raises(ValueError, match="memory.memory_speed_tradeoff"):
        tw.Session(model, tw.Config(memory=tw.MemoryOptimizerConfig(memory_speed_tradeoff=1.5)))
    with pytest.raises(ValueError, match="simd_level"):
        tw.Session(model, tw.Config(simd_level=7))
