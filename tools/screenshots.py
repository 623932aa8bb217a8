"""The screenshots in ``docs/images``, made from the real windows (``make screenshots``):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m tools.screenshots [DIR]

It runs the two screenshot scripts that render every state of the windows
(``tests.ui.screenshots``: the kiosk screen fed by hand; ``tests.ui_admin.screenshots``:
the admin console over a fresh database filled through the real pipeline) into a
temporary folder, then copies the states the documentation shows into ``DIR`` (default
``docs/images``) as ``kiosk-*.png`` and ``console-*.png``. Nothing in ``DIR`` changes
unless both scripts succeed and every state below was rendered.

The windows show faces from ``../shared/faces`` (the camera picture, the people's
photos), which must not be copied into the repository: every face the detector finds in
a screenshot is pixelated before it is written (``--anonymise DIR`` does it again to the
PNGs already there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KIOSK_SIZE = "1024x640"
CONSOLE_SIZE = "1280x800"

#: the kiosk screen's states the guides show (tests/ui/screenshots.py's names)
KIOSK = (
    "02_idle",
    "03_checking",
    "04_allowed",
    "05_denied_unknown",
    "07_denied_schedule",
    "08_door_failed",
    "08a_liveness_prompt",
    "08b3_liveness_once_more",
    "08c_denied_picture",
    "08e_hold_still",
    "09_status_line",
    "10_camera_offline",
    "12_out_of_order",
    "13_admin_login",
    "15_badge_entry",
)

#: the console's pages and dialogs the guides show (tests/ui_admin/screenshots.py's names)
CONSOLE = (
    "01-sign-in",
    "01b-today",
    "02-people",
    "03-enroll-checked",
    "04-question-before-saving",
    "05-enroll-no-consent",
    "06-people-saved",
    "09-access-rules",
    "10-access-log",
    "11-log-partial-name",
    "14b-capture-live",
    "15-security-level",
    "16-accounts",
)


def render(module: str, size: str, out: Path) -> str | None:
    """Run one screenshot script; the reason it failed, or None."""
    done = subprocess.run(
        [sys.executable, "-m", module, size, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"{module} failed (exit {done.returncode}): {last}"
    return None


#: a face's box is widened by this much on each side before it is pixelated (hair, ears)
MARGIN = 0.35
#: pixelated into blocks this many pixels wide
BLOCK = 12


def anonymise(paths: list[Path]) -> int:
    """Pixelate every face MTCNN finds in each PNG (in place); the number of faces."""
    import cv2
    import numpy as np
    import torch

    from kiosk.vision.detector import FaceDetector

    detector = FaceDetector(torch.device("cpu"))
    found = 0
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        h, w = bgr.shape[:2]
        for face in detector.detect(rgb):
            b = face.box
            mx, my = (b.x2 - b.x1) * MARGIN, (b.y2 - b.y1) * MARGIN
            x1, y1 = max(int(b.x1 - mx), 0), max(int(b.y1 - my), 0)
            x2, y2 = min(int(b.x2 + mx), w), min(int(b.y2 + my), h)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            patch = bgr[y1:y2, x1:x2]
            small = cv2.resize(
                patch,
                (max(1, (x2 - x1) // BLOCK), max(1, (y2 - y1) // BLOCK)),
                interpolation=cv2.INTER_AREA,
            )
            bgr[y1:y2, x1:x2] = cv2.resize(
                small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST
            )
            found += 1
        cv2.imwrite(str(path), bgr)
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--anonymise"]:
        folder = Path(args[1] if len(args) > 1 else "docs/images")
        count = anonymise(sorted(folder.glob("*.png")))
        print(f"{count} faces pixelated in {folder}")
        return 0
    target = Path(args[0] if args else "docs/images")
    if not os.environ.get("DISPLAY"):
        print(
            "error: no display: run it under Xvfb (make screenshots, or "
            'xvfb-run -a -s "-screen 0 1920x1080x24" ... -m tools.screenshots)',
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
        rendered = Path(tmp)
        for module, size, name in (
            ("tests.ui.screenshots", KIOSK_SIZE, "kiosk"),
            ("tests.ui_admin.screenshots", CONSOLE_SIZE, "console"),
        ):
            problem = render(module, size, rendered / name)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 1
        wanted = [("kiosk", n) for n in KIOSK] + [("console", n) for n in CONSOLE]
        missing = [
            f"{kind}/{n}" for kind, n in wanted if not (rendered / kind / f"{n}.png").is_file()
        ]
        if missing:
            print(f"error: not rendered: {', '.join(missing)}", file=sys.stderr)
            return 1
        target.mkdir(parents=True, exist_ok=True)
        anonymise([rendered / kind / f"{n}.png" for kind, n in wanted])
        for kind, n in wanted:
            shutil.copyfile(rendered / kind / f"{n}.png", target / f"{kind}-{n}.png")
    print(f"{len(wanted)} screenshots in {target}, every face found pixelated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
