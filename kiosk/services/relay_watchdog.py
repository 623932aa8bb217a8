"""The serial relay's watchdog: a separate small process that switches the relay off
when the kiosk process ends without doing it (``kill -9``, a crash, a power-cut of the
process but not of the relay).

It reads its standard input, a pipe from the kiosk, until the end: the kernel closes the
pipe whatever way the kiosk ends, so that is the signal. Then it writes the "off" bytes
(hex in ``KIOSK_RELAY_OFF``) to the device and exits. Started by
``kiosk.services.door.SerialRelayDoor.start``; never imported by the kiosk itself.
"""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str]) -> int:
    # a service manager stopping the kiosk signals its whole group: the watchdog outlives
    # it, so that the "off" bytes are written whatever way the kiosk ends
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    device = argv[0]
    off = bytes.fromhex(os.environ.get("KIOSK_RELAY_OFF", ""))
    while sys.stdin.buffer.read(4096):
        pass
    try:
        fd = os.open(device, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(fd, off)
        finally:
            os.close(fd)
    except OSError as exc:
        print(f"relay watchdog: cannot switch {device} off: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
