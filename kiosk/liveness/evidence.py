"""How three-dimensional one turned frame is: several cues, one score.

Each cue compares a frame of the face turning with the reference frame before the prompt:

- ``parallax``: the nose's offset from the plane of the eyes and mouth in the asked
  direction (:func:`kiosk.liveness.geometry.parallax`), in eye-to-mouth distances;
- ``ratio``: that parallax over the face plane's tilt (1 - cos of a flat picture's
  tilt): a turning head's nose leaves the plane long before the plane looks tilted, a
  tilted picture's plane tilts first;
- ``head``: how much better a rigid 3-D head explains the five points than one plane
  (:func:`kiosk.liveness.geometry.head_model_gain`);
- ``plane``: the correlation of the face's texture under the best homography
  (:func:`kiosk.liveness.texture.fit_plane`): a flat picture fits one, a head does not;
- ``surround``: whether the room around the head stayed while the face moved, or moved
  with it (:func:`kiosk.liveness.texture.surround_motion`);
- ``outline``: the nose's move within the detector's face box (the box follows the
  face's outline, its cheeks, jaw and ears; on a turning head the nose moves towards one
  side of it, on a picture the box shrinks around a nose that stays in the middle).

:class:`Combination` turns them into one log-odds score, live head against picture, with
weights fitted by logistic regression on measured frames (``python -m tools.liveness.fit``),
not set by hand; a frame counts when the score is at least the combination's threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the order of the cues in a feature vector (and of :attr:`Combination.weights`)
CUES = ("parallax", "ratio", "head", "plane", "surround", "outline")


@dataclass(frozen=True)
class Evidence:
    """The cues of one frame against the reference (see the module docstring). The
    pixel cues are ``None`` when the check was not given the frames (landmarks only) and
    ``nan`` when they could not be measured (no homography found, a plain wall)."""

    parallax: float
    ratio: float
    head: float
    plane: float | None = None
    surround: float | None = None
    outline: float | None = None

    @property
    def has_pixels(self) -> bool:
        return self.plane is not None

    def features(self) -> tuple[float, ...]:
        """The cues as numbers for :class:`Combination`, a cue that could not be measured
        standing at what says nothing: no plane fit found counts as a plane (1.0: a
        picture whose alignment fails must not look three-dimensional), no surround or
        outline as 0."""
        plane = 1.0 if self.plane is None or math.isnan(self.plane) else self.plane
        return (
            self.parallax,
            min(max(self.ratio, -1.0), RATIO_CAP),
            self.head,
            plane,
            _or_zero(self.surround),
            _or_zero(self.outline),
        )


#: the ratio of parallax to tilt is capped: a head turned a little has almost no tilt
RATIO_CAP = 4.0


def _or_zero(value: float | None) -> float:
    return 0.0 if value is None or math.isnan(value) else value


@dataclass(frozen=True)
class Combination:
    """A logistic combination of the cues: ``score = bias + weights . features``, the
    log-odds of a live head against a picture, and the ``threshold`` a frame's score must
    reach to count."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def __post_init__(self) -> None:
        if len(self.weights) != len(CUES):
            raise ValueError(f"a combination needs {len(CUES)} weights, one per cue")

    def score(self, evidence: Evidence) -> float:
        x = evidence.features()
        return self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))

    def counts(self, evidence: Evidence) -> bool:
        return self.score(evidence) >= self.threshold
