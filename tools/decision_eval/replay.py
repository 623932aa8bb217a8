"""Step 4: the kiosk's own loop (:class:`KioskLoop`) on recorded frames. A recogniser that
answers with the recorded frame, a store of everyone enrolled, a door that always opens,
a clock the driver sets; :func:`run_attempt` feeds one attempt at a simulated
recognition rate and returns the loop's decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person
from kiosk.domain.faces import DetectedFace, FaceResult, FloatArray, ImageArray, ModelInfo
from kiosk.services.door import DoorRequest, DoorResult
from kiosk.services.kiosk_loop import KioskLoop
from kiosk.services.loop_messages import Decided
from kiosk.vision.matcher import Gallery, build_gallery
from tools.decision_eval.attempts import Row
from tools.decision_eval.common import CYCLE

MODEL = ModelInfo("replay", "1", "replay")
CHIP = np.zeros((150, 150, 3), np.uint8)
SCREEN = np.zeros((480, 640, 3), np.uint8)
SCREEN.flags.writeable = False
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Replay:
    """A recogniser that answers with the recorded frame the driver sets."""

    device = "replay"
    model_info = MODEL

    def __init__(self) -> None:
        self.row: Row | None = None

    def detect(self, rgb: ImageArray) -> list[DetectedFace]:
        row = self.row
        if row is None or not row.ok:
            return []
        return [DetectedFace(row.box, 0.99, np.zeros((5, 2), np.float32))]

    def analyze(
        self, rgb: ImageArray, faces: Sequence[DetectedFace] | None = None
    ) -> list[FaceResult]:
        assert self.row is not None and faces
        return [FaceResult(faces[0], CHIP, self.row.emb)]


class Store:
    """Everyone enrolled, active and without a schedule; the log is counted."""

    def __init__(self, emb: FloatArray, labels: list[int]) -> None:
        self.emb, self.labels = emb, labels
        self.events = 0

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]:
        return self.emb, self.labels

    def get_person(self, person_id: int) -> Person:
        return Person(person_id, f"person {person_id}", str(person_id))

    def person_by_badge(self, badge: str) -> Person | None:
        return self.get_person(int(badge)) if badge.isdigit() else None

    def get_schedule(self, group: str) -> AccessSchedule | None:
        return None

    def record_event(self, event: AccessEvent) -> int:
        self.events += 1
        return self.events

    def people_count(self, *, active_only: bool = False) -> int:
        return len(set(self.labels))


class Door:
    def open(self, request: DoorRequest) -> DoorResult:
        return DoorResult(True, "evaluation")

    def close(self) -> None:
        pass


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass(frozen=True)
class Outcome:
    decision: Decision | None  # None: no decision while the frames lasted
    person_id: int | None
    ms: float | None


class Fixed:
    """A gallery searched at ``threshold`` whenever the caller leaves the threshold to the
    gallery (the sweep replaces the operating point this way, without a range check)."""

    def __init__(self, gallery: Gallery, threshold: float) -> None:
        self.gallery, self.threshold = gallery, threshold

    def search(self, queries: FloatArray, threshold: float | None = None, margin: float = 0.0):  # type: ignore[no-untyped-def]
        return self.gallery.search(
            queries, self.threshold if threshold is None else threshold, margin
        )


def make_searcher(settings: Settings, threshold: float | None) -> Any:
    """How the loop builds its galleries: as the kiosk does (``build_gallery``: the
    network's scoring, the operating point for the gallery's size), with the sweep's
    ``threshold`` in its place when given."""

    def make(emb: FloatArray, labels: list[int]) -> Any:
        gallery = build_gallery(emb, labels, settings.vision)
        return gallery if threshold is None else Fixed(gallery, threshold)

    return make


def run_attempt(
    settings: Settings,
    store: Store,
    rows: Sequence[Row],
    rate: float,
    badge: int | None = None,
    threshold: float | None = None,
) -> Outcome:
    """The kiosk's loop on ``rows`` at ``rate`` recognitions a second: each recognition
    takes the newest frame and is done one period later. ``threshold``: instead of the
    configured one (the sweep)."""
    out: list[object] = []
    replay, clock = Replay(), Clock()
    loop = KioskLoop(
        settings,
        FrameSlot(CameraStatus(True, "", "replay", (640, 480, 30.0))),
        out.append,
        load_recognizer=lambda: replay,
        store=store,
        door=Door(),
        make_gallery=make_searcher(settings, threshold),
        clock=clock,
        now=lambda: NOW,
        quality=lambda result: replay.row.quality if replay.row is not None else 0.0,
    )
    loop.recognizer = replay
    loop._refresh_gallery(force=True)
    period = 1.0 / rate
    source_start = rows[0].time if rows else None
    t = 0.0
    frames: list[Row | None] = [None, None, None]  # the corridor before the face came
    if source_start is None:  # made frames: as many as a person standing there gives
        frames += [rows[i % len(rows)] for i in range(max(len(rows), CYCLE))]
    else:  # a clip: the newest frame at each recognition
        end = rows[-1].time or 0.0
        k = 0
        while source_start + k * period <= end:
            want = source_start + k * period
            frames.append(
                max(
                    (r for r in rows if (r.time or 0.0) <= want + 1e-6), key=lambda r: r.time or 0.0
                )
            )
            k += 1
    frames += [None] * 4  # the face leaves
    for seq, row in enumerate(frames, start=1):
        replay.row = row
        if seq == 4 and badge is not None:
            loop.claim(str(badge))
        clock.t = t + period
        loop.step(Frame(seq, t, SCREEN))
        t += period
        decided = [o for o in out if isinstance(o, Decided)]
        if decided:
            d = decided[0]
            return Outcome(d.decision, d.person_id, d.since_face_ms)
    return Outcome(None, None, None)
