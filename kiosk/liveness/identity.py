"""The same person from the matched frame to the end of the challenge.

A turned face is not compared with the frontal templates of the gallery (a network that
embeds faces is least sure of a face turned away, and a person turning would be taken
for a stranger). Instead the face is followed from the frames that were matched:

- its box may not jump: from one frame to the next the face moves at most
  :data:`MAX_SPEED` face widths a second (at least :data:`MIN_JUMP` face widths), and
  its size changes by at most :data:`MAX_GROWTH` times;
- on the frames where it is back near the pose it was matched in (near-frontal), its
  embedding is compared with the matched frames' own, at the embedding network's distance
  for two frames of one attempt (``Network.same_face`` of ``kiosk.vision.networks``,
  given by the composition root; never a constant of this module: the network and its
  distance scale may change).
  Two such frames in a row beyond it end the challenge.
"""

from __future__ import annotations

import numpy as np

from kiosk.domain.faces import FloatArray
from kiosk.liveness.geometry import Points, face_axes, frontal_offset

#: face widths a second a face may move from frame to frame (a head turning fast moves
#: its landmarks' centre by well under one face width in a frame at 8 frames a second)
MAX_SPEED = 4.0
#: the least jump allowed between two frames, in face widths (landmark noise, a missed
#: detection in between)
MIN_JUMP = 0.75
#: the most the face's size may change from one frame to the next (either way)
MAX_GROWTH = 1.6
#: a frame is near the matched pose when its single-frame yaw (the nose's offset,
#: :func:`kiosk.liveness.geometry.frontal_offset`) is within this of the matched frames'
NEAR_POSE = 0.05
#: frames in a row, near the matched pose and beyond the same-person distance, that end it
FAR_FRAMES = 2


class IdentityTrack:
    """Follows one face from the matched frames (``points`` and ``embeddings`` of the
    frames before the prompt) through the challenge. ``same_person`` is the distance
    under which two embeddings are one person (``None``: the embeddings are not compared,
    only the box's continuity is)."""

    def __init__(
        self,
        points: list[Points],
        embeddings: list[FloatArray],
        times: list[float],
        same_person: float | None,
    ) -> None:
        if not points:
            raise ValueError("the identity needs the matched frames")
        self.same_person = same_person
        self.reference = np.mean(embeddings, axis=0) if embeddings else None
        self.pose = float(np.median([frontal_offset(p) for p in points]))
        self._last = np.asarray(points[-1], np.float64)
        self._last_time = times[-1]
        self._far = 0
        #: the embedding distances measured on the near-frontal frames (for the log)
        self.distances: list[float] = []

    def observe(self, time: float, points: Points, embedding: FloatArray | None) -> str:
        """One frame of the challenge; returns why the face is not the matched one any
        more, or an empty string."""
        p = np.asarray(points, np.float64)
        if not np.all(np.isfinite(p)):
            return ""
        reason = self._jumped(time, p)
        self._last, self._last_time = p, time
        if reason:
            return reason
        if embedding is None or self.reference is None or self.same_person is None:
            return ""
        if abs(frontal_offset(p) - self.pose) > NEAR_POSE:
            return ""  # turned: not compared (and a run of far frames is not broken)
        distance = float(np.linalg.norm(embedding - self.reference))
        self.distances.append(distance)
        self._far = self._far + 1 if distance > self.same_person else 0
        if self._far >= FAR_FRAMES:
            return (
                f"the face changed during the challenge (distance {distance:.2f} to the "
                f"matched frames, same person under {self.same_person:.2f})"
            )
        return ""

    def _jumped(self, time: float, p: Points) -> str:
        _, _, size = face_axes(self._last)
        _, _, new_size = face_axes(p)
        width = 2.0 * size  # a face is about two eye-to-mouth distances wide
        allowed = max(MIN_JUMP, MAX_SPEED * max(time - self._last_time, 0.0)) * width
        moved = float(np.linalg.norm(p.mean(axis=0) - self._last.mean(axis=0)))
        growth = max(new_size / size, size / new_size)
        if moved > allowed or growth > MAX_GROWTH:
            return (
                f"the face jumped during the challenge ({moved / width:.2f} face widths, "
                f"size x{growth:.2f} from one frame to the next)"
            )
        return ""
