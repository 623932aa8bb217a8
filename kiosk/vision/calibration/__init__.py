"""Measured distance curves, one file per network, scoring and population of probes:
``<network>-<scoring>.json``, the development photos (``tools/calibrate.py``), and
``<network>-<scoring>-frames.json``, camera frames of strangers (``tools.frames.calibrate``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from importlib import resources

from kiosk.config import VisionSettings
from kiosk.domain.operating import DistanceCurve, OperatingPoint, choose_covering, level_for
from kiosk.errors import ModelFileError


@lru_cache(maxsize=8)
def distance_curve(network: str, scoring: str) -> DistanceCurve:
    """The photo curve shipped for ``network`` and ``scoring``; a ``ModelFileError`` when
    the package lacks it (a broken install)."""
    return _read(f"{network}-{scoring}.json")


@lru_cache(maxsize=8)
def frame_curve(network: str, scoring: str) -> DistanceCurve | None:
    """The camera-frame curve for ``network`` and ``scoring``, or ``None`` where none was
    measured (then the photos alone set the threshold, and the figures say so)."""
    name = f"{network}-{scoring}-frames.json"
    if not resources.files(__name__).joinpath(name).is_file():
        return None
    return _read(name)


def _read(name: str) -> DistanceCurve:
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
        population=str(data.get("population", "development photos")),
    )


def operating_point(vision: VisionSettings, people: int, *, door: bool = True) -> OperatingPoint:
    """The threshold in force for ``people`` enrolled people with these settings: the
    explicit ``[vision] threshold`` when one is set, else the level's for this size on
    every population measured (photos and camera frames: the stricter threshold), never
    looser than for the level's smallest gallery (``MIN_PEOPLE``).

    ``door=False``: two photos compared with each other (``verify``, enrollment's own
    checks), no stranger at a door: the photo curve alone, at the gallery's own size."""
    level = level_for(vision.level)
    curves = [distance_curve(vision.network, vision.scoring)]
    frames = frame_curve(vision.network, vision.scoring) if door else None
    if frames is not None:
        curves.append(frames)
    if not door:
        level = replace(level, min_people=1)
    return choose_covering(curves, people, level, vision.threshold)
