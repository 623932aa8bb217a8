"""Issue 27, item 4: ``main.py doctor``, one line per check, exit 1 when a door would
miss something; with a video as the camera it passes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from kiosk.cli.doctor import (
    check_camera,
    check_clock,
    check_database,
    check_display,
    check_door,
)
from kiosk.config import DoorSettings, Settings
from kiosk.storage.osdp_key import osdp_key, osdp_key_path
from tests.support.osdp_panel import panel, pty_line
from tests.support.videos import write_video

REPO = Path(__file__).resolve().parents[2]


def test_a_fresh_machine_is_told_what_is_missing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", camera=str(tmp_path / "none.avi"))
    camera = check_camera(settings, seconds=1)
    assert camera.status == "FAIL" and "does not exist" in camera.detail
    database = check_database(settings)
    assert database.status == "FAIL" and "none at" in database.detail
    assert not (tmp_path / "home").exists()  # the doctor created nothing
    assert check_display({}).status == "FAIL"
    assert check_display({"WAYLAND_DISPLAY": "wayland-0"}).status == "ok"
    assert check_clock(datetime(2001, 1, 1, tzinfo=UTC)).status == "FAIL"
    serial = check_door(replace(settings, door=DoorSettings(kind="serial", serial_device="/x")))
    assert serial.status == "FAIL" and "/x missing" in serial.detail
    webhook = check_door(
        replace(settings, door=DoorSettings(kind="webhook", url="http://127.0.0.1:9/door"))
    )
    assert webhook.status == "FAIL" and "unreachable" in webhook.detail


def test_the_osdp_door_is_checked_against_the_panel(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pty_line() as line:
        door = DoorSettings(kind="osdp", osdp_device=line.device, timeout_seconds=0.5)
        settings = replace(settings, door=door)
        missing = check_door(settings, seconds=0.5)
        assert missing.status == "FAIL" and "osdp.key" in missing.detail
        key = osdp_key(osdp_key_path(settings.effective_key_file))
        silent = check_door(settings, seconds=1.0)
        assert silent.status == "FAIL" and "not polling" in silent.detail
        with panel(line, key, granted=set()):
            answering = check_door(settings, seconds=5.0)
        assert answering.status == "ok" and "Secure Channel" in answering.detail


def test_with_a_video_as_the_camera_it_passes(tmp_path: Path, faces_dir: Path) -> None:
    video = write_video(
        tmp_path / "door.avi", [faces_dir / "face_recognition" / "obama" / "tests_obama3.jpg"]
    )
    env = {
        **os.environ,
        "KIOSK_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
        "KIOSK_ADMIN": "chief",
    }
    env.pop("KIOSK_DATABASE_URL", None)
    main = [sys.executable, str(REPO / "main.py")]
    made = subprocess.run(
        [*main, "admin", "add", "chief", "--role", "admin", "--password-stdin"],
        input="Door-Keeper-2026\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr  # the database and its key exist now
    done = subprocess.run(
        [*main, "doctor", "--camera", str(video)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    names = [line.split()[1].rstrip(":") for line in lines]
    assert names[:8] == ["camera", "models", "database", "door", "display", "GPU", "disk", "clock"]
    assert all(line.split()[0] in ("ok", "warn") for line in lines)
    assert lines[0].startswith("ok    camera: video door.avi gives frames (320x240)")
    assert "sha256 match" in lines[1]
    assert "Traceback" not in done.stderr


def test_a_bad_setting_is_one_line_before_any_check(tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_HOME": str(tmp_path / "home"), "DISPLAY": ":0"}
    env.pop("KIOSK_DATABASE_URL", None)
    env["KIOSK_VISION_NETWORK"] = "nonsense"  # a bad setting: one line, before any check
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "doctor", "--camera", "/none.avi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "network" in done.stderr
