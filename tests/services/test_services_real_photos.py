"""End to end with the real pipeline and real photos from ../shared/faces: the admin
command line enrolls, identifies, erases and audits on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk import app, cli
from kiosk.vision.imageio import load_image
from kiosk.vision.quality import CAMERA_FRAMES, assess_photo

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture()
def run_cli(
    kiosk_home: Path,
    pipeline: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """``kiosk ARGS...`` in this process, with the session's pipeline (loaded once)."""
    monkeypatch.setattr(app, "load_pipeline", lambda settings: pipeline)
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_quality_checks_on_real_photos(faces_dir: Path, pipeline: Any, tmp_path: Path) -> None:
    good = load_image(faces_dir / "deepface" / "Angelina" / "img2.jpg")
    # the camera's limits: every check refuses
    report, _ = assess_photo(pipeline.analyze(good), CAMERA_FRAMES)
    assert report.ok, report.reasons
    blurred = cv2.GaussianBlur(good, (0, 0), 6)
    blurred_report, _ = assess_photo(pipeline.analyze(blurred), CAMERA_FRAMES)
    assert any("blurred" in r for r in blurred_report.reasons)
    dark = (good.astype(np.float32) * 0.18).astype(np.uint8)
    dark_report, _ = assess_photo(pipeline.analyze(dark), CAMERA_FRAMES)
    assert any("too dark" in r for r in dark_report.reasons), dark_report.reasons
    group = load_image(faces_dir / "face_recognition" / "_multi_face" / "knn_obama_and_biden.jpg")
    group_report, subject = assess_photo(pipeline.analyze(group), CAMERA_FRAMES)
    assert "faces in the photo" in group_report.reasons[0] and subject is None


def test_admin_command_line_end_to_end(faces_dir: Path, run_cli: Any, tmp_path: Path) -> None:
    deepface = faces_dir / "deepface"
    code, out, err = run_cli("admin", "add", "root", "--role", "admin")
    assert code == 0, err

    # a person from several photos; a group photo and a text file are rejected with reasons
    code, out, err = run_cli(
        "enroll", "--name", "Angelina", "--badge", "A-1", "--group", "staff", "--new-group",
        str(deepface / "Angelina" / "img1.jpg"),
        str(deepface / "Angelina" / "img2.jpg"),
        str(faces_dir / "face_recognition" / "_multi_face" / "knn_obama_and_biden.jpg"),
        str(faces_dir / "README.md"),
    )  # fmt: skip
    assert code == 0, err
    assert "enrolled Angelina (badge A-1): 2 photo(s)" in out
    assert "3 faces in the photo" in err and "README.md" in err

    # --from-folder: DIR/<name>/<photos>
    folder = tmp_path / "new"
    (folder / "Jack").mkdir(parents=True)
    for name in ("img16.jpg", "img62.jpg"):
        (folder / "Jack" / name).symlink_to(deepface / "Jack" / name)
    code, out, err = run_cli("enroll", "--from-folder", str(folder), "--json")
    assert code == 0, err
    person = [r for r in lines(out) if "enrolled" in r]
    assert person == [
        {
            "name": "Jack",
            "badge": "Jack",
            "enrolled": True,
            "templates": 2,
            "already_stored": 0,
            "error": None,
        }
    ]

    # a second enrollment of the same face warns about a duplicate
    code, out, err = run_cli(
        "enroll", "--name", "Someone", "--badge", "S-1", str(deepface / "Angelina" / "img5.jpg")
    )
    assert code == 0 and "already matches Angelina (badge A-1, distance" in err

    code, out, err = run_cli("people", "list", "--json")
    assert sorted(r["badge"] for r in lines(out)) == ["A-1", "Jack", "S-1"]

    code, out, err = run_cli("people", "erase", "--badge", "S-1", "--yes")
    assert code == 0 and "1 template(s)" in out

    probe = str(deepface / "Angelina" / "img7.jpg")
    stranger = str(deepface / "Elon" / "img19.jpg")
    code, out, err = run_cli("identify", "--json", probe, stranger)
    rows = lines(out)
    assert code == 1  # the stranger is not let in
    by_path = {r["path"]: r for r in rows if r["main"]}
    assert by_path[probe]["name"] == "Angelina" and by_path[probe]["badge"] == "A-1"
    assert by_path[probe]["decision"] == "allowed" and by_path[probe]["distance"] < 0.6
    assert by_path[stranger]["name"] is None
    assert by_path[stranger]["decision"] == "denied-unknown"

    code, out, err = run_cli("people", "deactivate", "--badge", "A-1")
    assert code == 0
    code, out, err = run_cli("identify", "--json", probe)
    assert code == 1 and lines(out)[0]["decision"] == "denied-inactive"

    code, out, err = run_cli("people", "show", "--badge", "A-1", "--json")
    shown = lines(out)[0]
    assert shown["templates"] == 2 and shown["active"] is False and shown["consent_by"] == "root"

    code, out, err = run_cli("log", "verify")
    assert code == 0 and "intact" in out, out
    code, out, err = run_cli("log", "export", "--csv", str(tmp_path / "log.csv"))
    assert code == 0 and (tmp_path / "log.csv").read_text().startswith("id,time_utc")
    code, out, err = run_cli("purge")
    assert code == 0 and "purged 0 snapshot(s)" in out

    # bad input: unknown badge, wrong password, a missing photo
    code, out, err = run_cli("people", "show", "--badge", "nobody")
    assert code == 2 and "no person has the badge nobody" in err
    code, out, err = run_cli("enroll", "--name", "X", "--badge", "X", str(tmp_path / "none.jpg"))
    assert code == 2 and "no such file" in err


def test_wrong_password_and_missing_key_are_clear_errors(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch, kiosk_home: Path
) -> None:
    assert run_cli("admin", "add", "root")[0] == 0
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", "Wrong-passw0rd")
    code, out, err = run_cli("people", "list")
    assert code == 2 and "error: wrong user name or password" in err
    (kiosk_home / "kiosk.key").unlink()
    code, out, err = run_cli("log", "verify")
    assert code == 3 and "kiosk.key is missing" in err
    Image.new("RGB", (4, 4)).save(kiosk_home / "x.png")  # unrelated files do not matter
