"""Frame sources: a webcam index, a video file, an RTSP/HTTP stream or a folder of images.

A source is opened and read only by the camera thread (OpenCV capture objects must stay
in the thread that made them). Images leave here as RGB: BGR is OpenCV's business only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kiosk.domain.faces import ImageArray
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp", ".tif"})


class CameraError(KioskError):
    """The camera cannot be opened or stopped delivering; the message says which."""


class FrameSource(Protocol):
    """What the camera thread needs from a source."""

    #: a file-like source is read as fast as the disk allows, so the camera thread
    #: paces it to ``obtained_fps``; a live source paces itself
    paced: bool

    def open(self) -> None:
        """Open the source or raise :class:`CameraError`."""

    def read(self) -> ImageArray | None:
        """The next image, RGB; ``None`` when the source failed (or a file ended and does
        not loop)."""

    def close(self) -> None: ...

    @property
    def obtained(self) -> tuple[int, int, float]:
        """(width, height, fps) as the opened source reports them."""


def describe(spec: str) -> str:
    """Words for the status line and messages: "webcam 0", "video clip.mp4" and so on."""
    spec = spec.strip()
    if spec.isdigit():
        return f"webcam {spec}"
    if "://" in spec:
        scheme, _, rest = spec.partition("://")
        host = rest.split("@")[-1].split("/")[0]  # never show a password in the URL
        return f"{scheme} stream {host}"
    path = Path(spec)
    return f"image folder {path.name}" if path.is_dir() else f"video {path.name}"


def why_not_open(kind: str, target: int | str, dev: Path = Path("/dev")) -> str:
    """Why OpenCV could not open a source, as far as can be told from outside, in words
    staff can act on (one line)."""
    if kind == "webcam":
        device = dev / f"video{target}"
        if dev.is_dir() and not device.exists():
            found = sorted(p.name for p in dev.glob("video*"))
            others = f" (there is {', '.join(found)})" if found else ""
            return f"no camera at {device}{others}: is it plugged in, or another index meant?"
        if device.exists() and not os.access(device, os.R_OK | os.W_OK):
            return f"no permission to use {device}: add this user to the 'video' group"
        return "it is missing or in use by another program"
    if kind == "stream":
        return "no answer from it in time, or not a stream OpenCV can read (check the URL)"
    return "not a video OpenCV can read"


def open_source(
    spec: str, width: int = 640, height: int = 480, fps: float = 30.0, loop: bool = True
) -> FrameSource:
    """Choose the source for ``spec`` (nothing is opened yet)."""
    spec = spec.strip()
    if spec.isdigit():
        return CvSource(int(spec), kind="webcam", width=width, height=height, fps=fps)
    if "://" in spec:
        return CvSource(spec, kind="stream", width=width, height=height, fps=fps)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps=fps, loop=loop)
    return CvSource(str(path), kind="file", width=width, height=height, fps=fps, loop=loop)


def _to_rgb(image: np.ndarray) -> ImageArray:
    if image.ndim == 2:
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    out: ImageArray = np.ascontiguousarray(rgb, dtype=np.uint8)
    out.flags.writeable = False
    return out


class CvSource:
    """A webcam, video file or stream read through ``cv2.VideoCapture``."""

    def __init__(
        self,
        target: int | str,
        kind: str,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        loop: bool = True,
        timeout_ms: int = 5000,
    ) -> None:
        self.target = target
        self.kind = kind
        self.requested = (width, height, fps)
        self.loop = loop
        self.timeout_ms = timeout_ms
        self.paced = kind == "file"
        self._cap: cv2.VideoCapture | None = None
        self._obtained = (0, 0, 0.0)

    def open(self) -> None:
        if self.kind == "file" and not Path(str(self.target)).is_file():
            raise CameraError(f"the video file {self.target} does not exist")
        params: list[int] = []
        if self.kind == "stream":
            # a stalled stream must not hang the camera thread for FFmpeg's 30 s default
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                self.timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                self.timeout_ms,
            ]
        cap = cv2.VideoCapture(self.target, cv2.CAP_ANY, params)
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"cannot open {describe(str(self.target))}: {why_not_open(self.kind, self.target)}"
            )
        if self.kind == "webcam":
            width, height, fps = self.requested
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            cap.set(cv2.CAP_PROP_FPS, fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a backlog
        got_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0.0 < got_fps < 1000.0:
            got_fps = self.requested[2]
        self._obtained = (
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            got_fps,
        )
        self._cap = cap

    def read(self) -> ImageArray | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        if not ok and self.kind == "file" and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return _to_rgb(image)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    @property
    def obtained(self) -> tuple[int, int, float]:
        return self._obtained


class ImageFolderSource:
    """The images of a folder in name order, each one frame, at ``fps``."""

    paced = True

    def __init__(self, folder: Path, fps: float = 30.0, loop: bool = True) -> None:
        self.folder = folder
        self.fps = fps
        self.loop = loop
        self._files: list[Path] = []
        self._next = 0
        self._obtained = (0, 0, fps)

    def open(self) -> None:
        try:
            files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as exc:
            raise CameraError(f"cannot read the image folder {self.folder}: {exc}") from exc
        if not files:
            raise CameraError(f"the image folder {self.folder} holds no images")
        self._files = files
        self._next = 0
        first = self.read()
        if first is None:
            raise CameraError(f"cannot read the image {files[0]}")
        self._next = 0
        self._obtained = (int(first.shape[1]), int(first.shape[0]), self.fps)

    def read(self) -> ImageArray | None:
        if self._next >= len(self._files):
            if not self.loop or not self._files:
                return None
            self._next = 0
        path = self._files[self._next]
        self._next += 1
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("cannot read the image %s", path)
            return None
        return _to_rgb(image)

    def close(self) -> None:
        self._files = []

    @property
    def obtained(self) -> tuple[int, int, float]:
        return self._obtained
