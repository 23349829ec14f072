"""`tinyai-workbench run` and `import`: headless runs checked against ONNX test data."""
import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tinyai_workbench.app.cli import main

from conftest import ONNX_TEST_DATA

pytestmark = pytest.mark.native

CASE = ONNX_TEST_DATA / "pytorch-converted" / "test_Conv2d"


def test_run_checks_expected_outputs(capsys):
    code = main(["run", str(CASE / "model.onnx"), "--inputs", str(CASE / "test_data_set_0"),
                 "--repeat", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["runs"] == 2
    assert report["comparison"] and all(row["ok"] for row in report["comparison"])
    assert report["stats"]["total_peak_bytes"] > 0


def test_run_reports_a_mismatch(tmp_path, capsys):
    data = tmp_path / "test_data_set_0"
    shutil.copytree(CASE / "test_data_set_0", data)
    t = onnx.TensorProto()
    t.ParseFromString((data / "output_0.pb").read_bytes())
    wrong = numpy_helper.to_array(t) + 1.0
    (data / "output_0.pb").write_bytes(numpy_helper.from_array(wrong.astype(np.float32), t.name).SerializeToString())
    assert main(["run", str(CASE / "model.onnx"), "--inputs", str(data)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_run_bad_file_is_a_clean_error(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["run", str(bad)]) == 2
    assert "error:" in capsys.readouterr().err


def test_import_command(tmp_path, capsys):
    out = tmp_path / "converted"
    assert main(["import", str(CASE / "model.onnx"), str(out)]) == 0
    assert (out / "graph.json").is_file() and (out / "weights.bin").is_file()
