"""The recognition loop of the kiosk screen, free of Qt.

Newest frame -> detect -> the face in the decision region -> align and embed it ->
search the gallery -> vote over recent recognitions -> access rules -> liveness ->
door -> access log. Everything it has to say leaves through ``emit`` as a frozen
dataclass (:class:`LoopReady`, :class:`Analysis`, :class:`Decided`, :class:`DoorReport`,
:class:`Notice`); the screen turns them into pixels, a benchmark into figures.

It runs in its own thread (the caller's): the screen never waits for it, and it always
works on the freshest frame, so latency does not grow when it is slower than the camera.
The door is opened from one more thread (see :meth:`KioskLoop.door_worker`), so that a
slow door (a webhook waiting for its timeout) does not pause recognition.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import cv2
import numpy as np

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person, check_access
from kiosk.domain.faces import Box, DetectedFace, FaceResult, FloatArray, ImageArray, ModelInfo
from kiosk.domain.policy import Verdict, Vote, Voter, VotingRule, choose_face
from kiosk.errors import ConfigError, KioskError
from kiosk.services.door import Door, DoorRequest, DoorResult

log = logging.getLogger(__name__)

#: How often the gallery and the people count are re-read, so that people enrolled or
#: deactivated while the kiosk runs are seen without a restart.
GALLERY_REFRESH_SECONDS = 30.0
#: The recognition rate is measured over this many recent recognitions.
RATE_WINDOW = 20
#: When the loop stops, door requests still pending are waited for this long beyond the
#: door's own timeout (``[door] timeout_seconds``); a door hanging longer is left behind.
DOOR_STOP_GRACE_SECONDS = 5.0


# --- what the loop needs -------------------------------------------------------------


class Recognizer(Protocol):
    """The part of ``kiosk.vision.pipeline.FacePipeline`` the kiosk uses."""

    @property
    def device(self) -> str: ...

    @property
    def model_info(self) -> ModelInfo: ...

    def detect(self, rgb: ImageArray) -> list[DetectedFace]: ...

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]: ...


class Searcher(Protocol):
    """``kiosk.vision.matcher.Gallery``: 1:N search."""

    def search(self, queries: FloatArray, threshold: float | None, margin: float = 0.0) -> list: ...  # type: ignore[type-arg]


class AccessStore(Protocol):
    """What the kiosk needs from storage (``kiosk.services.access.AccessService``)."""

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]: ...

    def get_person(self, person_id: int) -> Person:
        """Raises a :class:`KioskError` when there is no such person (any more)."""

    def get_schedule(self, group: str) -> AccessSchedule | None: ...

    def record_event(self, event: AccessEvent) -> int:
        """Called from the recognition thread and from the door thread (the loop holds a
        lock around its own calls, but the other methods run meanwhile on the recognition
        thread: the store must be thread-safe, as ``AccessService`` is)."""

    def people_count(self, *, active_only: bool = False) -> int: ...


class LivenessAnswer(Protocol):
    """What ``assess`` returns (any object with these attributes)."""

    @property
    def live(self) -> bool: ...

    @property
    def reason(self) -> str:
        """For the person at the door when not live."""

    @property
    def pending(self) -> bool:
        """Not decided yet (a challenge is running): keep observing, ask again."""

    @property
    def prompt(self) -> str:
        """While pending: what the person has to do now."""


@dataclass(frozen=True)
class LivenessVerdict:
    live: bool
    reason: str = ""
    pending: bool = False
    prompt: str = ""


class LivenessCheck(Protocol):
    """A check that the face is a live person, between the match and the door.

    ``observe`` sees every recognised frame of the face being decided on; ``assess`` is
    asked when the votes agree on an allowed person (again after more votes while it
    answers *pending*); ``reset`` when the face leaves or a decision was made;
    ``abandon`` when the face left while the check was pending: the failed answer to
    record (what was asked and measured), or None when nothing was pending."""

    def observe(self, frame: Frame, face: FaceResult) -> None: ...

    def assess(self) -> LivenessAnswer: ...

    def reset(self) -> None: ...

    def abandon(self) -> LivenessAnswer | None: ...


class NoLivenessCheck:
    """Accepts every face (the default until a liveness check is configured)."""

    def observe(self, frame: Frame, face: FaceResult) -> None:
        pass

    def assess(self) -> LivenessVerdict:
        return LivenessVerdict(True)

    def reset(self) -> None:
        pass

    def abandon(self) -> LivenessVerdict | None:
        return None


# --- what the loop says --------------------------------------------------------------


@dataclass(frozen=True)
class LoopReady:
    """The models are loaded (or reloaded gallery): figures for the status line."""

    device: str
    model: str
    enrolled: int


@dataclass(frozen=True)
class Analysis:
    """One recognised frame: the faces to draw and what the loop is doing.

    ``state`` is ``"idle"`` (no face in the decision region) or ``"checking"`` (a face is
    being recognised; the votes are not in yet). ``latency_ms`` is from the frame leaving
    the camera to this result; ``rate`` the recognitions per second lately."""

    frame_seq: int
    width: int
    height: int
    boxes: tuple[Box, ...]
    chosen: int | None
    state: str
    latency_ms: float
    rate: float


@dataclass(frozen=True)
class Decided:
    """A decision for the person at the door.

    ``title`` / ``message`` are the words on the screen; ``repeat`` is true within the
    cooldown (shown again, not logged, door not opened again); ``since_face_ms`` is the
    time from the first frame with this face to the decision."""

    decision: Decision
    message: str
    name: str | None
    person_id: int | None
    distance: float
    repeat: bool
    since_face_ms: float | None
    time: datetime

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


@dataclass(frozen=True)
class LivenessPrompt:
    """The votes agree on an allowed person, but the liveness check needs more: the
    screen keeps "checking" and shows ``prompt``."""

    prompt: str
    name: str
    move: str = ""  # left | right | up | down: the way to turn (for an arrow), if known


@dataclass(frozen=True)
class DoorReport:
    """The door's answer to an ALLOWED decision; it comes after that :class:`Decided`,
    and may come after later updates (the door is opened off the recognition thread)."""

    ok: bool
    message: str
    person_id: int | None = None  # whom the door was opened for


@dataclass(frozen=True)
class Notice:
    """Something staff should know that is not a decision (database or model trouble)."""

    message: str
    fatal: bool = False  # the loop has stopped


UNKNOWN_MESSAGE = "Face not recognised. Please see staff."
#: on the screen when the face left during the liveness check (recorded as a spoof)
LEFT_MESSAGE = "The liveness check was not finished. Please look at the camera and try again."
#: the face under the liveness check was no longer the person's
CHANGED_MESSAGE = "Please turn your head as shown."
#: a face missing for up to this long during the liveness check is waited for (a head
#: turned far, a hand in front of it); longer, the attempt ends as a failed check
FACE_LOST_GRACE_SECONDS = 1.0


@dataclass
class _Pending:
    """The liveness check is asking an allowed person for more: who, and their latest
    frame and face (the snapshot if the attempt ends without them)."""

    person: Person
    distance: float
    frame: Frame
    face: FaceResult
    lost_since: float | None = None


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


class _DoorWorker:
    """One daemon thread that runs door jobs in the order given, one at a time.

    The queue is not bounded, but it stays short: a door request follows an ALLOWED
    decision, and the cooldown keeps one person from being decided on again at once.
    Daemon, so that a door hanging beyond every timeout cannot keep the process alive."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="door", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # the jobs report their own errors; this is the last net
                log.exception("door: the door job failed")

    def close(self, timeout: float) -> bool:
        """Run the jobs already submitted, then end; true when done within ``timeout``."""
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()


