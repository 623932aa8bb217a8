"""Flat prints held so close that they fill the frame: no edge of the paper in view.

An addition to :mod:`tools.liveness.attacks` (whose attackers hold the picture with its
face 16-36 % of the frame wide, so its border is usually in view); nothing there changes.
The attacker here holds a flat print (``AttackKind.PRINT``) at a distance where the
paper covers the whole frame with a margin, and moves it only a little (small turns, no
swinging, only closer), so that its edges stay outside. :func:`covers` says, frame by
frame, whether that held; only frames it covers count as edge-less.
"""

from __future__ import annotations

import random

import numpy as np

from tools.liveness.attacks import Attacker, Camera, Medium, Pose, Strategy


class EdgelessAttacker(Attacker):
    """Holds ``medium`` (a flat print) so that it fills the frame (``cover``: how much
    wider and taller than the frame the paper is, at the start)."""

    def __init__(
        self, camera: Camera, medium: Medium, rng: random.Random, cover: float = 1.15
    ) -> None:
        super().__init__(camera, medium, Strategy.FOLLOW, rng)
        # the face is centred, so the paper reaches less far on one side than the other:
        # the distance is bounded by the side nearest to the face
        half_w = medium.width_m / 2 - abs(self.offset[0])
        half_h = medium.height_m / 2 - abs(self.offset[1])
        z_w = half_w * 2 * camera.f / (camera.width * cover)
        z_h = half_h * 2 * camera.f / (camera.height * cover)
        self.z0 = min(z_w, z_h) * rng.uniform(0.7, 0.95)
        self.face_px = camera.f * (medium.face.width / medium.rgb.shape[1] * medium.width_m)
        self.face_px /= self.z0
        self.amplitude = rng.uniform(3.0, 12.0)  # small turns: larger ones show an edge
        self.roll0 = rng.uniform(-5, 5)
        self.pitch0 = rng.uniform(-5, 5)
        self.zoom = rng.uniform(-0.2, 0.0)  # only closer
        self.shake = rng.uniform(0.3, 1.5)


def covers(camera: Camera, medium: Medium, pose: Pose) -> bool:
    """True when the medium covers every corner of the frame at ``pose`` (no edge of it
    in view; a flat medium's image is a convex quadrilateral)."""
    h, w = medium.rgb.shape[:2]
    quad = camera.project(medium, pose, np.array([0.0, w, w, 0.0]), np.array([0.0, 0.0, h, h]))
    corners = [(0.0, 0.0), (camera.width, 0.0), (camera.width, camera.height), (0.0, camera.height)]
    for px, py in corners:
        signs = []
        for i in range(4):
            (x0, y0), (x1, y1) = quad[i], quad[(i + 1) % 4]
            signs.append((x1 - x0) * (py - y0) - (y1 - y0) * (px - x0))
        if not (all(s > 0 for s in signs) or all(s < 0 for s in signs)):
            return False
    return True
