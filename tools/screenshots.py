"""The screenshots in ``docs/images``, made from the real windows (``make screenshots``):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m tools.screenshots [DIR]

It runs the two screenshot scripts that render every state of the windows
(``tests.ui.screenshots``: the kiosk screen fed by hand; ``tests.ui_admin.screenshots``:
the admin console over a fresh database filled through the real pipeline) into a
temporary folder, then copies the states the documentation shows into ``DIR`` (default
``docs/images``) as ``kiosk-*.png`` and ``console-*.png``. Nothing in ``DIR`` changes
unless both scripts succeed and every state below was rendered.
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
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
        for kind, n in wanted:
            shutil.copyfile(rendered / kind / f"{n}.png", target / f"{kind}-{n}.png")
    print(f"{len(wanted)} screenshots in {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
