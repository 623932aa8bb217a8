"""Issue 12 with the real pipeline and real photos: tiny images are one line (MTCNN used to
fail with a traceback and stop a whole enrollment batch), an enrollment run again adds
nothing, and one damaged template no longer denies everyone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kiosk import app, cli

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
        assert "Traceback" not in err
        return code, out, err

    return run


@pytest.fixture()
def tiny(tmp_path: Path) -> list[Path]:
    paths = []
    for w, h in ((1, 1), (39, 39), (300, 30)):
        path = tmp_path / f"tiny-{w}x{h}.png"
        Image.new("RGB", (w, h), (200, 150, 120)).save(path)
        paths.append(path)
    return paths


def test_tiny_images_are_one_line_each(run_cli: Any, tiny: list[Path], faces_dir: Path) -> None:
    code, out, err = run_cli("embed", *map(str, tiny))
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and len(records) == 3
    assert all("too small to hold a face" in r["error"] for r in records)
    good = faces_dir / "deepface" / "Angelina" / "img1.jpg"
    for path in tiny:
        code, out, err = run_cli("verify", str(path), str(good))
        assert code == 2 and err.count("\n") == 1 and "too small to hold a face" in err


def test_a_tiny_photo_does_not_stop_an_enrollment_batch(
    run_cli: Any, tiny: list[Path], faces_dir: Path, tmp_path: Path, kiosk_home: Path
) -> None:
    assert run_cli("admin", "add", "root")[0] == 0
    folder = tmp_path / "people"
    deepface = faces_dir / "deepface"
    for person, photos in (("Angelina", ("img1.jpg", "img2.jpg")), ("Jack", ("img16.jpg",))):
        (folder / person).mkdir(parents=True)
        for name in photos:
            (folder / person / name).symlink_to(deepface / person / name)
    (folder / "Angelina" / "tiny.png").write_bytes(tiny[1].read_bytes())
    code, out, err = run_cli("enroll", "--from-folder", str(folder))
    assert code == 0, err
    assert "enrolled Angelina (badge Angelina): 2 photo(s) stored" in out
    assert "enrolled Jack (badge Jack): 1 photo(s) stored" in out
    assert "tiny.png: the image is 39x39 pixels, too small to hold a face" in err

    # killed and run again: nothing is stored twice
    code, out, err = run_cli("enroll", "--from-folder", str(folder))
    assert code == 0, err
    assert "Angelina (badge Angelina): 0 photo(s) stored, 2 already stored" in out
    with sqlite3.connect(kiosk_home / "kiosk.db") as db:
        assert db.execute("SELECT count(*) FROM templates").fetchone()[0] == 3


def test_one_damaged_template_does_not_deny_everyone(
    run_cli: Any, faces_dir: Path, kiosk_home: Path
) -> None:
    deepface = faces_dir / "deepface"
    assert run_cli("admin", "add", "root")[0] == 0
    for name, badge, photo in (("Angelina", "A1", "img1.jpg"), ("Jack", "J1", "img16.jpg")):
        code, _, err = run_cli(
            "enroll", "--name", name, "--badge", badge, str(deepface / name / photo)
        )
        assert code == 0, err
    with sqlite3.connect(kiosk_home / "kiosk.db") as db:
        db.execute(
            "UPDATE templates SET embedding = x'00010203' WHERE person_id = "
            "(SELECT id FROM people WHERE badge = 'A1')"
        )
    code, out, err = run_cli("identify", "--json", str(deepface / "Jack" / "img62.jpg"))
    assert code == 0, err
    row = json.loads(out.splitlines()[0])
    assert (row["name"], row["decision"]) == ("Jack", "allowed")
    assert "warning: face template" in err and "badge A1 is damaged" in err
    code, out, _ = run_cli("log", "verify")
    assert code == 1 and "face templates damaged" in out
