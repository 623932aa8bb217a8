"""The recognition loop of the kiosk screen, free of Qt.

Newest frame -> detect -> the face in the decision region, followed from frame to frame
(an :class:`~kiosk.services.attempt.Attempt`) -> align and embed it -> its frames added up
into one identity when enough are in (``kiosk.domain.policy``) -> access rules ->
liveness -> door -> access log. One decision per attempt. Everything it has to say leaves
through ``emit`` as a :data:`~kiosk.services.loop_messages.LoopMessage`.

It runs in its own thread: the screen never waits for it, and it works on the freshest
frame, so latency does not grow when it is slower than the camera. What follows a
decision (screen, log, door on a door thread) is ``kiosk.services.announce``'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import numpy as np

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import AccessSchedule, Decision, Person, check_access
from kiosk.domain.faces import DetectedFace, FaceResult, FloatArray
from kiosk.domain.liveness import NoLiveness
from kiosk.domain.policy import (
    DecisionPace,
    Identity,
    RateMeter,
    Recognition,
    choose_face,
    identify,
    same_face,
)
from kiosk.errors import ConfigError, KioskError
from kiosk.services import loop_messages as words
from kiosk.services.announce import Announcer
from kiosk.services.attempt import Attempt, BadgeInbox, Claim
from kiosk.services.badge_mode import BadgeMode
from kiosk.services.camera_watch import CameraWatch
from kiosk.services.door import Door
from kiosk.services.heartbeat import KioskHeartbeat, silent_heartbeat
from kiosk.services.liveness_step import PROMPT_REPEAT_SECONDS, LivenessStep
from kiosk.services.loop_messages import (
    LEFT_MESSAGE,
    Analysis,
    Decided,
    LivenessPrompt,
    LoopMessage,
    LoopReady,
    LoopState,
    Notice,
    PaceChanged,
)
from kiosk.services.loop_ports import (
    AccessStore,
    LivenessCheck,
    Recognizer,
    Searcher,
    frame_quality,
)

# read from here too: some messages (older callers), the ports (the composition root)
__all__ = ["AccessStore", "Decided", "KioskLoop", "LEFT_MESSAGE", "LivenessCheck"]
__all__ += ["LivenessPrompt", "LoopMessage", "PROMPT_REPEAT_SECONDS", "Recognizer", "Searcher"]

log = logging.getLogger(__name__)

Found = tuple[int | None, float]  # whom a search names (or nobody), at what distance

#: How often the gallery and the people count are re-read, so that people enrolled or
#: deactivated while the kiosk runs are seen without a restart.
GALLERY_REFRESH_SECONDS = 30.0
#: The recognition period is the median of this many recent ones.
RATE_WINDOW = 8
#: A face missing for this long (or two recognition periods, if longer) has left: a head
#: turned far or a missed detection is waited for. In the middle of a liveness check,
#: leaving ends the attempt as a failed check.
FACE_LOST_GRACE_SECONDS = 1.0
#: A decided face that comes back this soon after its attempt ended (a missed detection
#: longer than the grace, a head turned away) rejoins that attempt: one person standing
#: at the door is decided, logged and let in once. A denied face does not rejoin:
#: stepping away and back is how a person tries again.
REJOIN_SECONDS = 5.0


class KioskLoop(BadgeMode, LivenessStep):
    """The kiosk's recognition loop; :meth:`run` until the stop event is set.

    ``load_recognizer`` is called inside :meth:`run` (the slow model load happens in the
    loop's thread); ``make_gallery`` turns (embeddings, labels) into a searcher;
    ``quality`` weighs a frame; ``same_face_distance`` is the embedding distance within
    which two frames show one face (default: the configured network's ``next_face``).
    While :meth:`run` runs, the door is opened from a worker thread; a caller driving
    :meth:`step` itself gets it opened inline, unless it opens :meth:`door_worker` too.
    :meth:`claim` may be called from any thread."""

    def __init__(
        self,
        settings: Settings,
        slot: FrameSlot,
        emit: Callable[[LoopMessage], None],
        *,
        load_recognizer: Callable[[], Recognizer],
        store: AccessStore,
        door: Door,
        make_gallery: Callable[[FloatArray, list[int]], Searcher],
        liveness: LivenessCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        quality: Callable[[FaceResult], float] = frame_quality,
        same_face_distance: float | None = None,
        heartbeat: KioskHeartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.slot = slot
        self.emit = emit
        self._load_recognizer = load_recognizer
        self.store = store
        self.door = door
        self._make_gallery = make_gallery
        self.liveness: LivenessCheck = liveness or NoLiveness()
        self.clock = clock
        self.now = now
        self.quality = quality
        d = settings.decision
        try:
            self.pace = DecisionPace(d.decision_seconds, d.min_frames, d.max_frames)
        except ValueError as exc:
            raise ConfigError(f"[decision]: {exc}") from None
        self.recognizer: Recognizer | None = None
        self.gallery: Searcher | None = None
        self._templates: tuple[FloatArray, np.ndarray] = (np.zeros((0, 0), np.float32), np.zeros(0))
        self._gallery_time = -1e9
        self.attempt: Attempt | None = None
        self._last: Attempt | None = None  # the latest decided attempt, after it ended
        self._attempts = 0  # attempts so far: the next one's number
        #: a frame's face is the attempt's within this distance of one of its last three
        #: (None: the configured network's ``next_face``, looked up in the loop's thread)
        self._same_face = same_face_distance
        #: the threshold of the latest search (recorded with the events it decided)
        self._threshold: float | None = None
        self._claim: Claim | None = None  # badge + face: whose face is expected
        self._badges = BadgeInbox()
        self.rate = RateMeter(RATE_WINDOW)
        self._slow = False
        self._camera = CameraWatch(settings.capture.stall_seconds)
        self.heartbeat = heartbeat or silent_heartbeat(settings.kiosk_id)
        self.announcer = Announcer(
            settings,
            store,
            door,
            lambda message: self.emit(message),  # the screen replaces emit after this
            lambda: self.now(),
            lambda: self.recognizer.model_info.version if self.recognizer else None,
            lambda: self._threshold,
        )
        self.announcer.heartbeat = self.heartbeat

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
        with self.door_worker():
            self._recognise(stop)
        self.heartbeat.stop()

    def _recognise(self, stop: threading.Event) -> None:
        seq = 0
        while not stop.is_set():
            frame = self.slot.wait_newer(seq, timeout=0.2)
            self._watch_camera(self.slot.status)
            self.heartbeat.tick()
            if frame is None:
                continue
            seq = frame.seq
            try:
                self.step(frame)
            except Exception as exc:  # one bad frame or a database hiccup: keep going
                log.exception("kiosk: recognition step failed")
                self.emit(Notice(f"recognition error: {exc}"))
                stop.wait(0.5)

    def door_worker(self) -> AbstractContextManager[None]:
        """Within the block, :meth:`step` hands door requests to one background thread
        and goes on recognising (see :meth:`Announcer.door_worker`). Enter it in the
        thread that calls :meth:`step`."""
        return self.announcer.door_worker()

    def _refresh_gallery(self, force: bool = False) -> None:
        if not force and self.clock() - self._gallery_time < GALLERY_REFRESH_SECONDS:
            return
        assert self.recognizer is not None
        self._gallery_time = self.clock()
        embeddings, labels = self.store.load_gallery(self.recognizer.model_info)
        self.gallery = self._make_gallery(embeddings, labels)
        self._templates = (embeddings, np.asarray(labels, np.int64))
        enrolled = self.store.people_count()
        model = self.recognizer.model_info
        self.emit(LoopReady(self.recognizer.device, f"{model.name} {model.version}", enrolled))

    def _watch_camera(self, status: CameraStatus) -> None:
        """Record an outage once when it starts, and once when it ends (CameraWatch)."""
        latest = self.slot.latest()
        change = self._camera.see(status, None if latest is None else latest.time, self.clock())
        if change is None:
            return
        if change.lost:
            self._end_attempt(face_left=False)
        self.heartbeat.camera(not change.lost, change.reason)
        self.announcer.record(Decision.ERROR, change.words)

    # -- one frame ----------------------------------------------------------------

    def step(self, frame: Frame) -> None:
        """Recognise one frame and act on it."""
        assert self.recognizer is not None
        self._refresh_gallery()
        faces = self.recognizer.detect(frame.rgb)
        boxes = tuple(f.box for f in faces)
        chosen = choose_face(boxes, frame.width, frame.height, self.settings.decision.region)
        self._take_badges(frame.time)
        if chosen is None:
            state, analysed = self._no_face(frame.time), False
        else:
            state, analysed = self._face(frame, faces[chosen])
        done = self.clock()
        period = self._measure(done, analysed)
        self.emit(
            Analysis(
                frame.seq,
                frame.width,
                frame.height,
                boxes,
                chosen,
                state,
                (done - frame.time) * 1000.0,
                1.0 / period if period else 0.0,
                self.attempt.id if self.attempt is not None else None,
                self._slow,
            )
        )

    def _measure(self, done: float, analysed: bool) -> float | None:
        """Keep the recognition period; tell when it is too slow to keep the promised
        decision time, and when it is fast enough again."""
        self.rate.add(done, analysed)
        period = self.rate.period
        if period is not None and self.rate.samples >= 3 and self.pace.slow(period) != self._slow:
            self._slow = not self._slow
            rate, needed, seconds = 1.0 / period, self.pace.rate_needed, self.pace.seconds
            if self._slow:
                log.warning("kiosk: %.1f recognitions/s, under the %.1f/s needed", rate, needed)
            self.emit(PaceChanged(self._slow, rate, needed, seconds))
        return period

    def _no_face(self, now: float) -> LoopState:
        attempt = self.attempt
        if attempt is None:
            return LoopState.IDLE
        grace = max(FACE_LOST_GRACE_SECONDS, 2.0 * (self.rate.period or 0.0))
        if attempt.missing(now) >= grace:
            self._end_attempt()
            return LoopState.IDLE
        if attempt.outcome is None and attempt.pending is None and attempt.recognitions:
            self._decide_if_ready(attempt, now)  # a missed detection must not make it late
        return LoopState.DECIDED if attempt.outcome is not None else LoopState.CHECKING

    def _decide_if_ready(self, attempt: Attempt, now: float) -> None:
        """Decide on the frames in when the pace says so (``now``: this frame's time)."""
        elapsed = now - attempt.since
        frames = len(attempt.recognitions)
        period = self.rate.period or (elapsed / (frames - 1) if frames > 1 else 0.0)
        if self.pace.ready(frames, elapsed, period):
            search = self._searcher(self._claim.person.id if self._claim else None)
            method = self.settings.decision.method
            self._decide(attempt, identify(attempt.recognitions, method, search))

    def _face(self, frame: Frame, face: DetectedFace) -> tuple[LoopState, bool]:
        """The decided-on face in this frame: follow it, recognise it, decide on it.

        Every frame's face is embedded and compared with the attempt's latest: another
        face (by the embedding, wherever its box is) ends the attempt at once and starts
        its own, so that no result stays over it and no frame of it is added to another
        person's. Only in badge + face mode, before a badge, is the box alone followed
        (nothing is embedded until a badge names whom to compare with)."""
        attempt = self.attempt
        if attempt is not None and attempt.may_retry(
            frame.time, self.settings.decision.cooldown_seconds
        ):
            self._end_attempt()  # decided long ago and still there: decide again
            attempt = None
        if self.badge_mode and self._claim is None and (attempt is None or not attempt.recent):
            if attempt is not None and not same_face(attempt.box, face.box):
                self._end_attempt()  # another face took its place
            self._follow(frame, face, None)
            return LoopState.BADGE, False
        assert self.recognizer is not None
        result = self.recognizer.analyze(frame.rgb, [face])[0]
        holder = self._claim.person.id if self._claim is not None else None
        label, distance = self._searcher(holder)(result.embedding)
        same = self.same_face_distance
        if attempt is not None and not attempt.is_face(result.embedding, label, same):
            self._end_attempt(replaced=True)  # another face took its place
        attempt = self._follow(frame, face, result.embedding, label)
        if attempt.outcome is not None:
            return LoopState.DECIDED, True
        if self.badge_mode and self._claim is None:
            return LoopState.BADGE, True
        recognition = Recognition(
            frame.time, result.embedding, self.quality(result), label, distance
        )
        attempt.add(recognition, frame, result)
        self.liveness.observe(frame, result)
        pending = attempt.pending
        if pending is not None and self._face_changed(attempt, pending):
            self._conclude(
                attempt, Decision.DENIED_SPOOF, words.CHANGED_MESSAGE, pending.person,
                pending.distance, detail="liveness failed: the face changed during the check",
            )  # fmt: skip
        elif pending is not None:
            self._ask_liveness(attempt, pending.person, pending.distance)
        else:
            self._decide_if_ready(attempt, frame.time)
        state = LoopState.CHECKING if attempt.outcome is None else LoopState.DECIDED
        return state, True

    @property
    def same_face_distance(self) -> float:
        """The embedding distance within which two frames show one face."""
        if self._same_face is None:
            from kiosk.vision.networks import network  # torch: only in the loop's thread

            self._same_face = network(self.settings.vision.network).next_face
        return self._same_face

    def _follow(
        self,
        frame: Frame,
        face: DetectedFace,
        embedding: FloatArray | None,
        named: int | None = None,
    ) -> Attempt:
        """The attempt this face belongs to: the current one, the decided one it rejoins,
        or a new one."""
        if self.attempt is None:
            last = self._last
            if (
                last is not None
                and embedding is not None
                and self._claim is None  # a new badge is a new attempt
                and last.ended_at is not None
                and frame.time - last.ended_at < REJOIN_SECONDS
                and not last.may_retry(frame.time, self.settings.decision.cooldown_seconds)
                and last.is_face(embedding, named, self.same_face_distance)
            ):
                self.attempt = last  # the same person, back at once: not decided again
                last.ended_at = None
            else:
                self._attempts += 1
                self.liveness.reset()
                self.attempt = Attempt(self._attempts, frame.time, face.box)
            self._last = None
        self.attempt.seen(face.box, embedding, named)
        return self.attempt

    def _searcher(self, person: int | None = None) -> Callable[[FloatArray], Found]:
        """1:N over the gallery; with ``person`` (a badge's holder), 1:1 against them, at
        the threshold of the whole gallery: the badge is chosen by whoever shows it, so a
        stranger can pick the person he looks most like (a one-person gallery's own
        threshold would be looser)."""
        vision = self.settings.vision
        gallery = self.gallery
        assert gallery is not None
        holder: Searcher | None = None
        if person is not None:
            embeddings, labels = self._templates
            mask = labels == person
            holder = self._make_gallery(embeddings[mask], [int(x) for x in labels[mask]])

        def search(embedding: FloatArray) -> Found:
            match = gallery.search(embedding[None, :], vision.threshold, vision.ambiguity_margin)[0]
            if match.threshold is not None:
                self._threshold = float(match.threshold)  # recorded with the decision
            if holder is not None:
                match = holder.search(embedding[None, :], match.threshold, 0.0)[0]
            return (match.label if match.is_match else None), float(match.distance)

        return search

    # -- deciding -----------------------------------------------------------------

    def _decide(self, attempt: Attempt, identity: Identity) -> None:
        claim = self._claim
        person: Person | None = None
        if identity.person_id is not None:
            try:
                person = self.store.get_person(identity.person_id)
            except KioskError:
                person = None  # erased since the gallery was loaded
        if person is None:
            if claim is not None:  # someone else's face with this badge: staff want a name
                self._conclude(
                    attempt, Decision.DENIED_UNKNOWN, words.NOT_BADGE_HOLDER_MESSAGE, None,
                    identity.distance, log_person=claim.person,
                    detail=f"badge {claim.badge!r}: the face is not its holder's",
                )  # fmt: skip
            else:
                self._conclude(
                    attempt, Decision.DENIED_UNKNOWN, words.UNKNOWN_MESSAGE, None, identity.distance
                )
            return
        check = check_access(person, self._schedule(person), self.now())
        if not check.decision.allowed:
            self._conclude(attempt, check.decision, check.reason, person, identity.distance)
            return
        self._ask_liveness(attempt, person, identity.distance)

    def _schedule(self, person: Person) -> AccessSchedule | None:
        return self.store.get_schedule(person.group) if person.group else None

    def _conclude(
        self,
        attempt: Attempt,
        decision: Decision,
        message: str,
        person: Person | None,
        distance: float,
        *,
        detail: str = "",
        log_person: Person | None = None,
        over: bool = False,
        replaced: bool = False,
    ) -> None:
        """The attempt's one decision: shown, logged, and the door opened if allowed
        (``replaced``: logged, not shown: another face is in front of the kiosk)."""
        end = attempt.lost_since if over and attempt.lost_since is not None else self.clock()
        when = attempt.frame.time if attempt.frame else attempt.since
        attempt.decided(decision, when, person.id if person else None)
        self._claim = None  # a badge is good for one decision
        frame, face = attempt.frame, attempt.face
        self.announcer.announce(
            decision,
            message,
            person,
            distance,
            attempt=attempt.id,
            over=over,
            replaced=replaced,
            since_face_ms=(end - attempt.since) * 1000.0,
            detail=detail,
            log_person=log_person,
            snapshot=(frame.rgb, face.face.box) if frame and face else None,
        )

    def _end_attempt(self, *, face_left: bool = True, replaced: bool = False) -> None:
        """The face left, another took its place (``replaced``), or the camera went away.
        When the face left while the liveness check was still asking, that is a failed
        check: recorded as a spoof (a picture pulled away when it could not answer leaves
        a trace, like one that answered wrongly); not shown when another face is there.
        A decided attempt is kept a while: its face, back at once, rejoins it."""
        attempt = self.attempt
        if attempt is None:
            return
        pending = attempt.pending if face_left or replaced else None
        answer = self.liveness.abandon() if pending is not None else None
        if pending is not None and answer is not None:
            reason = (
                "another face took its place during the liveness check"
                if replaced
                else "the face left during the liveness check"
            )
            detail = f"{reason}; {answer.detail}" if answer.detail else reason
            self._conclude(
                attempt, Decision.DENIED_SPOOF, LEFT_MESSAGE, pending.person,
                pending.distance, detail=detail, over=True, replaced=replaced,
            )  # fmt: skip
        self.liveness.reset()
        self.attempt = None
        # only an opening is kept to rejoin: a person denied (misread as unknown, out of
        # hours) who steps away and back gets a new decision, as before
        if attempt.outcome is not None and attempt.outcome.allowed and face_left:
            attempt.ended_at = self.clock()
            self._last = attempt
        else:
            self._last = None
