"""A real OSDP access panel for the tests: LibOSDP's Control Panel (the same library's
other side) on the master end of a pseudo-terminal pair, the kiosk's reader on the slave
end, as a panel and a reader on an RS-485 line.

The panel grants the badges in ``granted`` (a green LED and a beep), refuses the others
(a red LED), and keeps every card read it received."""

from __future__ import annotations

import os
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from osdp import (
    CardFormat,
    Command,
    CommandLEDColor,
    CompletionStatus,
    ControlPanel,
    Event,
    LibFlag,
    LogLevel,
    PDInfo,
)

from kiosk.domain.card_bits import CardBits, wiegand26_fields

ADDRESS = 1


class MasterEnd:
    """The master end of the pty as LibOSDP's channel."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, max_bytes: int) -> bytes:
        try:
            return os.read(self.fd, max_bytes)
        except OSError:  # nothing yet (EAGAIN), or no reader open on the slave (EIO)
            return b""

    def write(self, buf: bytes) -> int:
        try:
            return os.write(self.fd, buf)
        except OSError:
            return 0

    def flush(self) -> None:
        pass


@dataclass
class Panel:
    """One Control Panel run; :meth:`stop` is a panel that stops answering."""

    cp: Any
    granted: set[int]
    reads: list[dict[str, Any]] = field(default_factory=list)
    completed: list[tuple[int, int]] = field(default_factory=list)  # (command, status)

    def card(self, index: int = -1) -> CardBits:
        event = self.reads[index]
        return CardBits(int(event["length"]), bytes(event["data"]))

    def on_event(self, pd: int, event: dict[str, Any]) -> int:
        if event.get("event") != Event.CardRead:
            return 0
        self.reads.append(event)
        try:
            card = wiegand26_fields(self.card())[1]
        except ValueError:
            card = -1
        green = card in self.granted
        # this runs inside the panel's refresh, which holds its lock: to the C context
        # directly (index 0: the one reader)
        self.cp.ctx.submit_command(0, led(CommandLEDColor.Green if green else CommandLEDColor.Red))
        if green:
            self.cp.ctx.submit_command(0, BEEP)
        return 0

    def on_completed(self, address: int, command: dict[str, Any], status: int) -> None:
        self.completed.append((int(command["command"]), int(status)))

    def online(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.cp.is_online(ADDRESS):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.cp.thread is not None:
            self.cp.stop()

    def acknowledged(self, command: int) -> bool:
        return (command, CompletionStatus.Ok) in self.completed


def led(colour: int) -> dict[str, Any]:
    return {
        "command": Command.LED,
        "reader": 0,
        "led_number": 0,
        "control_code": 1,
        "on_count": 10,
        "off_count": 0,
        "on_color": colour,
        "off_color": CommandLEDColor.Black,
        "timer_count": 20,
        "temporary": True,
    }


BEEP = {
    "command": Command.Buzzer,
    "reader": 0,
    "control_code": 2,
    "on_count": 2,
    "off_count": 0,
    "rep_count": 1,
}


@dataclass
class Line:
    """A pty pair: ``device`` is the reader's end (what ``osdp_device`` names)."""

    master: int
    slave: int
    device: str


@contextmanager
def pty_line() -> Iterator[Line]:
    master, slave = os.openpty()
    tty.setraw(master)
    os.set_blocking(master, False)
    try:
        # the test keeps the slave open too, so that the master never reads EIO while the
        # reader reopens its end
        yield Line(master, slave, os.ttyname(slave))
    finally:
        os.close(master)
        os.close(slave)


@contextmanager
def panel(line: Line, key: bytes | None, granted: set[int]) -> Iterator[Panel]:
    """A Control Panel polling the reader on ``line`` (Secure Channel with ``key``)."""
    flags = [LibFlag.EnforceSecure] if key is not None else []
    info = PDInfo(ADDRESS, MasterEnd(line.master), scbk=key, flags=flags)
    cp = ControlPanel([info], log_level=LogLevel.Emergency)
    run = Panel(cp, granted)
    cp.set_event_handler(run.on_event)
    cp.set_command_completion_handler(run.on_completed)
    cp.start()
    try:
        yield run
    finally:
        run.stop()


__all__ = ["CardFormat", "Line", "Panel", "panel", "pty_line"]
