"""What follows a decision: it is shown (emitted), logged in the access log, and the door is
opened when the person is allowed in; door failures are shown to staff and logged too."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision, Person
from kiosk.domain.faces import Box, ImageArray
from kiosk.services.door import Door, DoorRequest, DoorResult, DoorWorker
from kiosk.services.heartbeat import KioskHeartbeat, silent_heartbeat
from kiosk.services.loop_messages import Decided, DoorReport, LoopMessage, Notice
from kiosk.services.loop_ports import AccessStore

log = logging.getLogger(__name__)

#: When the loop stops, door requests still pending are waited for this long beyond the
#: door's own timeout (``[door] timeout_seconds``); a door hanging longer is left behind.
DOOR_STOP_GRACE_SECONDS = 5.0

#: shown instead of a welcome when the entry could not be recorded (the door stays shut)
SEE_STAFF = "Please see staff: this entry could not be recorded"
#: shown when an access panel refused the badge or did not answer in time
DOOR_FAILED_MESSAGE = "The door did not open. Please see staff."


@dataclass(frozen=True)
class PanelAnswer:
    """What a deciding door's answer is shown and recorded with (see ``_ask_panel``)."""

    message: str
    person: Person
    distance: float
    since_face_ms: float | None
    when: datetime
    attempt: int | None
    over: bool


def _snapshot(rgb: ImageArray, box: Box) -> bytes | None:
    """JPEG of the face with some margin: what the log keeps when snapshots are kept."""
    height, width = rgb.shape[:2]
    margin = 0.4 * max(box.width, box.height)
    crop = Box(box.x1 - margin, box.y1 - margin, box.x2 + margin, box.y2 + margin)
    c = crop.clipped(width, height)
    part = rgb[int(c.y1) : int(c.y2), int(c.x1) : int(c.x2)]
    if part.size == 0:
        return None
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(part, cv2.COLOR_RGB2BGR))
    return data.tobytes() if ok else None


