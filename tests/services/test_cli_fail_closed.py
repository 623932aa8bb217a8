"""Issue 25, item 8: command-line edges. ``--exit-after`` out of range, a device or a FIFO
given as a photo, and an enrollment batch where someone was not enrolled: one line and a
non-zero exit, never a traceback, a hang or a success."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from kiosk import app, cli

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture()
def run_cli(
    kiosk_home: Path,
    pipeline: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    monkeypatch.setattr(app, "load_pipeline", lambda settings: pipeline)
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


@pytest.mark.parametrize("value", ["nan", "1e400", "1e7", "-1"])
def test_exit_after_out_of_range_is_one_line(run_cli: Any, value: str) -> None:
    code, _, err = run_cli("kiosk", "--exit-after", value)
    assert code == 2 and err.count("\n") == 1 and "--exit-after" in err


def test_a_device_or_a_fifo_is_not_read_as_a_photo(run_cli: Any, tmp_path: Path) -> None:
    code, out, err = run_cli("embed", "/dev/zero")
    assert code == 2 and "not a regular file" in out + err
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    result: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: result.append(run_cli("embed", str(fifo))))
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the old code's read, then fail
        with open(fifo, "wb"):
            pass
        worker.join(5)
        pytest.fail("reading a FIFO as a photo hung")
    code, out, err = result[0]
    assert code == 2 and "not a regular file" in out + err


def test_an_enrollment_batch_with_someone_not_enrolled_is_not_a_success(
    run_cli: Any, faces_dir: Path, tmp_path: Path
) -> None:
    assert run_cli("admin", "add", "root")[0] == 0
    folder = tmp_path / "people"
    (folder / "Angelina").mkdir(parents=True)
    (folder / "Angelina" / "img1.jpg").symlink_to(faces_dir / "deepface" / "Angelina" / "img1.jpg")
    (folder / "Nobody").mkdir()
    (folder / "Nobody" / "notes.txt").write_text("not a photo")
    code, out, err = run_cli("enroll", "--from-folder", str(folder))
    assert "enrolled Angelina" in out and "not enrolled Nobody" in err
    assert code == 1


def test_identify_against_the_enrolled_needs_a_sign_in_and_is_recorded(
    run_cli: Any, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = str(faces_dir / "deepface" / "Jack" / "img62.jpg")
    assert run_cli("admin", "add", "root")[0] == 0
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", "not-the-password")
    code, out, err = run_cli("identify", "--json", photo)
    assert code == 2 and out == "" and "wrong user name or password" in err
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)
    code, out, _ = run_cli("identify", "--json", photo)
    assert code == 1 and out  # unknown face: not let in
    code, out, _ = run_cli("log", "admin-actions", "--action", "identify")
    assert "root" in out and "photos" in out
