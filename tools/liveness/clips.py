"""The cues on the real clips, for ``python -m tools.liveness.evaluate``: the border cue
and the passive mode over windows of each clip, the 3-D motion test without a prompt (a cue
measured and not kept), the attack clips replayed against a random challenge, and the
border cue on stills."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.config import LivenessSettings
from kiosk.liveness.challenge import ChallengeRules
from kiosk.liveness.check import (
    PASSIVE_FRAMES,
    ActiveLiveness,
    BorderWatch,
)
from kiosk.liveness.cues import BORDER_SIDES_NEEDED, Border
from kiosk.liveness.geometry import Points, parallax, tilt
from kiosk.liveness.passive import Cadence
from kiosk.vision.imageio import load_image
from kiosk.vision.pipeline import FacePipeline
from tools.liveness.frames import (
    Seen,
    look,
)

# --- a cue measured and not kept ---------------------------------------------------


class SpontaneousMotion:
    """The 3-D motion test without a prompt (the passive mode's test before it was
    measured): live once the nose has moved off the plane of the eyes and mouth by
    ``min_parallax`` on two frames in a row (a head turning by itself), measured from the
    first frame; not live if that has not happened ``time_limit_seconds`` after it.
    Not used by the kiosk: live people who are not asked to move seldom turn their head
    (see the figures this module prints)."""

    def __init__(self, settings: LivenessSettings) -> None:
        self.settings = settings
        self._first: tuple[float, Points] | None = None
        self._last_time = 0.0
        self._run = 0
        self.live = False

    def observe_points(self, time: float, points: Points) -> None:
        self._last_time = time
        if self._first is None:
            self._first = (time, np.asarray(points, np.float64))
            return
        side, _ = parallax(self._first[1], points)
        tilted = tilt(self._first[1], points)
        if not (np.isfinite(side) and np.isfinite(tilted)):
            return
        turned = (
            abs(side) > self.settings.min_parallax
            and abs(side) >= ChallengeRules.min_ratio * tilted
        )
        self._run = self._run + 1 if turned else 0
        self.live = self.live or self._run >= 2

    @property
    def pending(self) -> bool:
        waited = self._last_time - self._first[0] if self._first is not None else 0.0
        return not self.live and waited < self.settings.time_limit_seconds


def border_windows(seen: list[Seen], seconds: float, stride: float = 1.0) -> list[bool]:
    """The border cue alone (``BorderWatch``) over every window of the clip that is
    ``seconds`` long: True where it would deny the attempt."""
    if not seen:
        return []
    out = []
    start = seen[0].time
    last = max(seen[-1].time - seconds, start)
    while start <= last + 1e-6:
        watch = BorderWatch(True)
        spoof = False
        for s in seen:
            if start <= s.time <= start + seconds + 1e-6:
                watch.add_sides(s.border)
                spoof = spoof or watch.spoof
        out.append(spoof)
        start += stride
    return out


def motion_windows(seen: list[Seen], settings: LivenessSettings, stride: float = 1.0) -> list[bool]:
    """The 3-D motion test without a prompt (:class:`SpontaneousMotion`) on every window
    of the clip that is ``time_limit`` long: True where it judged the face live."""
    if not seen:
        return []
    out = []
    start = seen[0].time
    last = max(seen[-1].time - settings.time_limit_seconds, start)  # short clip: one window
    while start <= last + 1e-6:
        check = SpontaneousMotion(settings)
        for s in seen:
            if start <= s.time <= start + settings.time_limit_seconds + 1e-6:
                check.observe_points(s.time, s.points)
                if not check.pending:
                    break
        out.append(check.live)
        start += stride
    return out


def passive_mode_windows(seen: list[Seen], stride: float = 1.0) -> list[bool]:
    """The passive mode (:class:`~kiosk.liveness.check.PassiveLiveness`: the border cue on
    the first ``PASSIVE_FRAMES`` frames) for an attempt starting every ``stride`` seconds:
    True where it lets the face in."""
    out = []
    k = 0
    while k + PASSIVE_FRAMES <= len(seen):
        watch = BorderWatch(True)
        for s in seen[k : k + PASSIVE_FRAMES]:
            watch.add_sides(s.border)
        out.append(not watch.spoof)
        t0 = seen[k].time
        while k < len(seen) and seen[k].time < t0 + stride:
            k += 1
    return out


def _observe(
    check: ActiveLiveness, s: Seen, border: bool = False, cadence: Cadence | None = None
) -> None:
    """One frame of a replay into the active check (``border``: with the border cue; the
    passive model's score, where the clip was scored, of the frames the kiosk would score:
    ``cadence``)."""
    sides = Border(frozenset(SIDES[: s.border])) if border else None
    scored = s.passive is not None and cadence is not None and cadence.due(s.time)
    passive = s.passive if scored else None
    check.observe_points(s.time, s.points, s.embedding, sides, s.grey, s.box, passive)


SIDES = ("left", "right", "top", "bottom")


def replay_challenges(
    seen: list[Seen],
    settings: LivenessSettings,
    rng: random.Random,
    threshold: float,
    border: bool = False,
    stride: float = 0.5,
    level: str = "normal",
    passive_denies: bool = False,
) -> list[bool]:
    """A clip played back as the answer to a random challenge, starting every ``stride``
    seconds (as if the attacker pressed play just before the prompt); ``border``: the
    border cue is on too (as in the kiosk), otherwise the challenge alone. The passive
    model's scores (when the clip was scored) go to the check, for one clear turn;
    ``passive_denies``: a confidently fake score denies, as in the kiosk."""
    out = []
    k = 0
    while k + 3 < len(seen):
        check = ActiveLiveness(
            settings,
            random.Random(rng.getrandbits(32)),
            identity_threshold=threshold,
            level=level,
            passive_denies=passive_denies,
        )
        cadence = Cadence()
        for s in seen[k : k + 3]:
            _observe(check, s, border, cadence)
        verdict = check.assess()
        for s in seen[k + 3 :]:
            _observe(check, s, border, cadence)
            verdict = check.assess()
            if not verdict.pending:
                break
        # the clip ended before the time limit: the attempt would time out
        out.append(verdict.live and not verdict.pending)
        if verdict.pending and k > 0:
            break
        t0 = seen[k].time
        while k < len(seen) and seen[k].time < t0 + stride:
            k += 1
    return out


def border_stills(pipeline: FacePipeline, root: Path) -> dict[str, Any]:
    """The border cue on single images: the stills of ``video/liveness`` (attack and
    live), and the portraits of ``deepface`` and ``face_recognition`` as live scenes (a
    camera saw a live person in a room): a frame found there is a false alarm."""
    out: dict[str, Any] = {}
    stills = sorted((root / "video" / "liveness").glob("*/*.jpg"))
    portraits = sorted((root / "deepface").glob("*/*.jpg")) + sorted(
        (root / "face_recognition").glob("*/*.jpg")
    )
    live_framed: list[bool] = []
    for path in stills + portraits:
        try:
            rgb = load_image(path)
        except Exception:
            continue
        scale = 640 / max(rgb.shape[:2])
        if scale < 1:
            rgb = np.asarray(
                cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
            )
        seen = look(pipeline, rgb, 0.0, embed=False)
        if seen is None:
            continue
        framed = seen.border >= BORDER_SIDES_NEEDED
        if path in stills:
            out[f"{path.parent.name}/{path.name}"] = seen.border
            print(f"  still {path.parent.name}/{path.name}: {seen.border} sides framed")
        else:
            live_framed.append(framed)
    print(f"  portraits (live scenes) framed by a picture's edges: {rate(live_framed)}")
    out["portraits_framed"] = sum(live_framed)
    out["portraits"] = len(live_framed)
    return out


def rate(flags: list[bool]) -> str:
    n = len(flags)
    k = sum(flags)
    return f"{k}/{n} = {100.0 * k / n:.1f} %" if n else "n/a"
