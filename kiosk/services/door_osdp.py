"""The door as an OSDP reader (``[door] kind = "osdp"``): the kiosk joins the building's
access panel the way a card reader does.

The kiosk is an OSDP Peripheral Device (PD) on a serial line (an RS-485 adapter,
``/dev/ttyUSB0``); the panel is the Control Panel (CP) and polls it. On ALLOWED the kiosk
sends the person's badge number as a card read (``osdp_format``: 26-bit Wiegand or raw
bits), and the panel decides: it answers with a reader LED command, green for granted,
red for refused. Only a green LED within ``timeout_seconds`` is success; red, no answer
in time, a panel that is offline or a Secure Channel that is not up are a failed door,
and a card read that got no answer is withdrawn, so that it is never delivered later
when the line comes back.

Secure Channel is on by default (``osdp_secure``): its base key (SCBK, 16 bytes) is in a
key file beside the encryption key (``kiosk.storage.osdp_key``), never in the config. The
implementation is LibOSDP (``libosdp`` on PyPI, the C library with its Python binding).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import termios
import threading
import time
import tty
from dataclasses import dataclass
from typing import Any

from kiosk.config import DoorSettings
from kiosk.domain.card_bits import CARD_FORMATS, BadgeFormatError, card_bits
from kiosk.errors import ConfigError
from kiosk.services.door_types import DoorRequest, DoorResult

log = logging.getLogger(__name__)

#: a lost serial device (an unplugged USB adapter) is looked for again this often
REOPEN_SECONDS = 1.0
#: how often the OSDP state machine runs (LibOSDP's own loop uses 20 ms)
REFRESH_SECONDS = 0.02

_BAUDS = {
    9600: termios.B9600,
    19200: termios.B19200,
    38400: termios.B38400,
    57600: termios.B57600,
    115200: termios.B115200,
}


class SerialLine:
    """The serial device as LibOSDP's channel: raw bytes, never blocking, and reopened
    by itself when the device goes away and comes back (no restart of the kiosk)."""

    def __init__(self, device: str, baud: int) -> None:
        self.device = device
        self.baud = baud
        self._fd: int | None = None
        self._next_try = 0.0
        self.error = ""  # the last reason the line is down, for staff and doctor

    def _ensure(self) -> int | None:
        if self._fd is not None:
            return self._fd
        now = time.monotonic()
        if now < self._next_try:
            return None
        self._next_try = now + REOPEN_SECONDS
        try:
            fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            self.error = f"{self.device}: {exc.strerror or exc}"
            return None
        try:
            tty.setraw(fd)
            attrs = termios.tcgetattr(fd)
            attrs[4] = attrs[5] = _BAUDS[self.baud]
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error as exc:
            os.close(fd)
            self.error = f"{self.device}: not a serial line ({exc})"
            return None
        self._fd, self.error = fd, ""
        return fd

    def _lost(self, exc: OSError) -> None:
        self.error = f"{self.device}: {exc.strerror or exc}"
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None

    # LibOSDP's Channel interface
    def read(self, max_bytes: int) -> bytes:
        fd = self._ensure()
        if fd is None:
            return b""
        try:
            return os.read(fd, max_bytes)
        except BlockingIOError:
            return b""
        except OSError as exc:
            self._lost(exc)
            return b""

    def write(self, buf: bytes) -> int:
        fd = self._ensure()
        if fd is None:
            return 0
        try:
            return os.write(fd, buf)
        except BlockingIOError:
            return 0
        except OSError as exc:
            self._lost(exc)
            return 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None


@dataclass(frozen=True)
class PanelCommand:
    """A command the panel sent the reader, as answered (for staff and tests)."""

    kind: str  # led | buzzer | text | output | other
    colour: str = ""  # led: green | red | amber | ... | off


_COLOURS = {0: "off", 1: "red", 2: "green", 3: "amber", 4: "blue", 5: "magenta", 6: "cyan"}


class OsdpReaderDoor:
    """The kiosk as an OSDP reader; see the module's docstring. :meth:`start` opens the
    line; :meth:`open` sends a card read and waits for the panel's LED answer."""

    #: the panel decides: the kiosk records and shows its answer, not its own ALLOWED
    decides = True

    def __init__(
        self,
        device: str,
        *,
        key: bytes | None,
        address: int = 1,
        baud: int = 9600,
        card_format: str = "wiegand26",
        facility: int = 0,
        bits: int = 32,
        timeout: float = 2.0,
    ) -> None:
        if not device:
            raise ConfigError("door: kind = osdp needs osdp_device, e.g. /dev/ttyUSB0")
        if not 0 <= address <= 126:
            raise ConfigError(f"door: osdp_address must be 0..126, not {address}")
        if baud not in _BAUDS:
            raise ConfigError(
                f"door: osdp_baud must be one of {', '.join(map(str, _BAUDS))}, not {baud}"
            )
        if card_format not in CARD_FORMATS:
            raise ConfigError(
                f"door: osdp_format must be one of {', '.join(CARD_FORMATS)}, not {card_format!r}"
            )
        if key is not None and len(key) != 16:
            raise ConfigError("door: the OSDP Secure Channel key must have 16 bytes")
        self.line = SerialLine(device, baud)
        self.key = key
        self.address = address
        self.card_format = card_format
        self.facility = facility
        self.bits = bits
        self.timeout = timeout
        #: the last commands answered, oldest first
        self.commands: collections.deque[PanelCommand] = collections.deque(maxlen=64)
        self._state = threading.Lock()  # guards the LibOSDP context
        self._one_door = threading.Lock()  # one card read at a time
        self._answer: str | None = None
        self._waiting = False
        self._answered = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pd: Any = None

    # -- the line ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the line and answer the panel's polls from a daemon thread."""
        from osdp import Capability, LibFlag, LogLevel, PDCapabilities, PDInfo, PeripheralDevice

        capabilities = PDCapabilities(
            [
                (Capability.CardDataFormat, 1, 1),
                (Capability.LEDControl, 1, 1),
                (Capability.AudibleControl, 1, 1),
                (Capability.TextOutput, 1, 1),
                (Capability.CommunicationSecurity, 1 if self.key else 0, 1),
            ]
        )
        flags = [LibFlag.EnforceSecure] if self.key is not None else []
        info = PDInfo(self.address, self.line, scbk=self.key, name="kiosk", flags=flags)
        self._pd = PeripheralDevice(info, capabilities, log_level=LogLevel.Error)
        # straight to the C context: the wrapper's own handler also queues every command
        # for get_command(), a queue nobody here would empty
        self._pd.ctx.set_command_callback(self._on_command)
        self._thread = threading.Thread(target=self._run, name="osdp", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._state:
                self._pd.ctx.refresh()
            self._stop.wait(REFRESH_SECONDS)

    def _on_command(self, command: dict[str, Any]) -> tuple[int, None]:
        """Every command the panel sends is answered (ACK); an LED command after a card
        read is the panel's verdict."""
        from osdp import Command

        kind = {
            Command.LED: "led",
            Command.Buzzer: "buzzer",
            Command.Text: "text",
            Command.Output: "output",
        }.get(command.get("command"), "other")
        colour = _COLOURS.get(int(command.get("on_color", 0)), "other") if kind == "led" else ""
        self.commands.append(PanelCommand(kind, colour))
        if kind == "led" and self._waiting and colour in ("green", "red"):
            self._answer = colour
            self._answered.set()
        return 0, None

    def online(self) -> bool:
        """The panel polls the kiosk (within LibOSDP's 8 s), through Secure Channel when
        it is on."""
        if self._pd is None:
            return False
        with self._state:
            up = bool(self._pd.ctx.is_online())
            secure = bool(self._pd.ctx.is_sc_active())
        return up and (secure or self.key is None)

    def state(self) -> str:
        """One line for staff and ``doctor``: online, offline and why."""
        if self._pd is None:
            return "OSDP reader not started"
        with self._state:
            up = bool(self._pd.ctx.is_online())
            secure = bool(self._pd.ctx.is_sc_active())
        where = f"{self.line.device} address {self.address}"
        if self.line.error:
            return f"OSDP line down: {self.line.error}"
        if not up:
            return f"OSDP panel not polling on {where}"
        if self.key is not None and not secure:
            return f"OSDP panel on {where}: no Secure Channel (is the panel's key this key?)"
        return f"OSDP panel polling on {where}" + (", Secure Channel" if secure else "")

    # -- the door ----------------------------------------------------------------------

    def open(self, request: DoorRequest) -> DoorResult:
        try:
            bits = card_bits(
                request.badge, self.card_format, facility=self.facility, length=self.bits
            )
        except BadgeFormatError as exc:
            return DoorResult(False, f"door osdp: {exc}")
        with self._one_door:
            if not self.online():
                return DoorResult(False, f"door osdp: {self.state()}")
            from osdp import CardFormat, Event

            self._answer = None
            self._answered.clear()
            self._waiting = True
            try:
                event = {
                    "event": Event.CardRead,
                    "reader_no": 0,
                    "direction": 0,
                    "format": CardFormat.Wiegand
                    if self.card_format == "wiegand26"
                    else CardFormat.Unspecified,
                    "length": bits.length,
                    "data": bits.data,
                }
                with self._state:
                    sent = self._pd.ctx.submit_event(event)
                if not sent:
                    return DoorResult(False, "door osdp: the card read could not be queued")
                answered = self._answered.wait(self.timeout)
            finally:
                self._waiting = False
            if not answered:
                with self._state:  # never delivered later, when the line comes back
                    self._pd.ctx.flush_events()
                return DoorResult(
                    False, f"door osdp: no answer from the panel within {self.timeout:g} s"
                )
            if self._answer != "green":
                return DoorResult(False, "door osdp: the panel refused the badge (LED red)")
            return DoorResult(True, "door: panel granted")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.line.close()


def make_osdp_door(settings: DoorSettings, key: bytes | None) -> OsdpReaderDoor:
    """The OSDP reader of ``settings``, started; ``key``: the Secure Channel base key
    (``None`` only with ``osdp_secure = false``)."""
    if settings.osdp_secure and key is None:
        raise ConfigError("door: osdp_secure is on but no Secure Channel key was given")
    door = OsdpReaderDoor(
        settings.osdp_device,
        key=key if settings.osdp_secure else None,
        address=settings.osdp_address,
        baud=settings.osdp_baud,
        card_format=settings.osdp_format,
        facility=settings.osdp_facility,
        bits=settings.osdp_bits,
        timeout=settings.timeout_seconds,
    )
    door.start()
    return door
