"""Issue 26: with no display the kiosk (and the console) ended with exit code 134 and
Qt's own message. Now: one line and exit code 2, checked before Qt starts; a missing
system library of X11's platform is named the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.app import XCB_LIBRARIES, require_display
from kiosk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["kiosk", "--windowed"], ["admin-console"]])
def test_no_display_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("KIOSK_DATABASE_URL", None)
    env["KIOSK_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "main.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: no display to open the window on: DISPLAY and")
    assert "xvfb-run" in lines[0] and "docs/display.md" in lines[0]


def test_the_platforms_that_need_no_display_and_a_missing_library() -> None:
    require_display({"QT_QPA_PLATFORM": "offscreen"}, platform="linux")
    require_display({}, platform="win32")
    require_display({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux")
    with pytest.raises(ConfigError, match="for QT_QPA_PLATFORM=xcb"):
        require_display({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"}, platform="linux")
    present = {"xcb-cursor", "xkbcommon-x11"}
    with pytest.raises(ConfigError) as caught:
        require_display(
            {"DISPLAY": ":0"},
            platform="linux",
            find_library=lambda name: name if name in present else None,
        )
    message = str(caught.value)
    assert "libxcb-icccm4 libxcb-keysyms1" in message and "libxcb-cursor0" not in message
    assert "apt-get install" in message
    require_display({"DISPLAY": ":0"}, platform="linux", find_library=lambda name: name)
    assert len(XCB_LIBRARIES) == 9
