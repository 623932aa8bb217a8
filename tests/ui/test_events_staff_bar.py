"""Issue 27: the event bus's losses are shown to staff on the kiosk's staff bar, and
taken away when the bus is well again; the person at the door is not told."""

from __future__ import annotations

import os
from typing import Any

from kiosk.config import Settings
from kiosk.services.loop_messages import StaffNotice
from tests.ui.test_kiosk_window import _window


def test_the_bus_losses_are_on_the_staff_bar(qtbot: Any, settings: Settings) -> None:
    window, _slot = _window(qtbot, settings)
    line = "message bus: 180 events lost (queue of 20 full; broker bus.example:1883 unreachable)"
    window.on_update(StaffNotice("events", line))
    assert window.staff_bar.notice("events") == line
    assert window.staff_bar.isVisible() and line in window.staff_bar.text()
    if os.environ.get("KIOSK_SCREENSHOTS"):
        window.grab().save(os.path.join(os.environ["KIOSK_SCREENSHOTS"], "events_lost.png"))
    window.on_update(StaffNotice("events", None))
    assert window.staff_bar.notice("events") is None
