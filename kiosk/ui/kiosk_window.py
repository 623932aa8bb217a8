"""The kiosk screen: the live camera image with face boxes, one large state banner
(colour + icon + words), a status line for staff and the admin login.

It lives in the GUI thread and never waits for anything: a timer shows the camera's
newest frame from the slot, and the recognition's results arrive as queued signals
carrying frozen dataclasses (:meth:`KioskWindow.on_update`).
"""

from __future__ import annotations

import enum
import logging
import shutil
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.camera.frames import Frame, FrameSlot
from kiosk.camera.sources import describe
from kiosk.config import Settings
from kiosk.domain.faces import Box
from kiosk.services.kiosk_loop import (
    Analysis,
    Decided,
    DoorReport,
    LivenessPrompt,
    LoopReady,
    Notice,
)
from kiosk.ui.admin_login import AdminChoice, AdminLoginDialog, AdminMenu, PasswordCheck

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"

#: Grace before "checking" falls back to "idle": the detector misses a face now and then.
FACE_GRACE_SECONDS = 0.8
#: Face boxes older than this are not drawn (the recognition fell behind or stopped).
BOX_MAX_AGE_SECONDS = 1.0


class ScreenState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    CHECKING = "checking"
    ALLOWED = "allowed"
    DENIED = "denied"
    OFFLINE = "offline"
    OUT_OF_ORDER = "out-of-order"


@dataclass(frozen=True)
class Look:
    background: str
    foreground: str
    icon: str


LOOKS: dict[ScreenState, Look] = {
    ScreenState.STARTING: Look("#263238", "#ffffff", "idle"),
    ScreenState.IDLE: Look("#1f3a5f", "#ffffff", "idle"),
    ScreenState.CHECKING: Look("#ffc20e", "#1b1b1b", "checking"),
    ScreenState.ALLOWED: Look("#146c2e", "#ffffff", "allowed"),
    ScreenState.DENIED: Look("#a4161a", "#ffffff", "denied"),
    ScreenState.OFFLINE: Look("#4a4a4a", "#ffffff", "offline"),
    ScreenState.OUT_OF_ORDER: Look("#4a4a4a", "#ffffff", "out_of_order"),
}


