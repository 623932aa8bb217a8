"""Issue 27, item 2, end to end: ``main.py kiosk`` on a video with ``[events] mqtt`` set
to a real mosquitto; every decision in the access log arrives on the bus, in order, and
nothing is lost while the broker is up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.test_kiosk_command import PASSWORD, _enroll, _run
from tests.support.mosquitto import MOSQUITTO, broker, listening
from tests.support.videos import write_video


@pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (apt-get install mosquitto)"
)
def test_every_decision_of_a_kiosk_run_on_a_video_reaches_the_bus(
    tmp_path: Path, faces_dir: Path
) -> None:
    faces = faces_dir / "face_recognition"
    env = {
        **os.environ,
        "KIOSK_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
        "KIOSK_ADMIN": "chief",
        "KIOSK_KIOSK_ID": "bus-door",
        "KIOSK_DECISION_MAX_FRAMES": "3",
        "KIOSK_SCREEN_SOUNDS": "false",
        "KIOSK_LIVENESS_MODE": "off",  # still photos cannot turn their head
    }
    env.pop("KIOSK_DATABASE_URL", None)
    env.pop("KIOSK_ADMIN_PASSWORD", None)
    _run(["admin", "add", "chief", "--role", "admin", "--password-stdin"], env, PASSWORD + "\n")
    env["KIOSK_ADMIN_PASSWORD"] = PASSWORD
    photos = [str(faces / "obama" / p) for p in ("tests_obama.jpg", "tests_obama2.jpg")]
    _enroll(env, "Barack Obama", "B-44", photos)
    video = write_video(
        tmp_path / "door.avi",
        [faces / "obama" / "tests_obama3.jpg", faces / "biden" / "tests_biden.jpg"],
        seconds_each=4.0,
    )
    with broker(tmp_path) as port, listening(port, "kiosk/bus-door/#") as heard:
        env["KIOSK_EVENTS_MQTT"] = f"mqtt://127.0.0.1:{port}"
        _run(["kiosk", "--windowed", "--camera", str(video), "--exit-after", "20"], env)
        heard.wait("kiosk/bus-door/state", 3, timeout=5)  # ... stopped
    logged = [json.loads(line) for line in _run(["log", "list", "--json"], env).splitlines()]
    logged.sort(key=lambda e: e["id"])
    sent = [e for e in heard.on("kiosk/bus-door/event") if e["type"] == "decision"]
    assert logged and any(e["decision"] == "allowed" for e in logged)
    # every decision, once, in order (the log also holds door and camera errors: none here)
    assert [(e["decision"], e["person_id"]) for e in sent] == [
        (e["decision"], e["person_id"]) for e in logged
    ]
    states = heard.on("kiosk/bus-door/state")
    assert states[-1]["state"] == "stopped" and states[-1]["lost"] == 0
    assert [e["type"] for e in heard.on("kiosk/bus-door/event")][0] == "started"
