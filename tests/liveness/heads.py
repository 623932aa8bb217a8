"""Five landmarks of a 3-D head and of a flat photo, seen by a pinhole camera.

Positions in metres, the camera at the origin looking along +z, image x to the right and
y down. The head's nose tip stands 2.5 cm in front of the eyes (real faces: 2 to 3 cm);
the photo has the same frontal layout with everything in one plane.
"""

from __future__ import annotations

import math

import numpy as np

HEAD = np.array(
    [
        [-0.032, -0.035, 0.0],  # eye on the image's left (the person's right eye)
        [0.032, -0.035, 0.0],
        [0.0, 0.0, -0.025],  # nose tip, towards the camera
        [-0.025, 0.035, -0.006],
        [0.025, 0.035, -0.006],
    ]
)
PHOTO = HEAD * np.array([1.0, 1.0, 0.0])


def view(
    points: np.ndarray,
    turn: float = 0.0,
    nod: float = 0.0,
    roll: float = 0.0,
    x: float = 0.0,
    y: float = 0.0,
    z: float = 0.5,
    f: float = 600.0,
) -> np.ndarray:
    """Image points (5, 2) of ``points`` turned by ``turn`` degrees to the person's own
    left (the nose towards the image's right), nodded down by ``nod``, rolled, moved."""
    a, b, c = (math.radians(v) for v in (turn, nod, roll))
    ry = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    p = points @ (rz @ rx @ ry).T + np.array([x, y, z])
    return np.stack([f * p[:, 0] / p[:, 2] + 320, f * p[:, 1] / p[:, 2] + 240], axis=-1)