class VideoView(QWidget):
    """Paints the newest frame, scaled to fit, with face boxes and the decision region."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMinimumSize(QSize(160, 120))
        self._image: QImage | None = None
        self._frame: Frame | None = None  # keeps the pixels of _image alive
        self._boxes: tuple[Box, ...] = ()
        self._chosen: int | None = None
        self._box_colour = QColor("#ffffff")
        self.region = (0.0, 0.0, 1.0, 1.0)
        self.dimmed = False
        #: the state's colour, as a thick frame around the picture: seen from afar
        self.accent = QColor("#1f3a5f")

    def set_frame(self, frame: Frame) -> None:
        rgb = frame.rgb
        self._frame = frame
        # no copy: the frame is read-only and kept alive by self._frame
        self._image = QImage(
            rgb.data, frame.width, frame.height, rgb.strides[0], QImage.Format.Format_RGB888
        )
        self.update()

    def set_boxes(self, boxes: tuple[Box, ...], chosen: int | None, colour: QColor) -> None:
        self._boxes, self._chosen, self._box_colour = boxes, chosen, colour
        self.update()

    def set_box_colour(self, colour: QColor) -> None:
        self._box_colour = colour
        self.update()

    def clear_boxes(self) -> None:
        if self._boxes:
            self._boxes, self._chosen = (), None
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        if self._image is None or self._frame is None:
            painter.end()
            return
        iw, ih = self._frame.width, self._frame.height
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        x0, y0 = (self.width() - w) / 2, (self.height() - h) / 2
        painter.drawImage(QRectF(x0, y0, w, h), self._image)
        if self.dimmed:
            painter.fillRect(QRectF(x0, y0, w, h), QColor(0, 0, 0, 150))
        frame_width = max(6.0, min(self.width(), self.height()) * 0.03)
        painter.setPen(QPen(self.accent, frame_width))
        half = frame_width / 2
        painter.drawRect(
            QRectF(half, half, self.width() - frame_width, self.height() - frame_width)
        )
        if self.region != (0.0, 0.0, 1.0, 1.0):
            left, top, right, bottom = self.region
            pen = QPen(QColor(255, 255, 255, 160), 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(
                QRectF(x0 + left * w, y0 + top * h, (right - left) * w, (bottom - top) * h)
            )
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for i, box in enumerate(self._boxes):
            chosen = i == self._chosen
            colour = self._box_colour if chosen else QColor(200, 200, 200, 170)
            painter.setPen(QPen(colour, max(2.0, w / 160) if chosen else 2.0))
            painter.drawRoundedRect(
                QRectF(
                    x0 + box.x1 * scale, y0 + box.y1 * scale, box.width * scale, box.height * scale
                ),
                8,
                8,
            )
        painter.end()


class Banner(QFrame):
    """The state: a large icon, a large title and a line the person can act on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setObjectName("bannerTitle")
        # long names shrink the font (see _fit_title) instead of widening the window
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message = QLabel()
        self.message.setObjectName("bannerMessage")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addStretch(1)
        words.addWidget(self.title)
        words.addWidget(self.message)
        words.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(32, 16, 32, 16)
        layout.setSpacing(32)
        layout.addWidget(self.icon)
        layout.addLayout(words, 1)
        self._renderers: dict[str, QSvgRenderer] = {}
        self._icon_name = ""
        self._look = LOOKS[ScreenState.STARTING]
        self._title = ""
        self._extra = ""

    def show_state(self, look: Look, title: str, message: str, extra: str = "") -> None:
        """``extra`` (a name) follows the title when it fits in large letters; the title
        itself is never shrunk much, so the state stays readable from afar."""
        self._look = look
        self._title, self._extra = title, extra
        self.setStyleSheet(
            f"#banner {{ background: {look.background}; }}"
            f" QLabel {{ color: {look.foreground}; background: transparent; }}"
        )
        self.message.setText(message)
        self._fit_title()
        if look.icon != self._icon_name:
            self._icon_name = look.icon
            self._render_icon()

    def _render_icon(self) -> None:
        side = max(48, int(self._unit() * 0.75))
        renderer = self._renderers.get(self._icon_name)
        if renderer is None:
            renderer = QSvgRenderer(str(ASSETS / "icons" / f"{self._icon_name}.svg"))
            self._renderers[self._icon_name] = renderer
        pixmap = QPixmap(side, side)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        self.icon.setPixmap(pixmap)
        self.icon.setFixedSize(side, side)

    def _unit(self) -> int:
        """What the sizes follow: the banner's height, or a quarter of its width on a
        narrow (portrait) screen, so that the words still fit."""
        return max(80, min(self.height(), self.width() // 4))

    def _fit_title(self) -> None:
        """36 % of the banner's height; the name goes when it does not fit at 3/4 of it."""
        font = QFont()
        font.setBold(True)
        full = int(self._unit() * 0.36)
        room = max(100, self.width() - self.icon.width() - 100)
        text = f"{self._title}  ·  {self._extra}" if self._extra else self._title
        size = full
        font.setPixelSize(size)
        while size > 16 and QFontMetrics(font).horizontalAdvance(text) > room:
            if text != self._title and size < full * 0.75:
                text, size = self._title, full  # drop the name (it is in the message)
            else:
                size = int(size * 0.92)
            font.setPixelSize(size)
        self.title.setFont(font)
        self.title.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        height = self._unit()
        self._fit_title()
        message = QFont()
        message.setPixelSize(max(14, int(height * 0.17)))
        self.message.setFont(message)
        if self._icon_name:
            self._render_icon()


class Sounds:
    """Plays ``assets/sounds/<name>.wav`` without blocking, with the system's player
    (Qt Multimedia is not part of PySide6-Essentials); silent when there is none."""

    def __init__(self, enabled: bool) -> None:
        self.player = None
        if enabled:
            self.player = next((p for p in ("paplay", "aplay", "afplay") if shutil.which(p)), None)

    def play(self, name: str) -> None:
        if self.player is None:
            return
        path = ASSETS / "sounds" / f"{name}.wav"
        try:
            subprocess.Popen(  # noqa: S603 (fixed player, our own file)
                [self.player, str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            self.player = None


class KioskWindow(QWidget):
    """The screen at the door. Build it, then feed :meth:`on_update` from the
    recognition worker's signal; it reads frames from ``slot`` itself."""

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
        self._allow_close = False
        self.sounds = Sounds(settings.screen.sounds)

        self.video = VideoView()
        self.video.region = settings.decision.region
        self.banner = Banner()
        self.status_line = QLabel()
        self.status_line.setObjectName("statusLine")
        self.status_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_line.setStyleSheet(
            "#statusLine { background: #111111; color: #dddddd; padding: 4px 12px; }"
        )
        self.staff_warning = QLabel()
        self.staff_warning.setObjectName("staffWarning")
        self.staff_warning.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.staff_warning.setStyleSheet(
            "#staffWarning { background: #ffd43b; color: #000000; padding: 4px 12px; }"
        )
        self.staff_warning.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.video, 1)
        layout.addWidget(self.banner)
        layout.addWidget(self.staff_warning)
        layout.addWidget(self.status_line)
        self.status_line.setVisible(settings.screen.show_status)
        self.setStyleSheet("#kioskWindow { background: #000000; }")

        # what the screen knows
        self.state = ScreenState.STARTING
        self.last_decision: Decided | None = None
        self.ready: LoopReady | None = None
        self.analysis: Analysis | None = None
        self._analysis_time = 0.0
        self._last_face_time = -1e9
        self._held_until = 0.0  # a decision stays on screen until then
        self._fatal: str | None = None
        self._door: DoorReport | None = None
        self._shown_seq = 0
        self._shown_times: deque[float] = deque(maxlen=60)
        self.displayed_frames = 0
        self._corner_clicks: deque[float] = deque(maxlen=5)
        self._login_open = False
        self._offline_attempts = 0
        self._prompt: tuple[str, float] | None = None  # a liveness prompt and its time
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
        if state is ScreenState.CHECKING and self._prompt_move and self._prompt_current():
            look = Look(look.background, look.foreground, f"turn_{self._prompt_move}")  # arrow
        title, message = self._words(state)
        extra = ""
        if state is ScreenState.ALLOWED and self.last_decision and self.last_decision.name:
            extra = self.last_decision.name
        self.banner.show_state(look, title, message, extra)
        self.video.dimmed = state in (ScreenState.OFFLINE, ScreenState.OUT_OF_ORDER)
        self.video.accent = QColor(look.background)
        self.video.set_box_colour(QColor(LOOKS[self._box_state()].background))
        self.video.update()

    def _prompt_current(self) -> bool:
        return self._prompt is not None and time.monotonic() - self._prompt[1] < 3.0

    def _words(self, state: ScreenState) -> tuple[str, str]:
        if state is ScreenState.STARTING:
            return "Starting…", "The kiosk is getting ready. One moment, please."
        if state is ScreenState.IDLE:
            return "Look at the camera", "Step up and face the camera to open the door."
        if state is ScreenState.CHECKING:
            if self._prompt is not None and self._prompt_current():
                # The instruction is what the person must read from a distance: the title
                # says what to do with the arrow beside it, the line below says which way.
                return "Follow the arrow", self._prompt[0]
            return "Checking…", "Hold still and keep looking at the camera."
        if state is ScreenState.ALLOWED:
            decided = self.last_decision
            title = "ALLOWED"
            message = decided.message if decided else ""
            if self._door is not None and not self._door.ok:
                message += "  The door did not open. Please see staff."
            elif self._door is not None:
                message += "  Please come in."
            return title, message
        if state is ScreenState.DENIED:
            decided = self.last_decision
            return "DENIED", decided.message if decided else ""
        if state is ScreenState.OFFLINE:
            status = self.slot.status
            if status.attempts:
                return (
                    "Camera offline",
                    f"Trying to reconnect (attempt {status.attempts}). Please see staff.",
                )
            return "Camera offline", "No picture from the camera. Please see staff."
        return "Out of order", "This kiosk cannot check faces right now. Please see staff."

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
        if now - self._analysis_time > BOX_MAX_AGE_SECONDS:
            self.video.clear_boxes()
        self._update_state(now, frame)

    def _camera_offline(self, now: float, frame: Frame | None) -> bool:
        status = self.slot.status
        if not status.online and status.offline_since is not None:
            return True
        stall = self.settings.capture.stall_seconds
        return status.online and frame is not None and now - frame.time > stall

    def _update_state(self, now: float, frame: Frame | None) -> None:
        if self._fatal is not None:
            wanted = ScreenState.OUT_OF_ORDER
        elif self._camera_offline(now, frame):
            wanted = ScreenState.OFFLINE
        elif self.ready is None:
            wanted = ScreenState.STARTING
        elif now < self._held_until and self.last_decision is not None:
            wanted = ScreenState.ALLOWED if self.last_decision.allowed else ScreenState.DENIED
        elif now - self._last_face_time < FACE_GRACE_SECONDS:
            wanted = ScreenState.CHECKING
        else:
            wanted = ScreenState.IDLE
        attempts = self.slot.status.attempts
        if wanted is not self.state or (
            wanted is ScreenState.OFFLINE and attempts != self._offline_attempts
        ):
            if wanted is not self.state:
                log.info("screen: %s", wanted.value)
            self._offline_attempts = attempts
            self._show(wanted)

    # -- results from the recognition thread (queued signal, GUI thread) ----------

    @Slot(object)
    def on_update(self, update: object) -> None:
        now = time.monotonic()
        if isinstance(update, Analysis):
            self.analysis = update
            self._analysis_time = now
            if update.state == "checking":
                self._last_face_time = now
            self._update_state(now, self.slot.latest())
            colour = QColor(LOOKS[self._box_state()].background)
            self.video.set_boxes(update.boxes, update.chosen, colour)
        elif isinstance(update, Decided):
            last = self.last_decision
            if (
                update.repeat
                and last is not None
                and (update.decision, update.person_id) == (last.decision, last.person_id)
            ):
                # the same person still standing there within the cooldown: the screen
                # goes back to idle as usual instead of holding the decision forever
                return
            self.last_decision = update
            self._held_until = now + self.settings.screen.result_seconds
            self._door = None
            self.sounds.play("allowed" if update.allowed else "denied")
            self._update_state(now, self.slot.latest())
            self._show(self.state)
        elif isinstance(update, LivenessPrompt):
            self._prompt = (update.prompt, now)
            self._prompt_move = update.move
            self._last_face_time = now
            self._update_state(now, self.slot.latest())
            if self.state is ScreenState.CHECKING:
                self._show(self.state)
        elif isinstance(update, DoorReport):
            # staff hear of every door; the person on screen only of their own (a slow
            # door's answer can come after the next person's decision)
            if not update.ok:
                self._warn(update.message)
            else:
                self.staff_warning.hide()
            last = self.last_decision
            if last is not None and update.person_id in (None, last.person_id):
                self._door = update
                if self.state is ScreenState.ALLOWED:
                    self._show(self.state)
        elif isinstance(update, LoopReady):
            self.ready = update
            if update.enrolled == 0:
                self._warn("nobody is enrolled yet, so every face is denied (main.py enroll)")
            elif self.staff_warning.text().startswith("Staff: nobody is enrolled"):
                self.staff_warning.hide()
            self._refresh_status()
        elif isinstance(update, Notice):
            self._warn(update.message)
            if update.fatal:
                self._fatal = update.message
                self._update_state(now, self.slot.latest())

    def _box_state(self) -> ScreenState:
        if self.state in (ScreenState.ALLOWED, ScreenState.DENIED):
            return self.state
        return ScreenState.CHECKING

    def _warn(self, message: str) -> None:
        self.staff_warning.setText(f"Staff: {message}")
        self.staff_warning.show()

    # -- the status line ----------------------------------------------------------

    @Slot()
    def _refresh_status(self) -> None:
        if not self.status_line.isVisible():
            return
        self.status_line.setText(self.status_text())

    def status_text(self) -> str:
        parts = [f"display {self.displayed_fps:4.1f} fps"]
        a = self.analysis
        if a is not None:
            parts.append(f"recognition {a.latency_ms:4.0f} ms, {a.rate:4.1f}/s")
        ready = self.ready
        if ready is not None:
            parts.append(f"{ready.device.upper()}")
            parts.append(f"{ready.enrolled} enrolled")
        else:
            parts.append("loading models")
        parts.append(self.settings.kiosk_id)
        status = self.slot.status
        camera = status.label or describe(status.source)
        if status.obtained is not None:
            w, h, fps = status.obtained
            rw, rh, rfps = status.requested
            camera += f" {w}x{h} @ {fps:.0f} fps (asked {rw}x{rh} @ {rfps:.0f})"
        if not status.online:
            camera += " OFFLINE"
        parts.append(camera)
        if self._door is not None:
            parts.append("door ok" if self._door.ok else "door FAILED")
        return "  |  ".join(parts)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        # a fixed share of the screen: the banner's icon and fonts follow its height, so
        # a stretch factor alone would let them push each other ever larger
        self.banner.setFixedHeight(max(90, int(self.height() * 0.24)))
        small = QFont("monospace")
        small.setPixelSize(max(12, int(self.height() * 0.018)))  # staff read it up close
        self.status_line.setFont(small)
        self.staff_warning.setFont(small)
        super().resizeEvent(event)

    # -- keys, the hidden corner, closing -----------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_S:
            self.toggle_status_line()
        elif key in (Qt.Key.Key_F12, Qt.Key.Key_Escape):
            self.open_admin_login()
        else:
            super().keyPressEvent(event)

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


def application() -> QApplication:
    """The running QApplication, made if needed (one per process)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    return QApplication([])
