"""Screenshots of a widget at the two sizes screens are checked at (1200x760, full HD),
taken by a test that reaches a state worth looking at, only when ``KIOSK_SHOTS`` names a
folder (run under xvfb-run to look at them; off in ``make test``)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

SIZES = ((1200, 760), (1920, 1080))


def maybe_shot(widget: QWidget, name: str) -> None:
    folder = os.environ.get("KIOSK_SHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        widget.resize(width, height)
        widget.show()
        QApplication.processEvents()
        widget.grab().save(str(Path(folder) / f"{name}-{width}x{height}.png"))
