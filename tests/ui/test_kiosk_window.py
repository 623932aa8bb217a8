"""The screen's states, fed by hand (no models): fast checks of what a person sees."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.domain.faces import Box
from kiosk.services.kiosk_loop import Analysis, Decided, DoorReport, LivenessPrompt, LoopReady
from kiosk.ui.admin_login import env_password_check
from kiosk.ui.kiosk_window import KioskWindow, ScreenState

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ONLINE = CameraStatus(True, "", "0", (640, 480, 30.0), (640, 480, 30.0), label="webcam 0")


@pytest.fixture
def screen(qtbot: Any, settings: Settings) -> tuple[KioskWindow, FrameSlot]:
    settings = dataclasses.replace(
        settings, screen=dataclasses.replace(settings.screen, result_seconds=0.5)
    )
    slot = FrameSlot(ONLINE)
    window = KioskWindow(settings, slot, password_check=env_password_check(None), full_screen=False)
    qtbot.addWidget(window)
    window.show_kiosk()
    return window, slot


def _frame(slot: FrameSlot, seq: int) -> None:
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb.flags.writeable = False
    slot.publish(Frame(seq, time.monotonic(), rgb))


def _decided(decision: Decision, person: int | None, repeat: bool = False) -> Decided:
    message = "Welcome, Ada!" if decision.allowed else "Outside your access hours."
    return Decided(decision, message, "Ada" if person else None, person, 0.4, repeat, 500.0, NOW)


def test_a_decision_shows_then_the_screen_returns_to_idle(
    qtbot: Any, screen: tuple[KioskWindow, FrameSlot]
) -> None:
    window, slot = screen
    _frame(slot, 1)
    window.on_update(LoopReady("cpu", "m 1", 3))
    qtbot.waitUntil(lambda: window.state is ScreenState.IDLE)
    window.on_update(Analysis(1, 640, 480, (Box(1, 1, 90, 90),), 0, "checking", 80.0, 9.0))
    assert window.state is ScreenState.CHECKING
    window.on_update(_decided(Decision.ALLOWED, 7))
    assert window.state is ScreenState.ALLOWED
    assert window.banner.title.text() == "ALLOWED  ·  Ada"
    qtbot.waitUntil(lambda: window.state is ScreenState.IDLE, timeout=5000)
    # within the cooldown the same person is not shown again
    window.on_update(_decided(Decision.ALLOWED, 7, repeat=True))
    assert window.state is ScreenState.IDLE
    window.on_update(_decided(Decision.DENIED_SCHEDULE, 8))
    assert window.state is ScreenState.DENIED
    assert window.banner.message.text() == "Outside your access hours."


def test_camera_offline_overrides_everything_and_recovers(
    qtbot: Any, screen: tuple[KioskWindow, FrameSlot]
) -> None:
    window, slot = screen
    _frame(slot, 1)
    window.on_update(LoopReady("cpu", "m 1", 3))
    window.on_update(_decided(Decision.ALLOWED, 7))
    slot.set_status(dataclasses.replace(ONLINE, online=False, offline_since=1.0, attempts=2))
    qtbot.waitUntil(lambda: window.state is ScreenState.OFFLINE)
    assert "attempt 2" in window.banner.message.text()
    slot.set_status(ONLINE)
    _frame(slot, 2)
    qtbot.waitUntil(lambda: window.state is not ScreenState.OFFLINE)


def test_staff_are_told_when_nobody_is_enrolled(
    qtbot: Any, screen: tuple[KioskWindow, FrameSlot]
) -> None:
    window, _ = screen
    window.on_update(LoopReady("cpu", "m 1", 0))
    assert window.staff_warning.isVisible() and "nobody is enrolled" in window.staff_warning.text()
    window.on_update(LoopReady("cpu", "m 1", 2))
    assert not window.staff_warning.isVisible()


def test_a_liveness_prompt_is_shown_while_checking(
    qtbot: Any, screen: tuple[KioskWindow, FrameSlot]
) -> None:
    window, slot = screen
    _frame(slot, 1)
    window.on_update(LoopReady("cpu", "m 1", 3))
    window.on_update(LivenessPrompt("Turn your head left.", "Ada"))
    assert window.state is ScreenState.CHECKING
    assert window.banner.message.text() == "Turn your head left."


def test_a_late_door_answer_is_not_shown_on_the_next_persons_screen(
    qtbot: Any, screen: tuple[KioskWindow, FrameSlot]
) -> None:
    window, slot = screen
    _frame(slot, 1)
    window.on_update(LoopReady("cpu", "m 1", 3))
    window.on_update(_decided(Decision.ALLOWED, 7))
    window.on_update(DoorReport(True, "ok", person_id=7))
    assert window.banner.message.text() == "Welcome, Ada!  Please come in."
    bo = Decided(Decision.ALLOWED, "Welcome, Bo!", "Bo", 8, 0.4, False, 500.0, NOW)
    window.on_update(bo)
    window.on_update(DoorReport(False, "door webhook answered HTTP 503", person_id=7))
    assert window.banner.message.text() == "Welcome, Bo!"  # Ada's door is not Bo's
    assert window.staff_warning.isVisible() and "503" in window.staff_warning.text()
    window.on_update(DoorReport(True, "ok", person_id=8))
    assert window.banner.message.text() == "Welcome, Bo!  Please come in."
