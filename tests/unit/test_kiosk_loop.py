"""The recognition loop's logic with a fake recogniser and store (fast); the real
pipeline runs in tests/ui and tests/e2e."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person
from kiosk.domain.faces import (
    Box,
    DetectedFace,
    FaceResult,
    FloatArray,
    ImageArray,
    Match,
    MatchKind,
    ModelInfo,
)
from kiosk.errors import InputError
from kiosk.services.door import DoorRequest, DoorResult
from kiosk.services.kiosk_loop import (
    Analysis,
    Decided,
    DoorReport,
    KioskLoop,
    LivenessPrompt,
    LivenessVerdict,
    LoopReady,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FACE = DetectedFace(Box(100, 100, 200, 220), 0.99, np.zeros((5, 2), np.float32))


class FakeRecognizer:
    device = "cpu"
    model_info = ModelInfo("fake", "1", "abc")

    def __init__(self) -> None:
        self.faces: list[DetectedFace] = [FACE]

    def detect(self, rgb: ImageArray) -> list[DetectedFace]:
        return list(self.faces)

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]:
        assert faces is not None
        # the frame's first pixel says who it is: the fake gallery reads it back
        emb = np.full(128, float(rgb[0, 0, 0]), np.float32)
        return [FaceResult(f, np.zeros((150, 150, 3), np.uint8), emb) for f in faces]


class FakeGallery:
    def search(self, queries: FloatArray, threshold: float, margin: float = 0.0) -> list[Match]:
        who = int(queries[0, 0])
        if who == 0:
            return [Match(MatchKind.UNKNOWN, 1, 0.9, None, threshold)]
        return [Match(MatchKind.MATCH, who, 0.4, 0.9, threshold)]


class FakeStore:
    def __init__(self, people: list[Person]) -> None:
        self.people = {p.id: p for p in people}
        self.events: list[AccessEvent] = []

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]:
        return np.zeros((0, 128), np.float32), []

    def get_person(self, person_id: int) -> Person:
        if person_id not in self.people:
            raise InputError("gone")
        return self.people[person_id]

    def get_schedule(self, group: str) -> AccessSchedule | None:
        return AccessSchedule(windows=(), holidays=frozenset({NOW.date()}))

    def record_event(self, event: AccessEvent) -> int:
        self.events.append(event)
        return len(self.events)

    def people_count(self, *, active_only: bool = False) -> int:
        return len(self.people)


class FakeDoor:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.requests: list[DoorRequest] = []

    def open(self, request: DoorRequest) -> DoorResult:
        self.requests.append(request)
        return DoorResult(self.ok, "ok" if self.ok else "door webhook answered HTTP 503")

    def close(self) -> None:
        pass


class BlockingDoor(FakeDoor):
    """A slow door: ``open`` waits until the test releases it (a webhook near its
    timeout); ``calls`` says who it has begun opening for."""

    def __init__(self, ok: bool = True) -> None:
        super().__init__(ok)
        self.calls: list[str] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def open(self, request: DoorRequest) -> DoorResult:
        self.calls.append(request.name)
        self.started.set()
        self.release.wait(10.0)  # bounded, so that a broken test cannot hang
        return super().open(request)


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _loop(store: FakeStore, door: FakeDoor, **decision: object) -> tuple[KioskLoop, list, Clock]:  # type: ignore[type-arg]
    settings = Settings(home=__import__("pathlib").Path("/nonexistent"))
    settings = replace(settings, decision=replace(settings.decision, **decision))  # type: ignore[arg-type]
    out: list[object] = []
    clock = Clock()
    loop = KioskLoop(
        settings,
        FrameSlot(CameraStatus(True, "", "x", (640, 480, 30.0))),
        out.append,
        load_recognizer=FakeRecognizer,
        store=store,
        door=door,
        make_gallery=lambda e, labels: FakeGallery(),
        clock=clock,
        now=lambda: NOW,
    )
    loop.recognizer = FakeRecognizer()
    loop._refresh_gallery(force=True)
    return loop, out, clock


def _frame(seq: int, who: int, t: float) -> Frame:
    rgb = np.full((480, 640, 3), who, np.uint8)
    return Frame(seq, t, rgb)


def _feed(loop: KioskLoop, clock: Clock, who: int, n: int, start_seq: int = 1) -> None:
    for i in range(n):
        clock.t += 0.1
        loop.step(_frame(start_seq + i, who, clock.t - 0.05))


def test_known_person_is_allowed_after_three_agreeing_frames() -> None:
    store = FakeStore([Person(7, "Ada Lovelace", "B7")])
    door = FakeDoor()
    loop, out, clock = _loop(store, door)
    assert isinstance(out[0], LoopReady) and out[0].enrolled == 1
    _feed(loop, clock, 7, 2)
    assert not any(isinstance(o, Decided) for o in out)
    assert [o.state for o in out if isinstance(o, Analysis)] == ["checking", "checking"]
    _feed(loop, clock, 7, 1, start_seq=3)
    decided = [o for o in out if isinstance(o, Decided)]
    assert len(decided) == 1
    assert decided[0].decision is Decision.ALLOWED and decided[0].name == "Ada Lovelace"
    assert decided[0].since_face_ms == pytest.approx(250.0)
    assert [d.name for d in door.requests] == ["Ada Lovelace"]
    assert isinstance(out[-1], DoorReport) and out[-1].ok
    assert [e.decision for e in store.events] == [Decision.ALLOWED]
    assert store.events[0].person_id == 7 and store.events[0].snapshot_jpeg


def test_cooldown_shows_again_without_logging_or_opening() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    door = FakeDoor()
    loop, out, clock = _loop(store, door, cooldown_seconds=10.0)
    _feed(loop, clock, 7, 9)
    decided = [o for o in out if isinstance(o, Decided)]
    assert [d.repeat for d in decided] == [False, True, True]
    assert len(store.events) == 1 and len(door.requests) == 1


def test_unknown_face_is_denied_and_logged_without_door() -> None:
    store = FakeStore([])
    door = FakeDoor()
    loop, out, clock = _loop(store, door)
    _feed(loop, clock, 0, 3)
    decided = [o for o in out if isinstance(o, Decided)]
    assert decided[0].decision is Decision.DENIED_UNKNOWN and decided[0].name is None
    assert store.events[0].decision is Decision.DENIED_UNKNOWN
    assert door.requests == []


def test_rules_deny_with_a_reason() -> None:
    store = FakeStore([Person(5, "Bo", "B5", active=False), Person(6, "Cy", "B6", group="day")])
    loop, out, clock = _loop(store, FakeDoor())
    _feed(loop, clock, 5, 3)
    _feed(loop, clock, 6, 3, start_seq=10)
    decided = [o for o in out if isinstance(o, Decided)]
    assert [d.decision for d in decided] == [Decision.DENIED_INACTIVE, Decision.DENIED_SCHEDULE]
    assert "deactivated" in decided[0].message
    assert "access hours" in decided[1].message


def test_no_face_stays_idle() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    loop, out, clock = _loop(store, FakeDoor())
    loop.recognizer.faces = []  # type: ignore[union-attr]
    _feed(loop, clock, 7, 6)
    assert {o.state for o in out if isinstance(o, Analysis)} == {"idle"}
    assert not any(isinstance(o, Decided) for o in out) and store.events == []


def test_face_outside_the_region_is_not_decided_on() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    loop, out, clock = _loop(store, FakeDoor(), region=(0.5, 0.0, 1.0, 1.0))
    _feed(loop, clock, 7, 5)
    analyses = [o for o in out if isinstance(o, Analysis)]
    assert all(a.chosen is None and len(a.boxes) == 1 for a in analyses)
    assert not any(isinstance(o, Decided) for o in out)


def test_liveness_failure_denies_and_keeps_the_door_shut() -> None:
    class Spoofed:
        observed = 0

        def observe(self, frame: Frame, face: FaceResult) -> None:
            self.observed += 1

        def assess(self) -> LivenessVerdict:
            return LivenessVerdict(False, "Photo detected.")

        def reset(self) -> None:
            pass

        def abandon(self) -> LivenessVerdict | None:
            return None

    store = FakeStore([Person(7, "Ada", "B7")])
    door = FakeDoor()
    loop, out, clock = _loop(store, door)
    check = Spoofed()
    loop.liveness = check
    _feed(loop, clock, 7, 3)
    decided = [o for o in out if isinstance(o, Decided)]
    assert decided[0].decision is Decision.DENIED_SPOOF and check.observed == 3
    assert door.requests == []


def test_door_failure_is_reported_and_recorded() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    loop, out, clock = _loop(store, FakeDoor(ok=False))
    _feed(loop, clock, 7, 3)
    reports = [o for o in out if isinstance(o, DoorReport)]
    assert reports and not reports[0].ok and "503" in reports[0].message
    assert [e.decision for e in store.events] == [Decision.ALLOWED, Decision.ERROR]
    assert "503" in store.events[1].reason


def test_camera_outage_is_recorded_once_and_its_end_too() -> None:
    store = FakeStore([])
    loop, out, clock = _loop(store, FakeDoor())
    status = CameraStatus(False, "webcam 0 stopped delivering frames", "0", (640, 480, 30.0))
    offline = replace(status, offline_since=clock.t, attempts=1)
    loop._watch_camera(offline)
    loop._watch_camera(replace(offline, attempts=2))
    clock.t += 12
    loop._watch_camera(replace(status, online=True))
    reasons = [e.reason for e in store.events]
    assert reasons == [
        "camera offline: webcam 0 stopped delivering frames",
        "camera back online after 12 s",
    ]


def test_a_pending_liveness_check_holds_the_door_until_it_decides() -> None:
    class Challenge:
        answers = [
            LivenessVerdict(False, pending=True, prompt="Turn your head left."),
            LivenessVerdict(True),
        ]

        def observe(self, frame: Frame, face: FaceResult) -> None:
            pass

        def assess(self) -> LivenessVerdict:
            return self.answers.pop(0)

        def reset(self) -> None:
            pass

        def abandon(self) -> LivenessVerdict | None:
            return None

    store = FakeStore([Person(7, "Ada", "B7")])
    door = FakeDoor()
    loop, out, clock = _loop(store, door)
    loop.liveness = Challenge()
    _feed(loop, clock, 7, 3)
    prompts = [o for o in out if isinstance(o, LivenessPrompt)]
    assert [p.prompt for p in prompts] == ["Turn your head left."]
    assert not any(isinstance(o, Decided) for o in out)
    assert store.events == [] and door.requests == []
    _feed(loop, clock, 7, 3, start_seq=10)  # more votes: asked again, now live
    decided = [o for o in out if isinstance(o, Decided)]
    assert len(decided) == 1 and decided[0].decision is Decision.ALLOWED
    assert not decided[0].repeat  # the pending round did not start a cooldown
    assert len(door.requests) == 1


class AlwaysPending:
    """A challenge that never ends by itself; ``abandon`` says what was asked."""

    def __init__(self) -> None:
        self.resets = 0
        self.abandoned = 0

    def observe(self, frame: Frame, face: FaceResult) -> None:
        pass

    def assess(self) -> LivenessVerdict:
        return LivenessVerdict(False, pending=True, prompt="Turn your head left")

    def reset(self) -> None:
        self.resets += 1

    def abandon(self) -> LivenessVerdict | None:
        self.abandoned += 1
        return LivenessVerdict(False, "Please turn your head as shown.")


def test_a_face_gone_briefly_during_the_challenge_is_waited_for() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    loop, out, clock = _loop(store, FakeDoor())
    check = AlwaysPending()
    loop.liveness = check
    _feed(loop, clock, 7, 3)
    assert any(isinstance(o, LivenessPrompt) for o in out)
    loop.recognizer.faces = []  # type: ignore[union-attr]
    _feed(loop, clock, 7, 8, start_seq=10)  # 0.8 s without the face: within the grace
    assert check.resets == 0 and check.abandoned == 0
    assert [o.state for o in out if isinstance(o, Analysis)][-1] == "checking"
    loop.recognizer.faces = [FACE]  # type: ignore[union-attr]
    _feed(loop, clock, 7, 2, start_seq=20)
    loop.recognizer.faces = []  # type: ignore[union-attr]
    _feed(loop, clock, 7, 8, start_seq=30)  # the grace starts again from the last face
    assert check.abandoned == 0 and store.events == []
    assert not any(isinstance(o, Decided) for o in out)


def test_a_face_that_leaves_during_the_challenge_is_recorded_as_a_spoof() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    door = FakeDoor()
    loop, out, clock = _loop(store, door)
    check = AlwaysPending()
    loop.liveness = check
    _feed(loop, clock, 7, 3)
    loop.recognizer.faces = []  # type: ignore[union-attr]
    _feed(loop, clock, 7, 15, start_seq=10)  # 1.5 s without a face
    assert check.abandoned == 1 and check.resets >= 1
    decided = [o for o in out if isinstance(o, Decided)]
    assert len(decided) == 1 and decided[0].decision is Decision.DENIED_SPOOF
    assert decided[0].name == "Ada" and "not finished" in decided[0].message
    assert [e.decision for e in store.events] == [Decision.DENIED_SPOOF]
    event = store.events[0]
    assert event.person_id == 7 and "the face left during the liveness check" in event.reason
    assert event.snapshot_jpeg is not None  # the last frame of the face, for staff
    assert door.requests == []
    _feed(loop, clock, 7, 10, start_seq=40)  # nobody there: nothing more is recorded
    assert len(store.events) == 1 and check.abandoned == 1


def test_staff_are_told_once_when_recognition_is_too_slow_to_ever_decide() -> None:
    from kiosk.services.kiosk_loop import Notice

    loop, out, clock = _loop(FakeStore([]), FakeDoor(), votes_needed=3, vote_seconds=2.0)
    loop.recognizer.faces = []  # type: ignore[union-attr]
    for i in range(25):  # one recognition a second: 3 in 2 s can never happen
        clock.t += 1.0
        loop.step(_frame(i + 1, 0, clock.t - 0.5))
    notices = [o for o in out if isinstance(o, Notice)]
    assert len(notices) == 1 and "too slow" in notices[0].message
    fast, out2, clock2 = _loop(FakeStore([]), FakeDoor())
    fast.recognizer.faces = []  # type: ignore[union-attr]
    _feed(fast, clock2, 0, 25)  # ten a second
    assert not any(isinstance(o, Notice) for o in out2)


def test_a_slow_door_does_not_hold_up_recognition() -> None:
    store = FakeStore([Person(7, "Ada", "B7"), Person(8, "Bo", "B8")])
    door = BlockingDoor(ok=False)
    loop, out, clock = _loop(store, door)
    with loop.door_worker():
        _feed(loop, clock, 7, 3)  # Ada is let in; her door hangs
        assert door.started.wait(5.0)
        assert not any(isinstance(o, DoorReport) for o in out)
        _feed(loop, clock, 8, 3, start_seq=10)  # recognition goes on: Bo is decided on too
        decided = [o for o in out if isinstance(o, Decided)]
        assert [(d.name, d.decision) for d in decided] == [
            ("Ada", Decision.ALLOWED),
            ("Bo", Decision.ALLOWED),
        ]
        assert [o.frame_seq for o in out if isinstance(o, Analysis)] == [1, 2, 3, 10, 11, 12]
        assert door.calls == ["Ada"]  # one request at a time: Bo's waits for Ada's
        assert [e.decision for e in store.events] == [Decision.ALLOWED] * 2
        door.release.set()
    # leaving the block finished both requests, in order
    assert door.calls == ["Ada", "Bo"]
    reports = [o for o in out if isinstance(o, DoorReport)]
    assert [(r.ok, r.person_id) for r in reports] == [(False, 7), (False, 8)]
    assert "503" in reports[0].message
    assert out.index(decided[0]) < out.index(reports[0])  # the screen's order
    errors = [e for e in store.events if e.decision is Decision.ERROR]
    assert [e.person_id for e in errors] == [7, 8] and "503" in errors[0].reason


def test_stopping_the_loop_finishes_a_pending_door_request() -> None:
    store = FakeStore([Person(7, "Ada", "B7")])
    door = BlockingDoor(ok=False)
    loop, out, clock = _loop(store, door)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), name="recognition")

    def analysed(n: int) -> Callable[[], bool]:
        return lambda: sum(isinstance(o, Analysis) for o in list(out)) == n

    thread.start()
    try:
        for seq in range(1, 4):  # one frame at a time: the slot keeps only the newest
            clock.t += 0.1
            loop.slot.publish(_frame(seq, 7, clock.t - 0.05))
            assert _wait_for(analysed(seq))
        assert door.started.wait(5.0)
        stop.set()
        thread.join(0.5)
        assert thread.is_alive()  # run() waits for the door it asked to open
        assert not any(isinstance(o, DoorReport) for o in out)
    finally:
        door.release.set()
        thread.join(10.0)
    assert not thread.is_alive()
    assert not any(t.name == "door" for t in threading.enumerate())
    reports = [o for o in out if isinstance(o, DoorReport)]
    assert len(reports) == 1 and not reports[0].ok
    assert [e.decision for e in store.events] == [Decision.ALLOWED, Decision.ERROR]


def test_passive_mode_after_a_missed_frame_asks_nothing_and_logs_no_spoof() -> None:
    from kiosk.config import LivenessSettings
    from kiosk.liveness.check import PassiveLiveness

    store = FakeStore([Person(7, "Ada", "B7")])
    door = FakeDoor()
    loop, out, clock = _loop(store, door)
    loop.liveness = PassiveLiveness(LivenessSettings(mode="passive"))
    _feed(loop, clock, 7, 2)
    loop.recognizer.faces = []  # type: ignore[union-attr]
    _feed(loop, clock, 7, 1, start_seq=3)  # one missed detection resets the check
    loop.recognizer.faces = [FACE]  # type: ignore[union-attr]
    _feed(loop, clock, 7, 1, start_seq=4)  # the votes agree; the check has seen 1 frame
    assert not any(isinstance(o, (LivenessPrompt, Decided)) for o in out)  # no empty prompt
    assert [o.state for o in out if isinstance(o, Analysis)][-1] == "checking"
    loop.recognizer.faces = []  # type: ignore[union-attr]
    _feed(loop, clock, 7, 15, start_seq=10)  # Ada steps away: no spoof is recorded
    assert store.events == [] and not any(isinstance(o, Decided) for o in out)
    assert [o.state for o in out if isinstance(o, Analysis)][-1] == "idle"
    loop.recognizer.faces = [FACE]  # type: ignore[union-attr]
    _feed(loop, clock, 7, 3, start_seq=30)  # back: 3 frames without a picture's frame
    decided = [o for o in out if isinstance(o, Decided)]
    assert len(decided) == 1 and decided[0].decision is Decision.ALLOWED
    assert len(door.requests) == 1
