"""What the kiosk screen says: the title and the line under it for each state, and the
staff's line when recognition is too slow. Plain text from plain values (no widgets), so
that every word a person at the door reads is in one place.
"""

from __future__ import annotations

from kiosk.camera.frames import CameraStatus
from kiosk.camera.sources import describe
from kiosk.liveness.check import AGAIN
from kiosk.services.loop_messages import Analysis, Decided, DoorReport, LoopReady, PaceChanged
from kiosk.ui.kiosk_widgets import ScreenState


def pace_notice(pace: PaceChanged) -> str:
    """What staff read when recognition is too slow for the promised decision time: the
    two rates with as many decimals as it takes to tell them apart (never "1.6 a second,
    1.6 needed"), what people are asked, and what helps, without settings' names."""
    digits = 1
    while digits < 3 and f"{pace.rate:.{digits}f}" == f"{pace.needed:.{digits}f}":
        digits += 1
    return (
        f"recognition is slow: {pace.rate:.{digits}f} a second, under the "
        f"{pace.needed:.{digits}f} it takes to decide within {pace.seconds:g} s, so people "
        "are asked to hold still for longer. A faster computer or a graphics card helps."
    )


def screen_words(
    state: ScreenState,
    *,
    badge_mode: bool,
    badge_read: bool,
    prompt: str | None,
    slow: bool,
    decided: Decided | None,
    door_reported: bool,
    reconnect_attempts: int,
) -> tuple[str, str]:
    """(title, line) for ``state``. ``prompt``: the liveness prompt in force; ``slow``:
    recognition is too slow, people are asked to hold still; ``door_reported``: the door
    has answered the latest opening."""
    if state is ScreenState.STARTING:
        return "Starting…", "The kiosk is getting ready. One moment, please."
    if state is ScreenState.IDLE and badge_mode and not badge_read:
        return "Show your badge", "Hold your badge to the reader, or type your badge number."
    if state is ScreenState.IDLE:
        if badge_read:
            return "Look at the camera", "Badge read. Look at the camera to open the door."
        return "Look at the camera", "Step up and face the camera to open the door."
    if state is ScreenState.CHECKING:
        if prompt is not None:
            # The instruction is what the person must read from a distance: the title
            # says what to do with the arrow beside it, the line below says which way.
            if prompt.startswith(AGAIN):  # a new try, asked at once after a failed one
                rest = prompt[len(AGAIN) :]
                return "Not quite. Once more, please", rest[:1].upper() + rest[1:]
            return "Follow the arrow", prompt
        if slow:
            return "Please hold still", "Keep looking at the camera. This takes a moment."
        return "Checking…", "Hold still and keep looking at the camera."
    if state is ScreenState.ALLOWED:
        message = decided.message if decided else ""
        if door_reported:
            message += "  Please come in."
        return "ALLOWED", message
    if state is ScreenState.DOOR_FAILED:
        return "Please see staff", "The door did not open."
    if state is ScreenState.DENIED:
        return "DENIED", decided.message if decided else ""
    if state is ScreenState.RETRY:
        return (
            "Please step back",
            "Step away from the camera for a moment, then step up and try again.",
        )
    if state is ScreenState.OFFLINE:
        if reconnect_attempts:
            return (
                "Camera offline",
                f"Trying to reconnect (attempt {reconnect_attempts}). Please see staff.",
            )
        return "Camera offline", "No picture from the camera. Please see staff."
    return "Out of order", "This kiosk cannot check faces right now. Please see staff."


def status_line(
    displayed_fps: float,
    analysis: Analysis | None,
    ready: LoopReady | None,
    kiosk_id: str,
    status: CameraStatus,
    door: DoorReport | None,
) -> str:
    """The status line along the bottom, for staff: rates, device, people, camera, door."""
    parts = [f"display {displayed_fps:4.1f} fps"]
    if analysis is not None:
        parts.append(f"recognition {analysis.latency_ms:4.0f} ms, {analysis.rate:4.1f}/s")
    if ready is not None:
        parts.append(f"{ready.device.upper()}")
        parts.append(f"{ready.enrolled} enrolled")
    else:
        parts.append("loading models")
    parts.append(kiosk_id)
    camera = status.label or describe(status.source)
    if status.obtained is not None:
        w, h, fps = status.obtained
        rw, rh, rfps = status.requested
        camera += f" {w}x{h} @ {fps:.0f} fps (asked {rw}x{rh} @ {rfps:.0f})"
    if not status.online:
        camera += " OFFLINE"
    parts.append(camera)
    if door is not None:
        parts.append("door ok" if door.ok else "door FAILED")
    return "  |  ".join(parts)
