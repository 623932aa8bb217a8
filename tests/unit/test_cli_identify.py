"""The ``identify`` printer both commands share: its lines, JSON and exit codes, with fake
answers (the real pipeline runs in tests/vision/test_cli_core.py and
tests/services/test_services_real_photos.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kiosk.cli import _enrolled_line, _gallery_line
from kiosk.cli.common import Row, photo_paths, print_identified
from kiosk.errors import InputError


def answers(by_path: dict[str, list[Row]]) -> Any:
    def identify(path: str) -> list[Row]:
        if path not in by_path:
            raise InputError(f"{path}: no such file")
        return by_path[path]

    return identify


def gallery_row(path: str, face: int, name: str | None, kind: str, main: bool = True) -> Row:
    return {"path": path, "face": face, "main": main, "name": name, "kind": kind,
            "distance": 0.41234567, "threshold": 0.6}  # fmt: skip


def enrolled_row(path: str, face: int, name: str | None, decision: str, main: bool = True) -> Row:
    return {"path": path, "face": face, "main": main, "name": name,
            "badge": "A-1" if name else None, "distance": None if name is None else 0.3,
            "decision": decision}  # fmt: skip


def test_gallery_lines_and_an_unknown_face_is_still_exit_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    identify = answers(
        {
            "a.jpg": [gallery_row("a.jpg", 0, "Ada", "match")],
            "b.jpg": [
                gallery_row("b.jpg", 0, None, "ambiguous"),
                gallery_row("b.jpg", 1, None, "unknown", main=False),
            ],
        }  # fmt: skip
    )
    code = print_identified(["a.jpg", "b.jpg"], identify, as_json=False, line=_gallery_line)
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "a.jpg\tface 0\tAda\t0.4123",
        "b.jpg\tface 0\tunknown (ambiguous)\t0.4123",
        "b.jpg\tface 1\tunknown\t0.4123",
    ]


def test_no_face_is_1_and_an_unreadable_photo_is_2_and_the_rest_still_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    identify = answers({"none.jpg": [], "a.jpg": [gallery_row("a.jpg", 0, "Ada", "match")]})
    assert print_identified(["none.jpg"], identify, as_json=False, line=_gallery_line) == 1
    assert capsys.readouterr().err == "none.jpg: no face found\n"
    code = print_identified(
        ["missing.jpg", "none.jpg", "a.jpg"], identify, as_json=True, line=_gallery_line
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == ["error: missing.jpg: no such file", "none.jpg: no face found"]
    assert [json.loads(line) for line in out.splitlines()] == [identify("a.jpg")[0]]


def test_enrolled_exit_1_when_a_main_face_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    def refused(row: Row) -> bool:
        return bool(row["decision"] != "allowed")

    identify = answers(
        {
            "in.jpg": [
                enrolled_row("in.jpg", 0, "Ada", "allowed"),
                enrolled_row("in.jpg", 1, None, "denied-unknown", main=False),
            ],
            "out.jpg": [enrolled_row("out.jpg", 0, "Ada", "denied-inactive")],
        }  # fmt: skip
    )
    ok = print_identified(["in.jpg"], identify, as_json=False, line=_enrolled_line, refused=refused)
    out, _ = capsys.readouterr()
    assert ok == 0  # a refused face that is not the main one does not count
    assert out.splitlines() == [
        "in.jpg\tface 0\tAda (A-1)\t0.3000\tallowed",
        "in.jpg\tface 1\tunknown\t-\tdenied-unknown",
    ]
    both = ["in.jpg", "out.jpg"]
    assert print_identified(both, identify, as_json=True, line=_enrolled_line, refused=refused) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["decision"] for r in rows] == ["allowed", "denied-unknown", "denied-inactive"]


def test_photo_paths_reads_dash_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("b.jpg\n\n  c.jpg \n"))
    assert list(photo_paths(["a.jpg", "-", "d.jpg"])) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
