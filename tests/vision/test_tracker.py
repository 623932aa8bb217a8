"""Following the face between full searches: the same faces as a full search, found in
a fraction of the frame; a person walking in is found within the full-search period."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kiosk.domain.faces import Box, DetectedFace
from kiosk.vision.imageio import load_image
from kiosk.vision.pipeline import FacePipeline
from kiosk.vision.tracker import FaceTracker


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    """A detector that finds one face at a fixed place of the full frame."""

    min_face_size = 40

    def __init__(self, box: Box) -> None:
        self.box = box
        self.shapes: list[tuple[int, int]] = []
        self.origin = (0.0, 0.0)

    def refine(self, rgb: np.ndarray, box: Box) -> DetectedFace | None:
        return None  # this fake has no last stage: the region is searched

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None) -> list[DetectedFace]:
        self.shapes.append(rgb.shape[:2])
        ox, oy = (0.0, 0.0) if rgb.shape[:2] == (480, 640) else self.origin
        b = self.box
        return [
            DetectedFace(
                Box(b.x1 - ox, b.y1 - oy, b.x2 - ox, b.y2 - oy),
                0.99,
                np.zeros((5, 2), np.float32),
            )
        ]


def test_region_searches_between_full_ones_and_boxes_in_frame_coordinates() -> None:
    clock = Clock()
    box = Box(300, 200, 400, 320)
    det = Recorder(box)
    tracker = FaceTracker(det, full_every=0.25, margin=0.5, region_face=200, clock=clock)
    frame = np.zeros((480, 640, 3), np.uint8)
    assert tracker.detect(frame)[0].box == box and det.shapes[-1] == (480, 640)
    # the region: 2x the face's longer side, centred on it
    det.origin = (350 - 120, 260 - 120)
    clock.t = 0.1
    found = tracker.detect(frame)
    assert det.shapes[-1] == (240, 240)
    assert found[0].box == box  # shifted back into the frame's coordinates
    clock.t = 0.3  # past the period: the whole frame again
    tracker.detect(frame)
    assert det.shapes[-1] == (480, 640)
    assert tracker.stats.full == 2 and tracker.stats.region == 1


def _frame(photo: np.ndarray, x: int, y: int, height: int) -> np.ndarray:
    canvas = np.full((480, 640, 3), 90, np.uint8)
    scale = height / photo.shape[0]
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    canvas[y : y + h, x : x + w] = small[: 480 - y, : 640 - x]
    return canvas


def test_real_frames_agree_with_full_search_and_a_newcomer_is_found(
    pipeline,
    faces_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    obama = load_image(faces_dir / "face_recognition/obama/tests_obama.jpg")
    biden = load_image(faces_dir / "face_recognition/biden/tests_biden.jpg")
    clock = Clock()
    tracker = FaceTracker(pipeline.detector, full_every=0.25, clock=clock)
    # a person drifting slowly across the frame at 10 frames a second
    frames = [_frame(obama, 120 + 6 * i, 40 + 2 * i, 300) for i in range(8)]
    for i, frame in enumerate(frames):
        clock.t = i / 10
        tracked = tracker.detect(frame)
        full = pipeline.detector.detect(frame)
        assert len(tracked) == 1 and len(full) == 1
        a, b = tracked[0].box, full[0].box
        inter = Box(max(a.x1, b.x1), max(a.y1, b.y1), min(a.x2, b.x2), min(a.y2, b.y2)).area
        assert inter / (a.area + b.area - inter) > 0.8  # MTCNN's boxes jitter a little
        # the five points the chip is aligned on agree within a few % of the eye distance
        la, lb = tracked[0].landmarks, full[0].landmarks
        eyes = float(np.linalg.norm(lb[1] - lb[0]))
        assert float(np.linalg.norm(la - lb, axis=1).mean()) < 0.08 * eyes
    assert tracker.stats.region >= 4  # most frames searched only around the face
    # someone else walks in beside them: found by the next full search (<= 0.25 s)
    both = frames[-1].copy()
    both[40:300, 20:200] = cv2.resize(biden, (180, 260))
    seen_at = None
    for k in range(6):
        clock.t = 0.8 + k / 10
        if len(tracker.detect(both)) == 2:
            seen_at = k / 10
            break
    assert seen_at is not None and seen_at <= 0.3


def test_a_large_face_is_searched_scaled_down_with_the_same_points(
    pipeline: FacePipeline, faces_dir: Path
) -> None:
    """A face filling the frame is searched at about 120 px: the same five points."""
    obama = load_image(faces_dir / "face_recognition/obama/tests_obama.jpg")
    clock = Clock()
    tracker = FaceTracker(pipeline.detector, full_every=10.0, clock=clock)
    frames = [_frame(obama, 150 + 3 * i, 0, 480) for i in range(5)]
    first = tracker.detect(frames[0])
    assert len(first) == 1 and max(first[0].box.width, first[0].box.height) > 135
    for i, frame in enumerate(frames[1:], 1):
        clock.t = i / 10
        tracked, full = tracker.detect(frame), pipeline.detector.detect(frame)
        assert len(tracked) == 1 and len(full) == 1
        la, lb = tracked[0].landmarks, full[0].landmarks
        eyes = float(np.linalg.norm(lb[1] - lb[0]))
        assert float(np.linalg.norm(la - lb, axis=1).mean()) < 0.06 * eyes
        # and the face's embedding is the same face's
        a = pipeline.analyze(frame, tracked)[0].embedding
        b = pipeline.analyze(frame, full)[0].embedding
        assert float(np.linalg.norm(a - b)) < 0.3
    assert tracker.stats.region == 4 and tracker.stats.full == 1
