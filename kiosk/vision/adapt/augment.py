"""More views of the enrollment photos: augmented chips (as a door's camera varies them)
and noise in embedding space."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kiosk.domain.faces import FloatArray, ImageArray
from kiosk.vision.adapt.config import Cancelled
from kiosk.vision.head import EMBEDDING_SIZE

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def augment_chip(chip: ImageArray, rng: np.random.Generator) -> ImageArray:
    """One random variation of an aligned chip, of the kinds a door's camera makes: a
    small crop and shift (alignment jitter), brightness and contrast, blur, JPEG. (A
    mirror image changes nothing when the network averages a chip with its mirror.)"""
    import cv2

    size = chip.shape[0]
    img: Any = np.asarray(chip, np.uint8)
    scale = rng.uniform(0.88, 1.0)
    side = scale * size
    dx, dy = rng.uniform(-0.04, 0.04, 2) * size
    cx, cy = size / 2 + dx, size / 2 + dy
    src = np.array(
        [
            [cx - side / 2, cy - side / 2],
            [cx + side / 2, cy - side / 2],
            [cx - side / 2, cy + side / 2],
        ],
        dtype=np.float32,
    )
    dst = np.array([[0, 0], [size, 0], [0, size]], dtype=np.float32)
    img = cv2.warpAffine(
        img,
        cv2.getAffineTransform(src, dst),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    gain, bias = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
    img = np.clip(img.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        ok, data = cv2.imencode(
            ".jpg", img, [int(cv2.IMWRITE_JPEG_QUALITY), int(rng.integers(25, 80))]
        )
        if ok:
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if decoded is not None and decoded.shape == img.shape:
                img = decoded
    return np.ascontiguousarray(img)


def augmented_views(
    chips: Sequence[ImageArray],
    embed: Callable[[Sequence[ImageArray]], FloatArray],
    per_photo: int,
    seed: int = 0,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> FloatArray:
    """(N, per_photo, 128): embeddings of ``per_photo`` augmentations of each chip."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(chips), per_photo, EMBEDDING_SIZE), np.float32)
    step = 32
    for start in range(0, len(chips), step):
        if stop is not None and stop.is_set():
            raise Cancelled()
        part = chips[start : start + step]
        batch = [augment_chip(c, rng) for c in part for _ in range(per_photo)]
        out[start : start + len(part)] = embed(batch).reshape(len(part), per_photo, -1)
        if progress is not None:
            progress("augmenting photos", start + len(part), len(chips))
    return out


def noise_views(
    base: FloatArray, labels: np.ndarray, per_photo: int, scale: float, seed: int = 0
) -> FloatArray:
    """Augmentation in embedding space: each photo moved at random along the directions
    in which photos of one person differ (the pooled within-person spread), by ``scale``
    of that spread, and put back on the unit sphere."""
    rng = np.random.default_rng(seed)
    x = np.asarray(base, np.float64)
    resid = []
    for p in np.unique(labels):
        rows = labels == p
        if rows.sum() >= 2:
            resid.append(x[rows] - x[rows].mean(0))
    if resid:
        r = np.concatenate(resid)
        cov = r.T @ r / max(len(r) - 1, 1)
    else:
        cov = np.eye(EMBEDDING_SIZE) * 0.002
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.maximum(vals, 0))
    noise = rng.standard_normal((len(x), per_photo, EMBEDDING_SIZE)) @ root.T * scale
    v = x[:, None, :] + noise
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return v.astype(np.float32)
