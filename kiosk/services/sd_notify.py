"""The kiosk telling systemd it is alive (``sd_notify``), from the recognition loop.

Under the unit in ``deploy/kiosk.service`` (``Type=notify``, ``WatchdogSec``), systemd
sets ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC``. The kiosk sends ``READY=1`` once the models
are loaded, then ``WATCHDOG=1`` for each recognised frame, at most twice per watchdog
period: only frames being processed ping, so a camera that hangs or a model that stops
returning leaves systemd without pings, and it restarts the kiosk. ``STATUS=`` lines say
what it does (``systemctl --user status kiosk``): the decisions made so far.

The protocol is one datagram per message on a Unix socket (``@`` names an abstract
socket); written here directly, so no library is needed. Without ``NOTIFY_SOCKET`` every
call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from kiosk.services.loop_messages import Analysis, Decided, LoopReady, Notice

log = logging.getLogger(__name__)


class SystemdNotifier:
    """``sd_notify`` for the kiosk; feed it the loop's messages with :meth:`observe`."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        pid = env.get("WATCHDOG_PID", "")
        if pid and pid != str(os.getpid()):  # meant for another process (a parent's)
            address = ""
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        # systemd's advice: ping at half the period (default when unset: every second)
        self.interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 1.0
        self.clock = clock
        self.decisions = 0
        self.pings = 0
        self._ready = False
        self._last_ping = float("-inf")
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, text: str) -> bool:
        """Send one message (``"WATCHDOG=1"``, ``"READY=1\\nSTATUS=..."``); false when
        there is no socket or it cannot be reached (logged once, never raised)."""
        if not self.address:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(text.encode(), self.address)
        except OSError as exc:
            log.error("systemd notify socket %r: %s; no more notifications", self.address, exc)
            self.address = ""
            return False
        return True

    def observe(self, message: object) -> None:
        """The loop's messages: ready when the models are loaded, a ping per recognised
        frame (rate-limited), the decisions counted in the status."""
        match message:
            case LoopReady() if not self._ready:
                self._ready = True
                self.notify(f"READY=1\nSTATUS=recognising on {message.device}")
            case Analysis():
                now = self.clock()
                if now - self._last_ping >= self.interval:
                    self._last_ping = now
                    if self.notify("WATCHDOG=1"):
                        self.pings += 1
            case Decided():
                self.decisions += 1
                self.notify(f"STATUS=decisions {self.decisions}, last {message.decision.value}")
            case Notice() if message.fatal:
                self.notify(f"STATUS=stopped: {message.message}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")
        if self._socket is not None:
            self._socket.close()
            self._socket = None
