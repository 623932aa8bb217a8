"""Measured distance curves, one file per network and scoring (``tools/calibrate.py``)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from kiosk.config import VisionSettings
from kiosk.domain.operating import DistanceCurve, OperatingPoint, choose, level_for
from kiosk.errors import ModelFileError


@lru_cache(maxsize=8)
def distance_curve(network: str, scoring: str) -> DistanceCurve:
    """The curve shipped for ``network`` and ``scoring``; a ``ModelFileError`` when the
    package lacks it (a broken install)."""
    name = f"{network}-{scoring}.json"
    try:
        data = json.loads(resources.files(__name__).joinpath(name).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(
            f"the measured distance curve {name} is missing or damaged in kiosk/vision/"
            "calibration; reinstall the kiosk"
        ) from exc
    return DistanceCurve(
        network=data["network"],
        scoring=data["scoring"],
        model=data["model"],
        impostor_comparisons=int(data["impostor_comparisons"]),
        impostor_tail=tuple(float(x) for x in data["impostor_tail"]),
        genuine=tuple(float(x) for x in data["genuine"]),
        impostor_grid=tuple((float(t), int(c)) for t, c in data.get("impostor_grid", [])),
    )


def operating_point(vision: VisionSettings, people: int) -> OperatingPoint:
    """The threshold in force for ``people`` enrolled people with these settings: the
    explicit ``[vision] threshold`` when one is set, else the level's, for this size."""
    curve = distance_curve(vision.network, vision.scoring)
    return choose(curve, people, level_for(vision.level), vision.threshold)