class Announcer:
    """Shows, logs and acts on the loop's decisions (and records its other events).

    ``emit``, ``model_version`` and ``threshold`` are asked at each use: the loop's
    ``emit`` is replaced by the screen's signal after it is built, the model is loaded
    later, the threshold follows the gallery's size. The door is opened on the door
    thread while :meth:`door_worker` is open, else inline."""

    def __init__(
        self,
        settings: Settings,
        store: AccessStore,
        door: Door,
        emit: Callable[[LoopMessage], None],
        now: Callable[[], datetime],
        model_version: Callable[[], str | None],
        threshold: Callable[[], float | None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.door = door
        self.emit = emit
        self.now = now
        self.model_version = model_version
        self.threshold = threshold
        self._doors: DoorWorker | None = None  # while door_worker() is open
        # the recognition and door threads both record: one event at a time
        self._record_lock = threading.Lock()
        #: told of each decision and door result (the loop sets its own)
        self.heartbeat: KioskHeartbeat = silent_heartbeat(settings.kiosk_id)

    @contextmanager
    def door_worker(self) -> Iterator[None]:
        """Within the block, the loop's step hands door requests to one background thread
        (in order, one at a time) and goes on recognising; the door's report is emitted
        and a failure recorded from that thread. At the end of the block the requests
        still pending are finished before it returns, within the door's timeout plus a
        grace in all, so that a person let in at shutdown is not left at a closed door
        (a request still hung after that is left to its daemon thread, and logged).

        Enter it in the thread that calls :meth:`step`."""
        worker = DoorWorker()
        self._doors = worker
        try:
            yield
        finally:
            self._doors = None
            timeout = self.settings.door.timeout_seconds + DOOR_STOP_GRACE_SECONDS
            if not worker.close(timeout):
                log.error("door: a door request was still running after %.0f s at stop", timeout)

    def announce(
        self,
        decision: Decision,
        message: str,
        person: Person | None,
        distance: float,
        *,
        attempt: int | None,
        over: bool,
        since_face_ms: float | None,
        replaced: bool = False,
        detail: str = "",
        log_person: Person | None = None,
        snapshot: tuple[ImageArray, Box] | None = None,
    ) -> None:
        """Show a decision, log it, and open the door if allowed. ``person`` is shown
        (and let in); ``log_person`` is only logged (the holder of a badge shown with
        another face); ``replaced``: another face is already in front of the kiosk, so
        the screen does not show it."""
        when = self.now()
        keep = self.settings.keep_snapshots and self.settings.snapshot_retention_days > 0
        jpeg = _snapshot(*snapshot) if keep and snapshot is not None else None
        if decision.allowed and person is not None and getattr(self.door, "decides", False):
            answer = PanelAnswer(message, person, distance, since_face_ms, when, attempt, over)
            self._ask_panel(answer, replaced, jpeg)
            return
        logged = person or log_person
        self.heartbeat.decided(when)
        log.info(
            "kiosk: %s %s (distance %.2f)",
            decision.value,
            logged.name if logged else "unknown face",
            distance,
        )
        # No opening without a record: the event is written before the door is told, and
        # an entry that cannot be recorded is refused (fail closed), with an alert.
        recorded = self.record(
            decision,
            f"{message} ({detail})" if detail else message,
            person_id=logged.id if logged else None,
            score=distance,
            latency_ms=since_face_ms,
            snapshot=jpeg,
        )
        opens = decision.allowed and person is not None
        shown, text = decision, message
        if opens and not recorded:
            assert person is not None
            log.error("kiosk: %s not let in: the access log cannot be written", person.name)
            shown, text, opens = Decision.ERROR, SEE_STAFF, False
        self.emit(
            Decided(
                shown,
                text,
                person.name if person else None,
                person.id if person else None,
                distance,
                since_face_ms,
                when,
                attempt,
                over,
                replaced,
            )
        )
        if opens and person is not None:
            self._open_door(person, when)

    def _open_door(self, person: Person, when: datetime) -> None:
        """Open the door for ``person``: on the door thread while :meth:`door_worker` is
        open (the :class:`Decided` is already out, so its report follows it), else here."""
        request = DoorRequest(
            self.settings.kiosk_id,
            person.id,
            person.name,
            when,
            self.settings.door.open_seconds,
            person.badge,
        )

        def job() -> None:
            report = self._ask_door(request)
            self.heartbeat.door(report.ok, report.message)
            self.emit(report)
            if not report.ok:
                self.record(Decision.ERROR, report.message, person_id=person.id)

        doors = self._doors
        if doors is None:
            job()
        else:
            doors.submit(job)

    def _ask_panel(self, answer: PanelAnswer, replaced: bool, jpeg: bytes | None) -> None:
        """A door that decides (an OSDP access panel, ``Door.decides``): the kiosk's
        ALLOWED is a question to it, and its answer is what is recorded and shown. Granted:
        ALLOWED. Refused, or no answer in time: recorded as a failed door (ERROR) and
        shown as "Please see staff", never ALLOWED. Meanwhile the screen keeps "Checking".
        (The panel keeps its own log of the card read; the kiosk records after it.)"""
        person = answer.person
        request = DoorRequest(
            self.settings.kiosk_id,
            person.id,
            person.name,
            answer.when,
            self.settings.door.open_seconds,
            person.badge,
        )

        def job() -> None:
            report = self._ask_door(request)
            if report.ok:
                shown, text = Decision.ALLOWED, answer.message
                reason = answer.message
            else:
                shown, text = Decision.ERROR, DOOR_FAILED_MESSAGE
                reason = f"door failed: {report.message}"
            recorded = self.record(
                shown,
                reason,
                person_id=person.id,
                score=answer.distance,
                latency_ms=answer.since_face_ms,
                snapshot=jpeg,
            )
            if not recorded and report.ok:
                log.error(
                    "kiosk: the panel let %s in, but the log could not record it", person.name
                )
            self.emit(
                Decided(
                    shown,
                    text,
                    person.name,
                    person.id,
                    answer.distance,
                    answer.since_face_ms,
                    answer.when,
                    answer.attempt,
                    answer.over,
                    replaced,
                    door_failed=not report.ok,
                )
            )
            self.emit(report)

        doors = self._doors
        if doors is None:
            job()
        else:
            doors.submit(job)

    def _ask_door(self, request: DoorRequest) -> DoorReport:
        try:
            result = self.door.open(request)
        except Exception as exc:  # a door must not stop the kiosk, even a buggy one
            log.exception("door: unexpected error")
            result = DoorResult(False, f"door error: {exc}")
        if not result.ok:
            log.error("door: %s", result.message)
        return DoorReport(result.ok, result.message, request.person_id)

    def record(
        self,
        decision: Decision,
        reason: str,
        *,
        person_id: int | None = None,
        score: float | None = None,
        latency_ms: float | None = None,
        snapshot: bytes | None = None,
    ) -> bool:
        """Append an event to the access log; ``False`` (and an alert to staff) when it
        could not be written."""
        event = AccessEvent(
            time=self.now(),
            kiosk_id=self.settings.kiosk_id,
            decision=decision,
            person_id=person_id,
            score=None if score is None or not np.isfinite(score) else score,
            threshold=self.threshold(),
            model_version=self.model_version(),
            latency_ms=latency_ms,
            reason=reason,
            snapshot_jpeg=snapshot,
        )
        try:
            with self._record_lock:
                self.store.record_event(event)
        except Exception as exc:
            log.exception("kiosk: cannot record the event")
            self.emit(Notice(f"cannot write the access log: {exc}; nobody is let in until it can"))
            return False
        return True
