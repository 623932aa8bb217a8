"""Made presentation attacks: a photo rendered as a print or a screen held up to the camera.

For measuring the liveness check (``python -m tools.liveness.evaluate``) and for its tests,
never for the kiosk itself. A photo becomes a medium (a print with a paper border, a bent
print, a phone or tablet screen with its bezel, brighter and with a faint screen grating),
the medium is placed in 3-D in front of a pinhole camera, moved, tilted, rotated, brought
closer and further by an attacker who sees the prompt and tries to follow it, then the
frame gets the camera's blur, noise, glare and JPEG compression (drawn once per attempt,
as a real camera's are; the glare moves as the picture turns).
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.domain.faces import Box, ImageArray


class AttackKind(enum.Enum):
    PRINT = "print"  # flat paper, white border
    BENT_PRINT = "bent-print"  # paper curved around a vertical line, to fake depth
    PHONE = "phone"  # phone screen, black bezel
    TABLET = "tablet"  # tablet screen, larger, black bezel


class Strategy(enum.Enum):
    FOLLOW = "follow"  # tilts the picture the way the prompt asks (or the opposite way)
    SWING = "swing"  # swings it left and right all along
    HANDHELD = "handheld"  # just holds it, with hand shake and distance changes


@dataclass(frozen=True)
class Medium:
    """The picture as the attacker holds it: its pixels, its physical size in metres and
    where the face is on it (pixels of ``rgb``)."""

    rgb: ImageArray
    width_m: float
    height_m: float
    face: Box
    bend: float  # sag of the middle towards the camera, metres (negative: away)


def make_medium(photo: ImageArray, face: Box, kind: AttackKind, rng: random.Random) -> Medium:
    """The photo as a print or on a screen (``face``: the face's box in ``photo``)."""
    img = photo.astype(np.float32)
    if kind in (AttackKind.PRINT, AttackKind.BENT_PRINT):
        # ink on paper: less contrast, a little less colour, white border
        grey = img.mean(axis=2, keepdims=True)
        img = grey + (img - grey) * rng.uniform(0.7, 0.95)
        img = 25.0 + img * rng.uniform(0.75, 0.9)
        margin = int(max(img.shape[:2]) * rng.uniform(0.04, 0.15))
        paper = np.array([rng.uniform(225, 250)] * 3, dtype=np.float32)
        paper[2] -= rng.uniform(0, 12)  # slightly warm paper
        out = np.empty((img.shape[0] + 2 * margin, img.shape[1] + 2 * margin, 3), np.float32)
        out[:] = paper
        out[margin:-margin, margin:-margin] = img
        face = Box(face.x1 + margin, face.y1 + margin, face.x2 + margin, face.y2 + margin)
        # the face on the print is between 0.5x and 1.2x life size (a face is ~0.15 m)
        face_m = rng.uniform(0.07, 0.18)
        width_m = face_m * out.shape[1] / face.width
        bend = 0.0
        if kind is AttackKind.BENT_PRINT:
            bend = rng.choice((-1.0, 1.0)) * rng.uniform(0.06, 0.2) * width_m
        rgb = np.clip(out, 0, 255).astype(np.uint8)
        return Medium(rgb, width_m, width_m * out.shape[0] / out.shape[1], face, bend)
    # a screen: brighter, bluish, with a faint pixel grating; then a black bezel
    img = 255.0 * (img / 255.0) ** rng.uniform(0.8, 1.0) * rng.uniform(1.0, 1.15)
    img[..., 2] += rng.uniform(0, 12)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    period = rng.uniform(2.5, 6.0)
    grating = np.sin(2 * math.pi * (xx + 0.3 * yy) / period)[..., None]
    img += grating * rng.uniform(2.0, 8.0)
    bezel = int(max(img.shape[:2]) * rng.uniform(0.03, 0.08))
    out = np.full((img.shape[0] + 2 * bezel, img.shape[1] + 2 * bezel, 3), 0, np.float32)
    out[:] = rng.uniform(5, 35)
    out[bezel:-bezel, bezel:-bezel] = img
    face = Box(face.x1 + bezel, face.y1 + bezel, face.x2 + bezel, face.y2 + bezel)
    screen_w = rng.uniform(0.06, 0.08) if kind is AttackKind.PHONE else rng.uniform(0.15, 0.25)
    width_m = screen_w * out.shape[1] / max(out.shape[:2])
    rgb = np.clip(out, 0, 255).astype(np.uint8)
    return Medium(rgb, width_m, width_m * out.shape[0] / out.shape[1], face, 0.0)


@dataclass(frozen=True)
class Pose:
    """The medium in front of the camera: angles in degrees (yaw about the vertical
    axis, pitch about the horizontal one, roll in the image plane), position in metres
    (z: distance from the camera)."""

    yaw: float
    pitch: float
    roll: float
    x: float
    y: float
    z: float


def _rotation(pose: Pose) -> npt.NDArray[np.float64]:
    a, b, c = (math.radians(v) for v in (pose.yaw, pose.pitch, pose.roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return np.asarray(rz @ rx @ ry, dtype=np.float64)


class Camera:
    """A pinhole camera of ``width`` x ``height`` pixels and the given horizontal field
    of view; renders a medium at a pose over a background."""

    def __init__(self, width: int, height: int, fov_deg: float = 60.0) -> None:
        self.width, self.height = width, height
        self.f = (width / 2) / math.tan(math.radians(fov_deg) / 2)

    def distance_for(self, medium: Medium, face_px: float) -> float:
        """How far to hold the medium for its face to be ``face_px`` wide in the image."""
        face_m = medium.face.width / medium.rgb.shape[1] * medium.width_m
        return self.f * face_m / face_px

    def project(
        self, medium: Medium, pose: Pose, u: npt.NDArray[np.float64], v: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Image points of medium pixels (u, v)."""
        h, w = medium.rgb.shape[:2]
        x = (u / w - 0.5) * medium.width_m
        y = (v / h - 0.5) * medium.height_m
        sag = medium.bend * (1 - (2 * x / medium.width_m) ** 2)
        pts = np.stack([x, y, -sag], axis=-1) @ _rotation(pose).T
        pts = pts + np.array([pose.x, pose.y, pose.z])
        return np.stack(
            [
                self.f * pts[:, 0] / pts[:, 2] + self.width / 2,
                self.f * pts[:, 1] / pts[:, 2] + self.height / 2,
            ],
            axis=-1,
        )

    def render(self, medium: Medium, pose: Pose, background: ImageArray) -> ImageArray:
        """The frame: the medium warped in, in vertical strips when it is bent."""
        frame = background.copy()
        h, w = medium.rgb.shape[:2]
        strips = 1 if medium.bend == 0 else 16
        edges = np.linspace(0, w, strips + 1).round().astype(int)
        for i in range(strips):
            x0, x1 = int(edges[i]), min(int(edges[i + 1]) + 1, w)
            u = np.array([x0, x1, x1, x0], dtype=np.float64)
            v = np.array([0.0, 0.0, h, h])
            dst = self.project(medium, pose, u, v).astype(np.float32)
            src = np.stack([u - x0, v], axis=-1).astype(np.float32)
            m = cv2.getPerspectiveTransform(src, dst)
            # transparent border: only the strip's own pixels are painted over the frame
            cv2.warpPerspective(
                np.ascontiguousarray(medium.rgb[:, x0:x1]),
                m,
                (self.width, self.height),
                dst=frame,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_TRANSPARENT,
            )
        return frame


class CameraEffects:
    """Glare, blur, sensor noise, exposure and JPEG compression of one camera during one
    attempt, each at a random strength drawn once: a real camera does not change its
    focus, noise level or compression from one frame to the next. The noise is new on
    every frame, the exposure drifts slowly, and the glare (a lamp's reflection on the
    glossy picture) moves across the image as the picture turns, by up to 6 pixels per
    degree."""

    def __init__(self, rng: random.Random, width: int, height: int) -> None:
        self.glare = rng.random() < 0.6
        self.glare_at = (rng.uniform(0, width), rng.uniform(0, height))
        self.glare_size = (rng.uniform(0.05, 0.3) * width, rng.uniform(0.05, 0.3) * height)
        self.glare_gain = rng.uniform(40, 140)
        self.glare_follow = rng.uniform(0.0, 6.0)  # pixels per degree the picture turns
        self.exposure = rng.uniform(0.8, 1.2)
        self.exposure_phase = rng.uniform(0, 2 * math.pi)
        kind = rng.random()
        self.blur = rng.uniform(0.5, 1.8) if kind < 0.35 else 0.0
        self.motion_kernel: npt.NDArray[np.float32] | None = None
        if 0.35 <= kind < 0.6:
            n = rng.randint(3, 7)
            kernel = np.zeros((n, n), np.float32)
            kernel[n // 2, :] = 1.0 / n
            rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), rng.uniform(0, 180), 1.0)
            kernel = np.asarray(cv2.warpAffine(kernel, rot, (n, n)), dtype=np.float32)
            self.motion_kernel = kernel / max(float(kernel.sum()), 1e-6)
        self.noise = rng.uniform(1, 7)
        self.quality = rng.randint(55, 92)
        self.noise_rng = np.random.default_rng(rng.getrandbits(32))

    def __call__(self, frame: ImageArray, t: float = 0.0, pose: Pose | None = None) -> ImageArray:
        img = frame.astype(np.float32)
        h, w = img.shape[:2]
        if self.glare:
            cx, cy = self.glare_at
            if pose is not None:
                cx += self.glare_follow * pose.yaw
                cy += self.glare_follow * pose.pitch
            sx, sy = self.glare_size
            yy, xx = np.mgrid[0:h:4, 0:w:4].astype(np.float32)  # a smooth spot: coarse grid
            spot = np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
            spot = cv2.resize(spot, (w, h), interpolation=cv2.INTER_LINEAR)
            img += spot[..., None] * self.glare_gain
        img *= self.exposure * (1.0 + 0.03 * math.sin(1.3 * t + self.exposure_phase))
        img = np.clip(img, 0, 255).astype(np.uint8)
        if self.blur > 0:
            img = np.asarray(cv2.GaussianBlur(img, (0, 0), self.blur), dtype=np.uint8)
        elif self.motion_kernel is not None:
            img = np.asarray(cv2.filter2D(img, -1, self.motion_kernel), dtype=np.uint8)
        noise = self.noise_rng.normal(0, self.noise, img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else img
        return np.asarray(decoded, dtype=np.uint8)


def camera_effects(frame: ImageArray, rng: random.Random) -> ImageArray:
    """One frame through a camera whose effects are drawn from ``rng`` for this frame."""
    return CameraEffects(rng, frame.shape[1], frame.shape[0])(frame)


def background(
    width: int, height: int, rng: random.Random, photo: ImageArray | None = None
) -> ImageArray:
    """A room behind the attacker: a blurred photo or a lit wall with some shapes."""
    if photo is not None and rng.random() < 0.5:
        img = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.GaussianBlur(img, (0, 0), rng.uniform(4, 12)), dtype=np.uint8)
    base = np.array([rng.uniform(80, 220) for _ in range(3)], np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 1.0 - 0.4 * (xx / width) * rng.uniform(-1, 1) - 0.3 * (yy / height) * rng.uniform(-1, 1)
    img = base[None, None, :] * shade[..., None]
    for _ in range(rng.randint(0, 4)):  # door frames, shelves, posters
        x0, y0 = rng.randint(0, width - 1), rng.randint(0, height - 1)
        x1, y1 = x0 + rng.randint(10, width // 2), y0 + rng.randint(10, height // 2)
        colour = tuple(rng.uniform(20, 240) for _ in range(3))
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, rng.choice((-1, 2, 4)))
    return np.clip(img, 0, 255).astype(np.uint8)


class Attacker:
    """Holds the medium and moves it: starts roughly frontal, with hand shake and slow
    changes of distance, and after a reaction time answers each prompt by turning the
    picture (the way asked, or the other way: the attacker does not know which way a
    flat picture's turn will look right) or swings it all along."""

    def __init__(
        self, camera: Camera, medium: Medium, strategy: Strategy, rng: random.Random
    ) -> None:
        self.rng = rng
        self.strategy = strategy
        self.face_px = rng.uniform(0.16, 0.36) * camera.width
        self.z0 = camera.distance_for(medium, self.face_px)
        # where the face is on the medium, so the face (not the medium) is centred
        h, w = medium.rgb.shape[:2]
        fx, fy = medium.face.center
        self.offset = ((0.5 - fx / w) * medium.width_m, (0.5 - fy / h) * medium.height_m)
        self.sign = rng.choice((-1.0, 1.0))
        self.amplitude = rng.uniform(15, 60)
        self.reaction = rng.uniform(0.2, 0.9)
        self.turn_time = rng.uniform(0.3, 1.0)
        self.swing_hz = rng.uniform(0.3, 1.2)
        self.roll0 = rng.uniform(-15, 15)
        self.pitch0 = rng.uniform(-15, 15)
        self.zoom = rng.uniform(-0.3, 0.3)  # fraction of distance change over 5 s
        self.phase = [rng.uniform(0, 2 * math.pi) for _ in range(6)]
        self.shake = rng.uniform(0.5, 3.0)  # degrees

    def pose(self, t: float, move: str | None, since: float) -> Pose:
        """The pose at time ``t`` (seconds from the start), answering ``move`` (``left``,
        ``right``, ``up``, ``down`` or None), asked since time ``since``."""
        p, s = self.phase, self.shake
        yaw = s * math.sin(2.1 * t + p[0])
        pitch = self.pitch0 + s * math.sin(1.7 * t + p[1])
        roll = self.roll0 + s * math.sin(1.3 * t + p[2])
        if self.strategy is Strategy.SWING:
            yaw += self.amplitude * math.sin(2 * math.pi * self.swing_hz * t + p[3])
        elif self.strategy is Strategy.FOLLOW and move is not None:
            k = min(max((t - since - self.reaction) / self.turn_time, 0.0), 1.0)
            k = 0.5 - 0.5 * math.cos(math.pi * k)
            sign = {"left": 1.0, "right": -1.0, "up": 1.0, "down": -1.0}[move] * self.sign
            if move in ("left", "right"):
                yaw += sign * self.amplitude * k
            else:
                pitch += sign * self.amplitude * 0.7 * k
        z = self.z0 * (1 + self.zoom * min(t / 5.0, 1.0) + 0.03 * math.sin(0.9 * t + p[4]))
        x = self.offset[0] + 0.01 * math.sin(0.8 * t + p[5])
        y = self.offset[1] + 0.01 * math.sin(0.6 * t + p[3])
        return Pose(yaw, pitch, roll, x, y, z)
