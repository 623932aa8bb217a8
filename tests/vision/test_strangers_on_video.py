"""Strangers on a real camera (issue 22): the kiosk's own loop, the real MTCNN and SFace,
people enrolled from real photos at the shipped operating point, and real video of
people who are not enrolled. The stage clip of the issue was let in twice as "Mark"
(1.059 and 1.060 under the photo threshold 1.095 for two people); the threshold now also
holds on camera frames, and the people who are enrolled still get in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera.frames import CameraStatus, Frame, FrameSlot
from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, AccessSchedule, Decision, Person
from kiosk.domain.faces import FloatArray, ModelInfo
from kiosk.domain.operating import LEVELS, choose
from kiosk.services.door import DoorRequest, DoorResult
from kiosk.services.kiosk_loop import Decided, KioskLoop
from kiosk.vision.calibration import distance_curve
from kiosk.vision.imageio import read_image
from kiosk.vision.matcher import build_gallery
from kiosk.vision.pipeline import FacePipeline, load_stream

FPS = 6.0  # recognitions a second (the newest frame of the video at each)


class Store:
    """The people enrolled (templates from their photos); events are kept."""

    def __init__(self, people: dict[str, list[FloatArray]]) -> None:
        self.names = list(people)
        self.emb = np.stack([e for t in people.values() for e in t]).astype(np.float32)
        self.labels = [i for i, t in enumerate(people.values(), start=1) for _ in t]
        self.events: list[AccessEvent] = []

    def load_gallery(self, model: ModelInfo | None = None) -> tuple[FloatArray, list[int]]:
        return self.emb, self.labels

    def get_person(self, person_id: int) -> Person:
        return Person(person_id, self.names[person_id - 1], f"B{person_id}")

    def person_by_badge(self, badge: str) -> Person | None:
        return None

    def get_schedule(self, group: str) -> AccessSchedule | None:
        return None

    def record_event(self, event: AccessEvent) -> int:
        self.events.append(event)
        return len(self.events)

    def people_count(self, *, active_only: bool = False) -> int:
        return len(self.names)


class Door:
    def __init__(self) -> None:
        self.requests: list[DoorRequest] = []

    def open(self, request: DoorRequest) -> DoorResult:
        self.requests.append(request)
        return DoorResult(True, "opened")

    def close(self) -> None:
        pass


def _templates(pipeline: FacePipeline, photos: list[Path]) -> list[FloatArray]:
    out = []
    for path in photos:
        rgb = read_image(path, 1600).rgb
        faces = pipeline.detect(rgb)
        idx = pipeline.main_face_index(faces, rgb.shape[1], rgb.shape[0])
        assert idx is not None, path
        out.append(pipeline.analyze(rgb, [faces[idx]])[0].embedding)
    return out


def _frames(video: Path) -> list[tuple[float, np.ndarray]]:
    """Every frame of the clip with its time, as a camera gives them (RGB)."""
    cap = cv2.VideoCapture(str(video))
    native = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out, i = [], 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append((i / native, np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))
        i += 1
    cap.release()
    return out


def _attempt(
    frames: list[tuple[float, np.ndarray]],
    start: float,
    seconds: float,
    store: Store,
    settings: Settings,
    rate: float = FPS,
) -> tuple[list[Decided], Door]:
    """A person stepping up at ``start`` s of the clip: its frames for ``seconds`` through
    a fresh kiosk loop, ``rate`` recognitions a second (the newest frame at each), then
    the corridor empties."""
    stream = load_stream(settings.vision)
    out: list[object] = []
    door = Door()
    h, w = frames[0][1].shape[:2]
    now = [start]  # the loop's clock: each recognition takes one period
    loop = KioskLoop(
        settings,
        FrameSlot(CameraStatus(True, "", "clip", (w, h, rate))),
        out.append,
        load_recognizer=lambda: stream,
        store=store,
        door=door,
        make_gallery=lambda e, labels: build_gallery(e, labels, settings.vision),
        clock=lambda: now[0],
    )
    loop.recognizer = stream
    loop._refresh_gallery(force=True)
    seq, want = 0, start
    for t, rgb in frames:
        if t + 1e-6 < want:
            continue
        if t > start + seconds:
            break
        want += 1.0 / rate
        seq += 1
        now[0] = t + 1.0 / rate
        loop.step(Frame(seq, t, rgb))
    blank = np.zeros((h, w, 3), np.uint8)
    for k in range(int(2 * rate)):  # the corridor empties
        seq += 1
        t = start + seconds + k / rate
        now[0] = t + 1.0 / rate
        loop.step(Frame(seq, t, blank))
    return [o for o in out if isinstance(o, Decided)], door


@pytest.fixture(scope="module")
def settings() -> Settings:
    """The shipped defaults (SFace, centre scoring, the Normal level), liveness off (the
    clips do not answer a prompt: strangers are the network's and the threshold's)."""
    base = Settings(home=Path("/nonexistent"))
    return replace(base, liveness=replace(base.liveness, mode="off"), keep_snapshots=False)


def _deepface(faces_dir: Path, name: str) -> list[Path]:
    return sorted((faces_dir / "deepface" / name).glob("*.jpg"))[:3]


@pytest.mark.parametrize("rate", [2.0, 6.0])
def test_the_stage_clip_is_not_let_in_as_mark_or_matt(
    rate: float, faces_dir: Path, pipeline: FacePipeline, settings: Settings
) -> None:
    frames = _frames(faces_dir / "video" / "hamilton_clip.mp4")
    store = Store(
        {
            "Mark": _templates(pipeline, _deepface(faces_dir, "Mark")),
            "Matt": _templates(pipeline, _deepface(faces_dir, "Matt")),
        }
    )
    # someone stepping up every half second of the performance (the singer's frames from
    # 5 s on are 1.04-1.10 from Mark's photos; at 7 s the camera turns to the audience)
    decisions = []
    for start in np.arange(0.0, 8.0, 0.5):
        decided, door = _attempt(frames, float(start), 3.0, store, settings, rate)
        decisions += [(float(start), d.decision, d.name, round(d.distance, 3)) for d in decided]
        assert door.requests == [], decisions
    # the faces on the stage were seen and decided on, never let in
    assert len(decisions) >= 8, decisions
    assert [d for d in decisions if d[1] is Decision.ALLOWED] == []
    assert all(e.decision is not Decision.ALLOWED for e in store.events)
    if rate != FPS:
        return
    # Frame by frame, the singer's face from 5 to 6.7 s (51 frames) as the gallery searches
    # it: the photo curve alone (1.095 for two people) names Mark on a third of them, which
    # is how the kiosk let him in; the threshold in force on one at most, never
    # the majority of an attempt's frames that the vote needs.
    gallery = build_gallery(store.emb, store.labels, settings.vision)
    margin = settings.vision.ambiguity_margin
    photos_alone = choose(
        distance_curve("sface", "centre"), 2, replace(LEVELS["normal"], min_people=1)
    ).threshold
    assert gallery.operating_point is not None
    assert gallery.operating_point.threshold < photos_alone
    named_before = named_now = 0
    for t, rgb in frames:
        if not 5.0 <= t <= 6.7:
            continue
        face, _ = pipeline.analyze_main(rgb)
        assert face is not None
        named_before += gallery.search(face.embedding[None, :], photos_alone, margin)[0].is_match
        named_now += gallery.search(face.embedding[None, :], None, margin)[0].is_match
    assert named_before >= 10 and named_now <= 1


def test_the_people_of_the_clips_get_in_when_they_are_enrolled(
    faces_dir: Path, pipeline: FacePipeline, settings: Settings
) -> None:
    fr = faces_dir / "face_recognition"
    store = Store(
        {
            "Mark": _templates(pipeline, _deepface(faces_dir, "Mark")),
            "Lin-Manuel Miranda": _templates(
                pipeline, [fr / "lin_manuel_miranda/ex_lin-manuel-miranda.png"]
            ),
            "Barack Obama": _templates(
                pipeline,
                [
                    fr / "obama" / n
                    for n in ("tests_obama.jpg", "tests_obama2.jpg", "knn_obama1.jpg")
                ],
            ),
        }
    )
    # the stage clip: Lin-Manuel Miranda singing
    hamilton = _frames(faces_dir / "video" / "hamilton_clip.mp4")
    decided, _ = _attempt(hamilton, 3.0, 1.5, store, settings)
    assert decided and decided[0].decision is Decision.ALLOWED
    assert decided[0].name == "Lin-Manuel Miranda"
    # a television clip of Barack Obama turning his head
    clip = _frames(faces_dir / "video" / "liveness" / "genuine" / "3ddfa_obama.mp4")
    decided, _ = _attempt(clip, 0.0, 1.5, store, settings)
    assert decided and decided[0].decision is Decision.ALLOWED
    assert decided[0].name == "Barack Obama"
