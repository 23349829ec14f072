"""Without a display the bare command explains what to run instead of letting Qt abort."""
import sys

import pytest

from tinyai_workbench.app.gui import run_gui


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="always has a display")
def test_no_display_is_a_clear_error(monkeypatch, capsys):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert run_gui() == 2
    err = capsys.readouterr().err
    assert "no display" in err and "tinyai-workbench demo" in err
