"""Small test videos built from the real photos in ../shared/faces (never copied here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

#: photos (under face_recognition/) to enroll and to show the camera; different photos
OBAMA_ENROLL = ("obama/tests_obama.jpg", "obama/tests_obama2.jpg")
OBAMA_VISIT = ("obama/tests_obama3.jpg", "obama/ex_obama-480p.jpg")
BIDEN_ENROLL = ("biden/knn_biden2.jpg",)
BIDEN_VISIT = ("biden/tests_biden.jpg",)

SIZE = (320, 240)  # small: MTCNN's time grows with the pixels, and the tests run on 2 cores


def framed(photo: Path, size: tuple[int, int] = SIZE) -> np.ndarray:
    """The photo scaled to fill most of a frame's height, on a grey background (BGR)."""
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(photo)
    width, height = size
    scale = min(width * 0.9 / image.shape[1], height * 0.95 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 90, np.uint8)
    y = (height - small.shape[0]) // 2
    x = (width - small.shape[1]) // 2
    canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
    return canvas


def blank(size: tuple[int, int] = SIZE) -> np.ndarray:
    """An empty corridor: a gradient and no face."""
    width, height = size
    ramp = np.linspace(60, 160, width, dtype=np.uint8)
    return np.repeat(np.repeat(ramp[None, :, None], height, 0), 3, 2).copy()


def write_video(
    path: Path,
    photos: Sequence[Path],
    *,
    seconds_each: float = 1.5,
    blank_before: float = 0.5,
    fps: float = 15.0,
    size: tuple[int, int] = SIZE,
) -> Path:
    """Blank frames, then each photo for ``seconds_each`` (a person walking up and
    standing in front of the kiosk). MJPG in AVI: every OpenCV build can read it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for _ in range(int(blank_before * fps)):
        writer.write(blank(size))
    for photo in photos:
        image = framed(photo, size)
        for _ in range(int(seconds_each * fps)):
            writer.write(image)
    writer.release()
    return path


def tablet(photo: Path, pipeline: object, size: tuple[int, int] = (480, 360)) -> np.ndarray:
    """A presentation attack: ``photo`` on a tablet held upright in front of a wall, its
    face cropped as a selfie would show it (about 2.5 face widths across), the dark
    bezel around it (BGR). ``pipeline`` finds the face to crop around."""
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(photo)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    face = max(pipeline.detect(rgb), key=lambda f: f.box.area).box  # type: ignore[attr-defined]
    fw, (cx, cy) = face.width, face.center
    margin = int(4 * fw)
    padded = cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_REPLICATE)
    x1, x2 = int(cx - 1.25 * fw) + margin, int(cx + 1.25 * fw) + margin
    y1, y2 = int(cy - 1.3 * fw) + margin, int(cy + 2.0 * fw) + margin
    crop = padded[y1:y2, x1:x2]
    width, height = size
    ramp = np.linspace(150, 190, width, dtype=np.uint8)
    wall = np.repeat(np.repeat(ramp[None, :, None], height, 0), 3, 2).copy()
    th = int(height * 0.9)
    tw = int(th * crop.shape[1] / crop.shape[0])
    x0, y0 = (width - tw) // 2, (height - th) // 2
    wall[y0 : y0 + th, x0 : x0 + tw] = 20  # the bezel
    screen = cv2.resize(crop, (tw - 16, th - 16), interpolation=cv2.INTER_AREA)
    wall[y0 + 8 : y0 + th - 8, x0 + 8 : x0 + tw - 8] = screen
    return wall


def write_frames(
    path: Path, frame: np.ndarray, *, seconds: float, blank_before: float = 0.5, fps: float = 15.0
) -> Path:
    """Blank frames, then ``frame`` (BGR) held still for ``seconds``. MJPG in AVI."""
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for _ in range(int(blank_before * fps)):
        writer.write(blank((width, height)))
    for _ in range(int(seconds * fps)):
        writer.write(frame)
    writer.release()
    return path


#: a corner of each frame of :func:`write_queue` says who is in it (BGR colours that
#: survive MJPG), far from the face: the tests' ground truth, never seen by the kiosk
MARKS = ((0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 0))
MARK_SIDE = 12


def write_queue(
    path: Path,
    photos: Sequence[Path],
    *,
    seconds_each: float,
    blank_before: float = 0.5,
    fps: float = 15.0,
    size: tuple[int, int] = SIZE,
) -> Path:
    """People stepping in one after another at the same spot with no gap: each photo
    framed as :func:`framed` does, for ``seconds_each``, the next one at once; frames of
    the ``i``-th photo carry ``MARKS[i]`` in their top-left corner (:func:`who_is_in`)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for _ in range(int(blank_before * fps)):
        writer.write(blank(size))
    for i, photo in enumerate(photos):
        image = framed(photo, size)
        image[:MARK_SIDE, :MARK_SIDE] = MARKS[i]
        for _ in range(int(seconds_each * fps)):
            writer.write(image)
    writer.release()
    return path


def who_is_in(rgb: np.ndarray) -> int | None:
    """The index of the photo whose frame ``rgb`` (RGB) is, by its corner; ``None`` for a
    blank frame."""
    corner = rgb[2 : MARK_SIDE - 2, 2 : MARK_SIDE - 2].reshape(-1, 3).astype(np.float64)
    bgr = corner.mean(axis=0)[::-1]
    distances = [float(np.linalg.norm(bgr - np.asarray(m, np.float64))) for m in MARKS]
    best = int(np.argmin(distances))
    return best if distances[best] < 80.0 else None
