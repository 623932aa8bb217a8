"""The core command line in a real subprocess: output format and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_VISION_DEVICE": "cpu"}
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def photos(faces_dir: Path) -> dict[str, Path]:
    return {
        "a1": faces_dir / "deepface/Angelina/img1.jpg",
        "a2": faces_dir / "deepface/Angelina/img10.jpg",
        "j": faces_dir / "deepface/Jennifer/img3.jpg",
        "two": faces_dir / "face_recognition/_multi_face/ex_two_people.jpg",
    }


def test_verify_exit_codes(photos: dict[str, Path], tmp_path: Path) -> None:
    same = run("verify", "--json", str(photos["a1"]), str(photos["a2"]))
    assert same.returncode == 0, same.stderr
    body = json.loads(same.stdout)
    assert body["same"] is True and body["distance"] < body["threshold"]
    diff = run("verify", str(photos["a1"]), str(photos["j"]))
    assert diff.returncode == 1 and "different people" in diff.stdout
    bad = tmp_path / "bad.jpg"
    bad.write_text("hello")
    err = run("verify", str(photos["a1"]), str(bad))
    assert err.returncode == 2
    assert err.stderr.startswith("error: ") and "Traceback" not in err.stderr
    assert len(err.stderr.strip().splitlines()) == 1


def test_embed_lines_and_stdin(photos: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    out = run("embed", str(photos["a1"]), "-", stdin=f"{bad}\n{photos['two']}\n")
    assert out.returncode == 2  # one file was bad, the others still came out
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["img1.jpg", "empty.jpg", "ex_two_people.jpg"]
    assert rows[0]["faces"] == 1 and len(rows[0]["embedding"]) == 128 and rows[0]["error"] is None
    assert rows[1]["embedding"] is None and "empty" in rows[1]["error"]
    assert rows[2]["faces"] == 2 and len(rows[2]["box"]) == 4
    # The distance verify prints is the euclidean distance between two embed lines.
    a2 = json.loads(run("embed", str(photos["a2"])).stdout)
    import numpy as np

    d = float(np.linalg.norm(np.array(rows[0]["embedding"]) - np.array(a2["embedding"])))
    v = json.loads(run("verify", "--json", str(photos["a1"]), str(photos["a2"])).stdout)
    assert d == pytest.approx(v["distance"], abs=1e-5)


def test_identify_with_folder_gallery(faces_dir: Path, tmp_path: Path) -> None:
    gallery = tmp_path / "gallery"
    for name, files in {
        "Angelina": ["img1.jpg", "img2.jpg", "img4.jpg"],
        "Jennifer": ["img3.jpg", "img12.jpg"],
    }.items():
        (gallery / name).mkdir(parents=True)
        for f in files:
            (gallery / name / f).symlink_to(faces_dir / "deepface" / name / f)
    probe_known = faces_dir / "deepface/Angelina/img10.jpg"
    probe_unknown = (
        faces_dir / "deepface/Mark/" / sorted(os.listdir(faces_dir / "deepface/Mark"))[0]
    )
    out = run("identify", "--json", "--gallery", str(gallery), str(probe_known), str(probe_unknown))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    by_path = {Path(r["path"]).parent.name: r for r in rows if r["main"]}
    assert by_path["Angelina"]["name"] == "Angelina"
    assert by_path["Mark"]["name"] is None and by_path["Mark"]["kind"] == "unknown"


def test_usage_errors() -> None:
    assert run().returncode == 2
    out = run("verify", "only-one")
    assert out.returncode == 2 and "usage" in out.stderr