class KioskLoop:
    """The kiosk's recognition loop; :meth:`run` until the stop event is set.

    ``load_recognizer`` and ``open_store`` are called inside :meth:`run`, so that the
    slow model load happens in the loop's thread, not the caller's; ``make_gallery``
    turns (embeddings, labels) into a searcher (normally ``Gallery``).

    While :meth:`run` runs, the door is opened from a worker thread (:meth:`door_worker`);
    a caller driving :meth:`step` itself (tests, benchmarks) gets the door opened inline,
    its :class:`DoorReport` emitted before ``step`` returns, unless it opens
    :meth:`door_worker` too."""

    def __init__(
        self,
        settings: Settings,
        slot: FrameSlot,
        emit: Callable[[object], None],
        *,
        load_recognizer: Callable[[], Recognizer],
        store: AccessStore,
        door: Door,
        make_gallery: Callable[[FloatArray, list[int]], Searcher],
        liveness: LivenessCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.slot = slot
        self.emit = emit
        self._load_recognizer = load_recognizer
        self.store = store
        self.door = door
        #: the threshold of the latest search (recorded with the events it decided)
        self._threshold: float | None = None
        self._make_gallery = make_gallery
        self.liveness = liveness or NoLivenessCheck()
        self.clock = clock
        self.now = now
        d = settings.decision
        try:
            rule = VotingRule(d.votes_needed, d.vote_window, d.vote_seconds, d.cooldown_seconds)
        except ValueError as exc:
            raise ConfigError(f"[decision]: {exc}") from None
        self.voter = Voter(rule)
        self.recognizer: Recognizer | None = None
        self.gallery: Searcher | None = None
        self._gallery_time = -1e9
        self._face_since: float | None = None
        self._pending: _Pending | None = None  # a liveness check is asking for more
        self._recent: deque[float] = deque(maxlen=RATE_WINDOW)  # recent recognitions
        self._outage_recorded = False
        self._outage_started: float | None = None
        self._too_slow_told = False
        self._doors: _DoorWorker | None = None  # while door_worker() is open
        # the recognition and door threads both record: one event at a time from this loop
        self._record_lock = threading.Lock()

    # -- running ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Load the models, then recognise the newest frame until ``stop`` is set."""
        try:
            self.recognizer = self._load_recognizer()
            self._refresh_gallery(force=True)
        except KioskError as exc:
            self.emit(Notice(str(exc), fatal=True))
            return
        except Exception as exc:
            log.exception("kiosk: cannot start the recognition")
            self.emit(Notice(f"recognition cannot start: {exc}", fatal=True))
            return
        seq = 0
        with self.door_worker():
            while not stop.is_set():
                frame = self.slot.wait_newer(seq, timeout=0.2)
                self._watch_camera(self.slot.status)
                if frame is None:
                    continue
                seq = frame.seq
                try:
                    self.step(frame)
                except Exception as exc:  # one bad frame or a database hiccup: keep going
                    log.exception("kiosk: recognition step failed")
                    self.emit(Notice(f"recognition error: {exc}"))
                    stop.wait(0.5)

    @contextmanager
    def door_worker(self) -> Iterator[None]:
        """Within the block, :meth:`step` hands door requests to one background thread
        (in order, one at a time) and goes on recognising; the door's report is emitted
        and a failure recorded from that thread. At the end of the block the requests
        still pending are finished before it returns, within the door's timeout plus a
        grace in all, so that a person let in at shutdown is not left at a closed door
        (a request still hung after that is left to its daemon thread, and logged).

        Enter it in the thread that calls :meth:`step`."""
        worker = _DoorWorker()
        self._doors = worker
        try:
            yield
        finally:
            self._doors = None
            timeout = self.settings.door.timeout_seconds + DOOR_STOP_GRACE_SECONDS
            if not worker.close(timeout):
                log.error("door: a door request was still running after %.0f s at stop", timeout)

    def _refresh_gallery(self, force: bool = False) -> None:
        if not force and self.clock() - self._gallery_time < GALLERY_REFRESH_SECONDS:
            return
        assert self.recognizer is not None
        self._gallery_time = self.clock()
        embeddings, labels = self.store.load_gallery(self.recognizer.model_info)
        self.gallery = self._make_gallery(embeddings, labels)
        enrolled = self.store.people_count()
        model = self.recognizer.model_info
        self.emit(LoopReady(self.recognizer.device, f"{model.name} {model.version}", enrolled))

    def _watch_camera(self, status: CameraStatus) -> None:
        """Record an outage once when it starts and once when it ends."""
        offline = not status.online and status.offline_since is not None
        latest = self.slot.latest()
        stalled = (
            status.online
            and latest is not None
            and self.clock() - latest.time > self.settings.capture.stall_seconds
        )
        if (offline or stalled) and not self._outage_recorded:
            reason = status.message if offline else "the camera stopped sending frames"
            self._outage_recorded = True
            self._outage_started = self.clock()
            self.voter.reset()
            self.liveness.reset()
            self._pending = None
            self._face_since = None
            self._record(Decision.ERROR, f"camera offline: {reason}")
        elif status.online and not stalled and self._outage_recorded:
            lasted = self.clock() - (self._outage_started or self.clock())
            self._outage_recorded = False
            self._record(Decision.ERROR, f"camera back online after {lasted:.0f} s")

    # -- one frame ----------------------------------------------------------------

    def step(self, frame: Frame) -> None:
        """Recognise one frame and act on it."""
        assert self.recognizer is not None
        self._refresh_gallery()
        assert self.gallery is not None
        vision = self.settings.vision
        faces = self.recognizer.detect(frame.rgb)
        boxes = tuple(f.box for f in faces)
        chosen = choose_face(boxes, frame.width, frame.height, self.settings.decision.region)
        verdict: Verdict | None = None
        result: FaceResult | None = None
        if chosen is None:
            self.voter.expire(frame.time)
            if self._pending is not None:
                self._face_missing(frame.time)
            elif self._face_since is not None:
                self.liveness.reset()
                self._face_since = None
            state = "checking" if self._pending is not None else "idle"
        else:
            if self._face_since is None:
                self._face_since = frame.time
            result = self.recognizer.analyze(frame.rgb, [faces[chosen]])[0]
            match = self.gallery.search(
                result.embedding[None, :], vision.threshold, vision.ambiguity_margin
            )[0]
            self.liveness.observe(frame, result)
            if self._pending is not None:
                self._pending.frame, self._pending.face = frame, result
                self._pending.lost_since = None
            self._threshold = None if match.threshold is None else float(match.threshold)
            person_id = match.label if match.is_match else None
            verdict = self.voter.add(Vote(frame.time, person_id, float(match.distance)))
            state = "checking"
        done = self.clock()
        self._recent.append(done)
        rate = 0.0
        if len(self._recent) > 1 and self._recent[-1] > self._recent[0]:
            rate = (len(self._recent) - 1) / (self._recent[-1] - self._recent[0])
        self._check_rate(rate)
        self.emit(
            Analysis(
                frame.seq,
                frame.width,
                frame.height,
                boxes,
                chosen,
                state,
                (done - frame.time) * 1000.0,
                rate,
            )
        )
        if verdict is not None and result is not None:
            self._decide(verdict, frame, result)

    def _check_rate(self, rate: float) -> None:
        """Tell staff once when recognition is too slow for the voting rule: with fewer
        than ``votes_needed`` recognitions in ``vote_seconds`` nobody is ever decided on."""
        rule = self.voter.rule
        needed = rule.needed / rule.seconds
        if self._too_slow_told or len(self._recent) < RATE_WINDOW or rate >= needed:
            return
        self._too_slow_told = True
        message = (
            f"recognition runs at {rate:.1f}/s, too slow for {rule.needed} votes in "
            f"{rule.seconds:g} s: raise [decision] vote_seconds or use a faster machine"
        )
        log.warning("kiosk: %s", message)
        self.emit(Notice(message))

    def _decide(self, verdict: Verdict, frame: Frame, face: FaceResult) -> None:
        pending = self._pending
        if pending is not None and not verdict.repeat and verdict.person_id != pending.person.id:
            # the face under the liveness check became someone else, or nobody the gallery
            # knows (a picture tilted until it no longer matches): the check fails
            self._deny_pending(
                CHANGED_MESSAGE,
                "liveness failed: the face changed during the liveness check",
                self.clock(),
            )
            return
        person: Person | None = None
        if verdict.person_id is not None:
            try:
                person = self.store.get_person(verdict.person_id)
            except KioskError:
                person = None  # erased since the gallery was loaded
        when = self.now()
        detail = ""
        if person is None:
            decision, message = Decision.DENIED_UNKNOWN, UNKNOWN_MESSAGE
        else:
            schedule = self.store.get_schedule(person.group) if person.group else None
            check = check_access(person, schedule, when)
            decision, message = check.decision, check.reason
            if decision.allowed and not verdict.repeat:
                liveness = self.liveness.assess()
                if liveness.pending:
                    # not decided yet: no verdict counts, so the next agreement is fresh
                    self.voter.forget(person.id)
                    self._pending = _Pending(person, verdict.distance, frame, face)
                    if liveness.prompt:  # a check that asks nothing just keeps "checking"
                        move = getattr(liveness, "move", None) or ""
                        self.emit(LivenessPrompt(liveness.prompt, person.name, move))
                    return
                if not liveness.live:
                    decision = Decision.DENIED_SPOOF
                    message = liveness.reason or "Please look at the camera yourself."
                    # what the check measured, for staff reading the log
                    detail = getattr(liveness, "detail", "") or ""
        since_face = (
            (self.clock() - self._face_since) * 1000.0 if self._face_since is not None else None
        )
        self.emit(
            Decided(
                decision,
                message,
                person.name if person else None,
                person.id if person else None,
                verdict.distance,
                verdict.repeat,
                since_face,
                when,
            )
        )
        self.liveness.reset()
        self._face_since = None
        self._pending = None
        if verdict.repeat:
            return
        log.info(
            "kiosk: %s %s (distance %.2f)",
            decision.value,
            person.name if person else "unknown face",
            verdict.distance,
        )
        keep = self.settings.keep_snapshots and self.settings.snapshot_retention_days > 0
        self._record(
            decision,
            f"{message} ({detail})" if detail else message,
            person_id=person.id if person else None,
            score=verdict.distance,
            latency_ms=since_face,
            snapshot=_snapshot(frame.rgb, face.face.box) if keep else None,
        )
        if decision.allowed and person is not None:
            self._open_door(person, when)

    def _face_missing(self, now: float) -> None:
        """No face while the liveness check asks for more: wait a moment, then end the
        attempt as a failed check, recorded as a spoof (a picture pulled away when it
        could not answer leaves a trace, like one that answered wrongly)."""
        pending = self._pending
        assert pending is not None
        if pending.lost_since is None:
            pending.lost_since = now
        if now - pending.lost_since < FACE_LOST_GRACE_SECONDS:
            return
        answer = self.liveness.abandon()
        if answer is None:  # nothing was being asked (or it had passed): end quietly
            self.liveness.reset()
            self._pending = None
            self._face_since = None
            return
        detail = getattr(answer, "detail", "")
        reason = "the face left during the liveness check"
        self._deny_pending(
            LEFT_MESSAGE, f"{reason}; {detail}" if detail else reason, pending.lost_since
        )

    def _deny_pending(self, message: str, reason: str, ended: float) -> None:
        """End the attempt under the liveness check as a failed check (a spoof), shown,
        recorded with ``reason`` for staff, and never as an entry."""
        pending = self._pending
        assert pending is not None
        when = self.now()
        since_face = (ended - self._face_since) * 1000.0 if self._face_since is not None else None
        person = pending.person
        self.emit(
            Decided(
                Decision.DENIED_SPOOF,
                message,
                person.name,
                person.id,
                pending.distance,
                False,
                since_face,
                when,
            )
        )
        self.liveness.reset()
        self._pending = None
        self._face_since = None
        log.info("kiosk: denied-spoof %s (%s)", person.name, reason)
        keep = self.settings.keep_snapshots and self.settings.snapshot_retention_days > 0
        self._record(
            Decision.DENIED_SPOOF,
            f"{message} ({reason})",
            person_id=person.id,
            score=pending.distance,
            latency_ms=since_face,
            snapshot=_snapshot(pending.frame.rgb, pending.face.face.box) if keep else None,
        )

    def _open_door(self, person: Person, when: datetime) -> None:
        """Open the door for ``person``: on the door thread while :meth:`door_worker` is
        open (the :class:`Decided` is already out, so its report follows it), else here."""
        request = DoorRequest(
            self.settings.kiosk_id, person.id, person.name, when, self.settings.door.open_seconds
        )

        def job() -> None:
            report = self._ask_door(request)
            self.emit(report)
            if not report.ok:
                self._record(Decision.ERROR, report.message, person_id=person.id)

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

    def _record(
        self,
        decision: Decision,
        reason: str,
        *,
        person_id: int | None = None,
        score: float | None = None,
        latency_ms: float | None = None,
        snapshot: bytes | None = None,
    ) -> None:
        model = self.recognizer.model_info if self.recognizer is not None else None
        event = AccessEvent(
            time=self.now(),
            kiosk_id=self.settings.kiosk_id,
            decision=decision,
            person_id=person_id,
            score=None if score is None or not np.isfinite(score) else score,
            threshold=self._threshold,
            model_version=model.version if model else None,
            latency_ms=latency_ms,
            reason=reason,
            snapshot_jpeg=snapshot,
        )
        try:
            with self._record_lock:
                self.store.record_event(event)
        except Exception as exc:
            log.exception("kiosk: cannot record the event")
            self.emit(Notice(f"cannot write the access log: {exc}"))
