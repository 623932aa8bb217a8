"""The kiosk screen: the live picture with face boxes, one large state banner, a staff
bar along the top, a status line, the badge keypad (badge + face mode), the admin login.

It lives in the GUI thread and never waits: a timer shows the camera's newest frame; the
loop's messages arrive as queued signals (:meth:`KioskWindow.on_update`). While the loop
follows a face the screen does not go back to idle. A result is shown while its face is
in view, then for the rest of ``[screen] result_seconds``, never over another face; after
a failed liveness check, then "step back". ALLOWED means the door was told to open; if
it did not, the screen turns amber.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QColor, QFont, QKeyEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from kiosk.camera.frames import Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import Decision
from kiosk.services.loop_messages import (
    Analysis,
    BadgeRead,
    Decided,
    DoorReport,
    LivenessPrompt,
    LoopMessage,
    LoopReady,
    LoopState,
    Notice,
    PaceChanged,
    StaffNotice,
)
from kiosk.ui.admin_login import AdminChoice, AdminLoginDialog, AdminMenu, PasswordCheck
from kiosk.ui.kiosk_widgets import (
    LOOKS,
    Banner,
    Keypad,
    Look,
    ScreenState,
    Sounds,
    StaffBar,
    VideoView,
    Wedge,
    application,
)
from kiosk.ui.kiosk_words import pace_notice, screen_words, status_line

__all__ = ["KioskWindow", "ScreenState", "application"]  # read from here by callers

log = logging.getLogger(__name__)

#: The loop's word that it follows a face holds this long without news (a loop that
#: stopped answering); the loop itself says when the face has gone.
FOLLOW_STALE_SECONDS = 10.0
#: Face boxes older than this (or than one and a half recognition periods, up to
#: BOX_MAX_AGE_CAP_SECONDS) are not drawn: the recognition fell behind or stopped.
BOX_MAX_AGE_SECONDS = 1.0
BOX_MAX_AGE_CAP_SECONDS = 3.0


class KioskWindow(QWidget):
    """The screen at the door. Build it, then feed :meth:`on_update` from the
    recognition worker's signal; it reads frames from ``slot`` itself. In badge + face
    mode, :attr:`badge_entered` carries a badge read (a card reader typing it) or typed
    on the keypad: connect it to the loop's ``claim``."""

    badge_entered = Signal(str)

    def __init__(
        self,
        settings: Settings,
        slot: FrameSlot,
        *,
        password_check: PasswordCheck,
        require_password: bool = True,
        full_screen: bool = True,
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"Kiosk {settings.kiosk_id}")
        self.setObjectName("kioskWindow")
        self.settings = settings
        self.slot = slot
        self.password_check = password_check
        self.require_password = require_password
        self.full_screen = full_screen
        self.badge_mode = settings.decision.mode == "badge+face"
        self._allow_close = False
        self.sounds = Sounds(settings.screen.sounds)

        self.video = VideoView()
        self.video.region = settings.decision.region
        self.banner = Banner()
        self.staff_bar = StaffBar()
        self.keypad = Keypad()
        self.keypad.entered.connect(self._badge)
        self.keypad.setVisible(self.badge_mode)
        self.status_line = QLabel()
        self.status_line.setObjectName("statusLine")
        self.status_line.setWordWrap(True)
        self.status_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_line.setStyleSheet(
            "#statusLine { background: #111111; color: #eeeeee; padding: 4px 16px; }"
        )
        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.setSpacing(0)
        middle.addWidget(self.video, 1)
        middle.addWidget(self.keypad)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.staff_bar)
        layout.addLayout(middle, 1)
        layout.addWidget(self.banner)
        layout.addWidget(self.status_line)
        self.status_line.setVisible(settings.screen.show_status)
        self.setStyleSheet("#kioskWindow { background: #000000; }")

        # what the screen knows
        self.state = ScreenState.STARTING
        self.last_decision: Decided | None = None
        self.ready: LoopReady | None = None
        self.analysis: Analysis | None = None
        self._analysis_time = 0.0
        self._followed: int | None = None  # the attempt the loop follows (a face in view)
        self._held_until = 0.0  # once its face has gone, a decision stays until then
        self._fatal: str | None = None
        self._door: DoorReport | None = None
        self._slow = False  # recognition too slow for the promised time: "hold still"
        self._badge_until = 0.0  # badge + face: a badge was read, its face is awaited
        self.wedge = Wedge()  # keys from a card reader
        self._shown_seq = 0
        self._shown_times: deque[float] = deque(maxlen=60)
        self.displayed_frames = 0
        self._corner_clicks: deque[float] = deque(maxlen=5)
        self._login_open = False
        self._offline_attempts = 0
        #: a liveness prompt, its time and its attempt
        self._prompt: tuple[str, float, int | None] | None = None
        self._prompt_move = ""  # its direction, for the arrow icon

        self._show(ScreenState.STARTING)
        self._frame_timer = QTimer(self)
        self._frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._frame_timer.timeout.connect(self._tick)
        self._frame_timer.start(10)
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start(500)

    # -- showing ------------------------------------------------------------------

    def show_kiosk(self) -> None:
        if self.full_screen:
            self.setCursor(Qt.CursorShape.BlankCursor)
            screen = self.screen() or QApplication.primaryScreen()
            if screen is not None:  # without a window manager, full screen is only a hint
                self.setGeometry(screen.geometry())
            self.showFullScreen()
        else:
            self.resize(1024, 720)
            self.show()

    @property
    def displayed_fps(self) -> float:
        times = self._shown_times
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        if time.monotonic() - times[-1] > 1.0:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def _show(self, state: ScreenState) -> None:
        self.state = state
        look = LOOKS[state]
        now = time.monotonic()
        if state is ScreenState.CHECKING and self._prompt_move and self._prompt_current():
            look = Look(look.background, look.foreground, f"turn_{self._prompt_move}")  # arrow
        elif state is ScreenState.CHECKING and self._slow and not self._prompt_current():
            look = Look(look.background, look.foreground, "hold_still")
        elif state is ScreenState.IDLE and self.badge_mode and now >= self._badge_until:
            look = Look(look.background, look.foreground, "badge")
        title, message = self._words(state)
        extra = ""
        if state in (ScreenState.ALLOWED, ScreenState.DOOR_FAILED) and self.last_decision:
            extra = self.last_decision.name or ""
        self.banner.show_state(look, title, message, extra)
        self.video.dimmed = state in (ScreenState.OFFLINE, ScreenState.OUT_OF_ORDER)
        self.video.accent = QColor(look.background)
        self.video.set_box_colour(QColor(LOOKS[self._box_state()].background))
        self.video.update()
        waiting = state is ScreenState.IDLE and now >= self._badge_until
        self.keypad.setVisible(self.badge_mode and waiting)

    def _prompt_current(self) -> bool:
        """A prompt holds while its face is followed (prompts come with the frames, and
        at a slow rate the frames are seconds apart), or for 3 s."""
        prompt = self._prompt
        if prompt is None:
            return False
        followed = self._following(time.monotonic())
        return (followed is not None and prompt[2] == followed) or (
            time.monotonic() - prompt[1] < 3.0
        )

    def _words(self, state: ScreenState) -> tuple[str, str]:
        prompt = self._prompt[0] if self._prompt is not None and self._prompt_current() else None
        status = self.slot.status
        return screen_words(
            state,
            badge_mode=self.badge_mode,
            badge_read=time.monotonic() < self._badge_until,
            prompt=prompt,
            slow=self._slow,
            decided=self.last_decision,
            door_reported=self._door is not None,
            reconnect_attempts=status.attempts,
        )

    # -- the frame timer: never waits ---------------------------------------------

    @Slot()
    def _tick(self) -> None:
        now = time.monotonic()
        frame = self.slot.latest()
        if frame is not None and frame.seq != self._shown_seq:
            self._shown_seq = frame.seq
            self.video.set_frame(frame)
            self.displayed_frames += 1
            self._shown_times.append(now)
        if now - self._analysis_time > self._box_max_age():
            self.video.clear_boxes()
        self._update_state(now, frame)

    def _camera_offline(self, now: float, frame: Frame | None) -> bool:
        status = self.slot.status
        if not status.online and status.offline_since is not None:
            return True
        stall = self.settings.capture.stall_seconds
        return status.online and frame is not None and now - frame.time > stall

    def _result_state(self) -> ScreenState:
        decided = self.last_decision
        assert decided is not None
        if decided.door_failed:
            return ScreenState.DOOR_FAILED  # an access panel refused or did not answer
        if not decided.allowed:
            return ScreenState.DENIED
        if self._door is not None and not self._door.ok:
            return ScreenState.DOOR_FAILED
        return ScreenState.ALLOWED

    def _box_max_age(self) -> float:
        rate = self.analysis.rate if self.analysis is not None else 0.0
        if rate <= 0.0:
            return BOX_MAX_AGE_SECONDS
        return min(BOX_MAX_AGE_CAP_SECONDS, max(BOX_MAX_AGE_SECONDS, 1.5 / rate))

    def _following(self, now: float) -> int | None:
        """The attempt of the face the loop follows now (``None``: no face in view)."""
        if now - self._analysis_time > FOLLOW_STALE_SECONDS:
            return None
        return self._followed

    def _decided_state(self, now: float) -> ScreenState | None:
        """What the last decision shows now, if anything: its result while its face is
        in view (after a failed liveness check, for the hold time, then "step back"),
        or for the rest of the hold time once the face has gone; nothing over another
        face."""
        decided = self.last_decision
        if decided is None:
            return None
        followed = self._following(now)
        if followed is None:
            return self._result_state() if now < self._held_until else None
        if followed != decided.attempt:
            return None
        if decided.decision is Decision.DENIED_SPOOF and now >= self._held_until:
            return ScreenState.RETRY
        return self._result_state()

    def _update_state(self, now: float, frame: Frame | None) -> None:
        decided = self._decided_state(now)
        if self._fatal is not None:
            wanted = ScreenState.OUT_OF_ORDER
        elif self._camera_offline(now, frame):
            wanted = ScreenState.OFFLINE
        elif self.ready is None:
            wanted = ScreenState.STARTING
        elif decided is not None:
            wanted = decided
        elif self._following(now) is not None:
            wanted = ScreenState.CHECKING
        else:
            wanted = ScreenState.IDLE
        self._camera_notice(wanted)
        attempts = self.slot.status.attempts
        badge_changed = self.badge_mode and wanted is ScreenState.IDLE and now >= self._badge_until
        if (
            wanted is not self.state
            or (wanted is ScreenState.OFFLINE and attempts != self._offline_attempts)
            or (badge_changed and self.banner.title.text() != "Show your badge")
        ):
            if wanted is not self.state:
                log.info("screen: %s", wanted.value)
            self._offline_attempts = attempts
            self._show(wanted)

    def _camera_notice(self, state: ScreenState) -> None:
        """While the camera is offline staff read why, in one line (what the camera
        thread last met: no device, no permission, a file OpenCV cannot read ...)."""
        reason = self.slot.status.message if state is ScreenState.OFFLINE else ""
        notice = f"the camera is offline: {reason.splitlines()[0]}" if reason else None
        if state is ScreenState.OFFLINE and notice is None:
            notice = "the camera sends no frames"
        if notice != self.staff_bar.notice("camera"):
            self.staff_bar.set_notice("camera", notice)

    # -- results from the recognition thread (queued signal, GUI thread) ----------

    @Slot(object)
    def on_update(self, update: LoopMessage) -> None:
        now = time.monotonic()
        match update:
            case Analysis():
                self._analysis(update, now)
            case Decided() if update.replaced:
                pass  # recorded; another face is in front of the kiosk, not theirs to see
            case Decided():
                self.last_decision = update
                self._held_until = now + self.settings.screen.result_seconds
                self._door = None
                self._badge_until = 0.0
                self._prompt = None
                self.sounds.play("allowed" if update.allowed else "denied")
                self._update_state(now, self.slot.latest())
                self._show(self.state)
            case LivenessPrompt():
                self._prompt = (update.prompt, now, update.attempt)
                self._prompt_move = update.move
                self._update_state(now, self.slot.latest())
                if self.state is ScreenState.CHECKING:
                    self._show(self.state)
            case DoorReport():
                self._door_report(update)
            case BadgeRead():
                self._badge_until = now + update.seconds
                self._update_state(now, self.slot.latest())
                self._show(self.state)
            case PaceChanged():
                self._slow = update.slow
                self.staff_bar.set_notice("pace", pace_notice(update) if update.slow else None)
                if self.state is ScreenState.CHECKING:
                    self._show(self.state)
            case LoopReady():
                self.ready = update
                self.staff_bar.set_notice(
                    "enrolled",
                    "nobody is enrolled yet, so every face is denied (main.py enroll)"
                    if update.enrolled == 0
                    else None,
                )
                self._refresh_status()
            case StaffNotice():
                self.staff_bar.set_notice(update.topic, update.message)
            case Notice():
                self.staff_bar.set_notice("loop", update.message)
                if update.fatal:
                    self._fatal = update.message
                    self._update_state(now, self.slot.latest())

    def _analysis(self, update: Analysis, now: float) -> None:
        self.analysis = update
        self._analysis_time = now
        following = update.state in (LoopState.CHECKING, LoopState.DECIDED)
        self._followed = update.attempt if following else None
        self._slow = update.slow
        decided = self.last_decision
        if decided is not None and update.attempt not in (None, decided.attempt):
            self._held_until = 0.0  # another face: the last result is not theirs to see
        self._update_state(now, self.slot.latest())
        colour = QColor(LOOKS[self._box_state()].background)
        self.video.set_boxes(update.boxes, update.chosen, colour)

    def _door_report(self, update: DoorReport) -> None:
        # staff hear of every door; the person on screen only of their own (a slow door's
        # answer can come after the next person's decision)
        self.staff_bar.set_notice("door", None if update.ok else update.message)
        last = self.last_decision
        if last is not None and last.allowed and update.person_id in (None, last.person_id):
            self._door = update
            if self.state in (ScreenState.ALLOWED, ScreenState.DOOR_FAILED):
                self._update_state(time.monotonic(), self.slot.latest())
                self._show(self.state)

    def _box_state(self) -> ScreenState:
        if self.state in (ScreenState.ALLOWED, ScreenState.DENIED, ScreenState.DOOR_FAILED):
            return self.state
        if self.state is ScreenState.RETRY:
            return ScreenState.DENIED
        return ScreenState.CHECKING

    # -- the status line ----------------------------------------------------------

    @Slot()
    def _refresh_status(self) -> None:
        if not self.status_line.isVisible():
            return
        self.status_line.setText(self.status_text())

    def status_text(self) -> str:
        return status_line(
            self.displayed_fps, self.analysis, self.ready, self.settings.kiosk_id,
            self.slot.status, self._door,
        )  # fmt: skip

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        # a fixed share of the screen: the banner's icon and fonts follow its height, so
        # a stretch factor alone would let them push each other ever larger
        self.banner.setFixedHeight(max(90, int(self.height() * 0.24)))
        self.keypad.setFixedWidth(max(260, int(self.width() * 0.26)))
        staff = max(16, int(self.height() * 0.024))  # read from a step away
        self.staff_bar.set_pixel_size(staff)
        small = QFont()
        small.setPixelSize(max(14, int(self.height() * 0.02)))
        self.status_line.setFont(small)
        super().resizeEvent(event)

    # -- keys, the hidden corner, closing -----------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, text = event.key(), event.text()
        if key in (Qt.Key.Key_F12, Qt.Key.Key_Escape):
            self.open_admin_login()
        elif key == Qt.Key.Key_F2 or (key == Qt.Key.Key_S and not self.badge_mode):
            self.toggle_status_line()
        elif self.badge_mode and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if typed := self.wedge.enter():
                self._badge(typed)
        elif self.badge_mode and text and text.isprintable():
            self.wedge.key(text, time.monotonic())
        else:
            super().keyPressEvent(event)

    @Slot(str)
    def _badge(self, badge: str) -> None:
        self.keypad.clear()
        self.badge_entered.emit(badge)

    def toggle_status_line(self) -> None:
        self.status_line.setVisible(not self.status_line.isVisible())
        self._refresh_status()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        # five taps within three seconds in the top-left corner open the admin login
        pos = event.position()
        if pos.x() < 80 and pos.y() < 80:
            now = time.monotonic()
            self._corner_clicks.append(now)
            if len(self._corner_clicks) == 5 and now - self._corner_clicks[0] < 3.0:
                self._corner_clicks.clear()
                self.open_admin_login()
        super().mousePressEvent(event)

    def open_admin_login(self) -> None:
        if self._login_open:
            return
        self._login_open = True
        try:
            login = AdminLoginDialog(self.password_check, self)
            if login.exec() != AdminLoginDialog.DialogCode.Accepted:
                return
            menu = AdminMenu(self.isFullScreen(), self)
            menu.exec()
            if menu.choice is AdminChoice.LEAVE_FULL_SCREEN:
                self.unsetCursor()
                self.showNormal()
            elif menu.choice is AdminChoice.CLOSE:
                self.shutdown()
        finally:
            self._login_open = False

    def shutdown(self) -> None:
        """Close without asking (after an admin login, or ``--exit-after``)."""
        self._allow_close = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._allow_close or not self.require_password:
            self._frame_timer.stop()
            self._status_timer.stop()
            event.accept()
            return
        event.ignore()
        QTimer.singleShot(0, self.open_admin_login)
