"""onnxruntime as the reference implementation (a test-only dependency)."""
import numpy as np
import onnxruntime as ort


def ort_run(model_or_path, feeds: dict) -> dict:
    src = model_or_path if isinstance(model_or_path, (str, bytes)) else model_or_path.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-3, atol: float = 1e-4, what: str = ""):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype == np.bool_ or np.issubdtype(actual.dtype, np.integer):
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)
