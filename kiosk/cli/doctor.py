"""``main.py doctor``: is this machine ready to run a door? One line per check.

    ok    camera: video door.avi gives frames (320x240)
    FAIL  database: none at /home/kiosk/.local/share/kiosk/kiosk.db (...)
    warn  GPU: none; recognition runs on the CPU

The checks: the camera opens and gives frames; the models load and their checksums
match; the database and its encryption key; the door (webhook reachable, OSDP panel
answering through Secure Channel, serial port present); the display; the GPU; free disk;
the clock; the message bus when one is set. Exit 1 when anything a door needs is missing
(a FAIL line), else 0; a ``warn`` line is worth knowing but does not stop a door.

Nothing is created or changed: a fresh machine is told what is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from kiosk.config import Settings
from kiosk.errors import KioskError

#: a kiosk's log, snapshots and database need room; below this a door is at risk
MIN_FREE_BYTES = 500 * 1024 * 1024
WARN_FREE_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | FAIL
    detail: str

    def line(self) -> str:
        return f"{self.status:<5} {self.name}: {self.detail}"


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _warn(name: str, detail: str) -> Check:
    return Check(name, "warn", detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, "FAIL", detail)


# -- the checks --------------------------------------------------------------------------


def check_camera(settings: Settings, seconds: float = 10.0) -> Check:
    from kiosk.camera.sources import describe, open_source

    spec = settings.camera
    capture = settings.capture
    source = open_source(spec, capture.width, capture.height, capture.fps, loop=False)
    try:
        source.open()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            image = source.read()
            if image is not None:
                return _ok(
                    "camera", f"{describe(spec)} gives frames ({image.shape[1]}x{image.shape[0]})"
                )
        return _fail("camera", f"{describe(spec)} opened but gave no frame in {seconds:g} s")
    except KioskError as exc:
        return _fail("camera", str(exc))
    finally:
        source.close()


def check_models(settings: Settings) -> Check:
    from kiosk.vision import weights
    from kiosk.vision.pipeline import FacePipeline

    try:
        # the weight files themselves, hashed now (the load may use a converted copy
        # cached while the file's size and time are unchanged)
        if settings.vision.network == "sface":
            weights.sface_file()
            checked = "SFace ONNX"
        else:
            weights.verified_model_file(weights.RESNET_FILE, weights.RESNET_SHA256)
            weights.verified_model_file(weights.SHAPE5_FILE, weights.SHAPE5_SHA256)
            checked = "dlib ResNet and 5-point shape"
        pipeline = FacePipeline.load(settings.vision)
    except KioskError as exc:
        return _fail("models", str(exc))
    info = pipeline.model_info
    return _ok(
        "models",
        f"MTCNN and {info.name} {info.version} loaded on {pipeline.device}; {checked} sha256 match",
    )


def check_database(settings: Settings) -> Check:
    from kiosk.storage.database import sqlite_file
    from kiosk.storage.store import open_store

    url = settings.effective_database_url
    db = sqlite_file(url)
    if db is not None and not db.exists():
        return _fail("database", f"none at {db} (start the kiosk or enroll someone first)")
    if not settings.encryption_key and not settings.effective_key_file.exists():
        return _fail(
            "database",
            f"the encryption key file {settings.effective_key_file} is missing "
            "(restore it, or set KIOSK_ENCRYPTION_KEY)",
        )
    try:
        store = open_store(settings)  # the key is checked against the database
        try:
            with store.unit_of_work() as uow:
                people = uow.people.count(active_only=True)
        finally:
            store.close()
    except KioskError as exc:
        return _fail("database", str(exc))
    where = str(db) if db is not None else urllib.parse.urlsplit(url).hostname or url
    if people == 0:
        return _warn("database", f"{where} and its key ok, but nobody is enrolled")
    return _ok("database", f"{where} and its key ok, {people} people enrolled")


def check_door(settings: Settings, seconds: float = 10.0) -> Check:
    door = settings.door
    kind = door.kind.strip().lower()
    if kind == "log":
        return _warn("door", "kind = log: no door is opened, decisions are only logged")
    if kind == "webhook":
        parts = urllib.parse.urlsplit(door.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), door.timeout_seconds).close()
        except OSError as exc:
            return _fail("door", f"webhook {parts.hostname}:{port} unreachable: {exc}")
        return _ok("door", f"webhook {parts.hostname}:{port} reachable")
    if kind == "serial":
        device = Path(door.serial_device)
        if not door.serial_device or not device.exists():
            return _fail("door", f"serial relay {door.serial_device or '(none set)'} missing")
        if not os.access(device, os.W_OK):
            return _fail("door", f"serial relay {device}: no permission to write (dialout?)")
        return _ok("door", f"serial relay {device} present")
    if kind == "osdp":
        return _check_osdp(settings, seconds)
    return _fail("door", f"kind {door.kind!r} is not log, webhook, serial or osdp")


def _check_osdp(settings: Settings, seconds: float) -> Check:
    from kiosk.services.door_osdp import make_osdp_door
    from kiosk.storage.osdp_key import osdp_key_path, read_osdp_key

    key = None
    if settings.door.osdp_secure:
        try:
            key = read_osdp_key(osdp_key_path(settings.effective_key_file))
        except KioskError as exc:
            return _fail("door", str(exc))
    try:
        door = make_osdp_door(settings.door, key)
    except KioskError as exc:
        return _fail("door", str(exc))
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not door.online():
            time.sleep(0.1)
        state = door.state()
        return _ok("door", state) if door.online() else _fail("door", state)
    finally:
        door.close()


def check_display(env: dict[str, str]) -> Check:
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform in ("offscreen", "minimal"):
        return _warn("display", f"QT_QPA_PLATFORM={platform}: the kiosk runs without a screen")
    if env.get("WAYLAND_DISPLAY"):
        return _ok("display", f"Wayland {env['WAYLAND_DISPLAY']}")
    if env.get("DISPLAY"):
        return _ok("display", f"X11 {env['DISPLAY']}")
    return _fail("display", "no DISPLAY or WAYLAND_DISPLAY: the kiosk's window cannot open")


def check_gpu(settings: Settings) -> Check:
    import torch

    if torch.cuda.is_available():
        return _ok("GPU", torch.cuda.get_device_name(0))
    if settings.vision.device == "cuda":
        return _warn("GPU", "device = cuda but no GPU is usable; recognition falls to the CPU")
    return _warn("GPU", f"none; recognition runs on the CPU ({os.cpu_count()} cores)")


def check_disk(settings: Settings) -> Check:
    folder = settings.home if settings.home.exists() else settings.home.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    text = f"{free / 2**30:.1f} GiB free on {folder}"
    if free < MIN_FREE_BYTES:
        return _fail("disk", text + f" (below {MIN_FREE_BYTES // 2**20} MiB)")
    if free < WARN_FREE_BYTES:
        return _warn("disk", text)
    return _ok("disk", text)


def check_clock(now: datetime | None = None) -> Check:
    now = now or datetime.now(UTC)
    if now.year < 2025:
        return _fail("clock", f"{now.isoformat(timespec='seconds')}: wrong (schedules, log)")
    try:
        done = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        synced = done.stdout.strip() if done.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        synced = ""
    stamp = now.isoformat(timespec="seconds")
    if synced == "yes":
        return _ok("clock", f"{stamp}, synchronised (NTP)")
    if synced == "no":
        return _warn("clock", f"{stamp}, not synchronised: enable NTP (timedatectl set-ntp true)")
    return _warn("clock", f"{stamp}; synchronisation unknown (no timedatectl)")


def check_events(settings: Settings) -> Check | None:
    if not settings.events.mqtt:
        return None
    from kiosk.services.events import parse_broker

    try:
        broker = parse_broker(settings.events.mqtt)
        socket.create_connection((broker.host, broker.port), 3).close()
    except (KioskError, OSError) as exc:
        return _warn("events", f"broker {settings.events.mqtt} unreachable: {exc}")
    return _ok("events", f"broker {broker.host}:{broker.port} reachable")


# -- the command -------------------------------------------------------------------------


def run_checks(settings: Settings, env: dict[str, str]) -> list[Check]:
    checks: list[tuple[str, Callable[[], Check | None]]] = [
        ("camera", lambda: check_camera(settings)),
        ("models", lambda: check_models(settings)),
        ("database", lambda: check_database(settings)),
        ("door", lambda: check_door(settings)),
        ("display", lambda: check_display(env)),
        ("GPU", lambda: check_gpu(settings)),
        ("disk", lambda: check_disk(settings)),
        ("clock", lambda: check_clock()),
        ("events", lambda: check_events(settings)),
    ]
    results = []
    for name, check in checks:
        try:
            result = check()
        except Exception as exc:  # a check that breaks is a finding, not a traceback
            result = _fail(name, f"{type(exc).__name__}: {exc}")
        if result is not None:
            print(result.line(), flush=True)
            results.append(result)
    return results


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    if args.camera:
        settings = replace(settings, camera=args.camera)
    results = run_checks(settings, dict(os.environ))
    failed = [r.name for r in results if r.status == "FAIL"]
    if failed:
        print(f"not ready for a door: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help="is this machine ready for a door? camera, models, database, door, display, ...",
    )
    p.add_argument("--camera", help="check this camera instead of the configured one")
    p.set_defaults(handler=cmd_doctor)
