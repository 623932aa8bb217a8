"""``main.py import CSV PHOTOS``: the same use case as the console's Import dialog, one
line per refused row on stderr, exit 1 when a row was refused, and a second run that
changes nothing (real SQLite, real MTCNN and SFace, photos from ../shared/faces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk import app, cli

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture()
def run_cli(kiosk_home: Path, pipeline: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    monkeypatch.setattr(app, "load_pipeline", lambda settings: pipeline)
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_import_command_refuses_rows_in_one_line_each_and_runs_twice_the_same(
    faces_dir: Path, run_cli: Any, tmp_path: Path
) -> None:
    assert run_cli("admin", "add", "root", "--role", "admin")[0] == 0
    photos = tmp_path / "PHOTOS"
    for badge, photo in (("A1", "deepface/Angelina/img2.jpg"), ("J1", "deepface/Jack/img16.jpg")):
        (photos / badge).mkdir(parents=True)
        (photos / badge / Path(photo).name).symlink_to(faces_dir / photo)
    staff = tmp_path / "staff.csv"
    staff.write_text(
        "name,badge,group,valid_from,valid_until,consent\n"
        "Angelina,A1,,2026-01-01,,yes\n"
        "Jack,J1,,,,no\n"
        "Nobody,N1,,,,yes\n"
    )
    code, out, err = run_cli("import", str(staff), str(photos), "--check")
    assert code == 1 and "line 2: Angelina (badge A1): enroll from 1 photo(s)" in out
    code, out, err = run_cli("import", str(staff), str(photos))
    assert code == 1
    refused = err.strip().splitlines()
    assert len(refused) == 2, err
    assert "line 3: Jack (badge J1): refused: no consent" in refused[0]
    assert "line 4: Nobody (badge N1): refused: no photos in PHOTOS/N1/" in refused[1]
    assert "enrolled with 1 photo(s)" in out
    code, out, err = run_cli("import", str(staff), str(photos))
    assert code == 1 and "nothing to do: already imported" in out
    code, out, _ = run_cli("people", "list", "--json")
    assert out.count('"badge"') == 1
    code, _, err = run_cli("import", str(tmp_path / "missing.csv"), str(photos))
    assert code != 0 and len(err.strip().splitlines()) == 1 and "not a file" in err


def test_enroll_has_a_consent_option(faces_dir: Path, run_cli: Any) -> None:
    """Issue 26: ``enroll`` on the command line had no consent option."""
    assert run_cli("admin", "add", "root", "--role", "admin")[0] == 0
    photo = str(faces_dir / "deepface" / "Angelina" / "img2.jpg")
    code, out, err = run_cli("enroll", "--name", "A", "--badge", "A1", "--consent", "no", photo)
    assert code == 2 and "consent" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("enroll", "--name", "A", "--badge", "A1", "--consent", "yes", photo)
    assert code == 0, err
    code, out, _ = run_cli("people", "show", "--badge", "A1")
    assert "consent_by: root" in out
