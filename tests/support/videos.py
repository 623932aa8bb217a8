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
