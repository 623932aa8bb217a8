"""Issue 27: what the person at the door reads when an access panel refuses the badge
or does not answer: "Please see staff", never the green ALLOWED."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.services.announce import DOOR_FAILED_MESSAGE
from kiosk.services.loop_messages import Decided, DoorReport
from kiosk.ui.kiosk_window import ScreenState
from tests.ui.test_kiosk_window import _window

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_panel_that_did_not_grant_is_please_see_staff(qtbot: Any, settings: Settings) -> None:
    window, _slot = _window(qtbot, settings)
    window.on_update(
        Decided(
            Decision.ERROR, DOOR_FAILED_MESSAGE, "Ada", 7, 0.4, 300.0, WHEN, 1, door_failed=True
        )
    )
    window.on_update(DoorReport(False, "door osdp: no answer from the panel within 2 s", 7))
    assert window.state is ScreenState.DOOR_FAILED
    assert window.banner.title.text().startswith("Please see staff")
    assert "no answer from the panel" in (window.staff_bar.notice("door") or "")
    if os.environ.get("KIOSK_SCREENSHOTS"):
        window.grab().save(os.path.join(os.environ["KIOSK_SCREENSHOTS"], "panel_failed.png"))


def test_a_panel_that_granted_is_allowed(qtbot: Any, settings: Settings) -> None:
    window, _slot = _window(qtbot, settings)
    window.on_update(Decided(Decision.ALLOWED, "Welcome, Ada.", "Ada", 7, 0.4, 300.0, WHEN, 1))
    window.on_update(DoorReport(True, "door: panel granted", 7))
    assert window.state is ScreenState.ALLOWED
    if os.environ.get("KIOSK_SCREENSHOTS"):
        window.grab().save(os.path.join(os.environ["KIOSK_SCREENSHOTS"], "panel_granted.png"))
