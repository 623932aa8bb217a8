"""The parts of the kiosk screen: the live picture with face boxes, the state banner
(colour + icon + words), the staff bar, the badge keypad and the sounds. Qt only; the
window (:mod:`kiosk.ui.kiosk_window`) puts them together."""

from __future__ import annotations

import enum
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
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
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.camera.frames import Frame
from kiosk.domain.faces import Box

ASSETS = Path(__file__).resolve().parents[2] / "assets"


class ScreenState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    CHECKING = "checking"
    ALLOWED = "allowed"  # the door was told to open
    DOOR_FAILED = "door-failed"  # ... and it did not: amber, "Please see staff"
    DENIED = "denied"
    RETRY = "retry"  # after a failed liveness check, while the face stays: step back
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
    ScreenState.DOOR_FAILED: Look("#e67700", "#1b1b1b", "see_staff"),
    ScreenState.DENIED: Look("#a4161a", "#ffffff", "denied"),
    ScreenState.RETRY: Look("#e67700", "#1b1b1b", "idle"),
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


class StaffBar(QLabel):
    """What staff should know (a failed door, a slow machine, no one enrolled), in a bar
    along the top of the screen: out of the way of the person at the door, who looks at
    their picture and the banner; legible from a step away, wrapped rather than cut."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("staffBar")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setStyleSheet(
            "#staffBar { background: #212529; color: #ffffff; padding: 6px 16px;"
            " border-left: 12px solid #ffc20e; }"
        )
        self._notices: dict[str, str] = {}
        self.hide()

    def set_notice(self, topic: str, message: str | None) -> None:
        """Show ``message`` for ``topic`` (replacing that topic's last one); ``None``
        takes it away. The bar hides when nothing is left."""
        if message:
            self._notices[topic] = message
        else:
            self._notices.pop(topic, None)
        lines = [f"Staff: {m}" for m in self._notices.values()]
        self.setText("\n".join(lines))
        self.setVisible(bool(lines))

    def notice(self, topic: str) -> str | None:
        return self._notices.get(topic)

    def set_pixel_size(self, pixels: int) -> None:
        font = QFont()
        font.setPixelSize(pixels)
        self.setFont(font)


class Keypad(QFrame):
    """Badge + face mode: a touch keypad for the badge number (there is no PIN: the badge
    names whose face is expected). ``entered`` carries what was typed when OK is pressed;
    the digits show as dots (the next person in the queue does not read them)."""

    entered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keypad")
        self.setStyleSheet(
            "#keypad { background: #1f3a5f; }"
            " QLabel { color: #ffffff; }"
            " QPushButton { background: #ffffff; color: #1b1b1b; border-radius: 10px;"
            " font-weight: bold; }"
            " QPushButton:pressed { background: #ffc20e; }"
        )
        self.title = QLabel("Your badge number")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.display = QLabel("")
        self.display.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.display.setObjectName("keypadDisplay")
        self.display.setStyleSheet(
            "#keypadDisplay { background: #ffffff; color: #1b1b1b; border-radius: 8px; }"
        )
        grid = QGridLayout()
        grid.setSpacing(10)
        self.buttons: dict[str, QPushButton] = {}
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK"]
        for i, key in enumerate(keys):
            button = QPushButton(key)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the window (wedge)
            button.clicked.connect(self._pressed)
            grid.addWidget(button, i // 3, i % 3)
            self.buttons[key] = button
        self.buttons["OK"].setStyleSheet("background: #146c2e; color: #ffffff;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addWidget(self.title)
        layout.addWidget(self.display)
        layout.addLayout(grid, 1)
        self._typed = ""

    def _pressed(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton):
            self.press(button.text())

    def press(self, key: str) -> None:
        if key == "OK":
            typed, self._typed = self._typed, ""
            if typed:
                self.entered.emit(typed)
        elif key == "⌫":
            self._typed = self._typed[:-1]
        elif len(self._typed) < 16:
            self._typed += key
        self.display.setText("●" * len(self._typed))

    def clear(self) -> None:
        self._typed = ""
        self.display.setText("")

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        # touch-sized: keys follow the panel, never under about 56 px
        key = max(22, min(self.width() // 7, self.height() // 12))
        font = QFont()
        font.setPixelSize(key)
        font.setBold(True)
        for button in self.buttons.values():
            button.setFont(font)
            button.setMinimumSize(56, 56)
        small = QFont()
        small.setPixelSize(max(16, int(key * 0.7)))
        self.title.setFont(small)
        self.display.setFont(font)
        self.display.setMinimumHeight(int(key * 1.8))


#: A card reader (keyboard wedge) types a badge in well under this; slower keys start over.
WEDGE_GAP_SECONDS = 2.0


class Wedge:
    """Keys typed by a card reader that acts as a keyboard: the badge, then Enter."""

    def __init__(self) -> None:
        self._typed = ""
        self._at = 0.0

    def key(self, text: str, now: float) -> None:
        if now - self._at > WEDGE_GAP_SECONDS:
            self._typed = ""
        self._typed = (self._typed + text)[-32:]
        self._at = now

    def enter(self) -> str:
        typed, self._typed = self._typed, ""
        return typed


def application() -> QApplication:
    """The running QApplication, made if needed (one per process)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    return QApplication([])
