"""The stats recorder's scrolling buffers and CSV export (no Qt needed)."""
import numpy as np

from tinyai_workbench.app.recorder import STATUS_CODES, ScrollBuffer, StatsRecorder


def test_scroll_buffer_keeps_the_latest_window_contiguous():
    b = ScrollBuffer(4, 1)
    for i in range(11):
        b.append((i,))
    v = b.view()
    assert v[:, 0].tolist() == [7, 8, 9, 10] and v.flags["C_CONTIGUOUS"] and len(b) == 4


def test_recorder_marks_executing_layer_and_leaves_unknown_status_na(tmp_path):
    r = StatsRecorder(window=8)
    r.reset(3)
    r.add_sample(0.0, {"activation_bytes": 10, "weight_bytes": 20, "scratch_bytes": 0, "total_bytes": 30,
                       "current_layer": 1}, None, 1000, None, None, None)
    r.add_sample(0.1, {"total_bytes": 30, "current_layer": -1}, 64, None, 0.5, None, ["LOADED", "LOADING", "ERROR"])
    codes = r.status.view()
    assert codes[0].tolist() == [0, STATUS_CODES["EXECUTING"], 0]
    assert codes[1].tolist() == [STATUS_CODES["LOADED"], STATUS_CODES["LOADING"], STATUS_CODES["ERROR"]]
    s = r.series()
    assert np.isnan(s["budget"][0]) and s["budget"][1] == 64 and np.isnan(s["weight_hit_rate"][0])
    r.add_latency(1, 0.25)
    text = r.export_csv(tmp_path / "x.csv").read_text().splitlines()
    assert len(text) == 4 and text[-1].endswith(",1,0.25")
