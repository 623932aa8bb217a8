"""Step 5b: the rules compared and the run over every attempt: the first frame alone,
each fusion method at each rate, fewer or more frames, badge + face, and a sweep of
thresholds around the configured one.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from kiosk.config import FUSION_METHODS, DecisionSettings, Settings
from kiosk.domain.access import Decision
from kiosk.vision.matcher import Gallery, build_gallery
from tools.decision_eval.attempts import Data, Trial
from tools.decision_eval.common import RATES
from tools.decision_eval.figures import Tally
from tools.decision_eval.replay import Fixed, Outcome, Store, run_attempt


def single_frame(trial: Trial, gallery: Any, settings: Settings) -> Outcome:
    """The first frame with a face, alone (the baseline a fused decision must beat)."""
    first = next((r for r in trial.rows if r.ok), None)
    if first is None:
        return Outcome(None, None, None)
    v = settings.vision
    match = gallery.search(first.emb[None, :], v.threshold, v.ambiguity_margin)[0]
    if match.is_match:
        return Outcome(Decision.ALLOWED, match.label, None)
    return Outcome(Decision.DENIED_UNKNOWN, None, None)


SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # thresholds, as parts of the configured one
SWEEP_RATE = 6.0
TARGETS = (0.01, 0.05)
FRAME_VARIANTS = tuple(
    f"{m}, up to {n} frames" for m in ("fused", "vote") for n in (3, 8)
)  # FPIR per attempt at which FNIR is compared


@dataclass(frozen=True)
class Config:
    name: str
    method: str | None  # None: the first frame alone
    rate: float
    max_frames: int
    part: float = 1.0  # the threshold, as a part of the configured one
    badge: bool = False  # badge + face: a stranger shows the badge of his look-alike


def badge_for(trial: Trial, gallery: Gallery) -> int | None:
    """The badge shown: one's own, or, for a stranger, the badge of the enrolled person
    whose templates are nearest to his face (the worst case: he knows whom he resembles
    and has that badge)."""
    if trial.truth is not None:
        return trial.truth
    first = next((r for r in trial.rows if r.ok), None)
    if first is None:
        return None
    return gallery.search(first.emb[None, :], float("inf"))[0].label


def configurations(quick: bool) -> list[Config]:
    """At the configured threshold: every method at every rate, and fewer or more frames;
    then every method (and the single frame) over a sweep of thresholds at one rate."""
    default = DecisionSettings()
    out = [Config("single frame", None, 6.0, 1)]
    for method in FUSION_METHODS:
        for rate in (2.0, 6.0) if quick else RATES:
            out.append(Config(f"{method} @ {rate:g}/s", method, rate, default.max_frames))
    for method in ("fused", "vote"):
        for frames in (3, 8):
            out.append(Config(f"{method} @ 6/s, up to {frames} frames", method, 6.0, frames))
    for part in (0.7, 0.8, 0.9, 1.0):
        name = f"badge + face, {default.method} @ 6/s x{part:g}"
        out.append(Config(name, default.method, 6.0, default.max_frames, part, badge=True))
    for part in SWEEP:
        if part == 1.0:
            continue
        out.append(Config(f"single frame x{part:g}", None, SWEEP_RATE, 1, part))
        for method in FUSION_METHODS:
            name = f"{method} @ {SWEEP_RATE:g}/s x{part:g}"
            out.append(Config(name, method, SWEEP_RATE, default.max_frames, part))
        for method in ("fused", "vote"):
            for frames in (3, 8):
                name = f"{method} @ {SWEEP_RATE:g}/s, up to {frames} frames x{part:g}"
                out.append(Config(name, method, SWEEP_RATE, frames, part))
    return out


def effective_threshold(gallery: Gallery, settings: Settings) -> float:
    """The threshold the kiosk would use with this gallery: the explicit one, or the
    operating point for its size at the configured level."""
    if settings.vision.threshold is not None:
        return float(settings.vision.threshold)
    assert gallery.operating_point is not None
    return float(gallery.operating_point.threshold)


def evaluate(data: Data, base: Settings, quick: bool) -> dict[str, dict[str, Tally]]:
    stores = {
        name: Store(np.asarray(emb, np.float32).reshape(len(labels), -1), labels)
        for name, (emb, labels) in data.galleries.items()
    }
    galleries = {name: build_gallery(s.emb, s.labels, base.vision) for name, s in stores.items()}
    configured = {name: effective_threshold(g, base) for name, g in galleries.items()}
    scopes: dict[str, dict[str, Tally]] = {}
    for config in configurations(quick):
        decision = base.decision
        if config.method is not None:
            decision = replace(decision, method=config.method, max_frames=config.max_frames)
        if config.badge:
            decision = replace(decision, mode="badge+face")
        settings = replace(base, keep_snapshots=False, decision=decision)
        t0 = time.monotonic()
        for trial in data.trials:
            gallery: Any = galleries[trial.gallery]
            threshold = None
            if config.part != 1.0:
                threshold = config.part * configured[trial.gallery]
                gallery = Fixed(gallery, threshold)
            if config.method is None:
                outcome = single_frame(trial, gallery, settings)
            else:
                badge = badge_for(trial, galleries[trial.gallery]) if config.badge else None
                store = stores[trial.gallery]
                outcome = run_attempt(settings, store, trial.rows, config.rate, badge, threshold)
            scopes.setdefault(trial.scope, {}).setdefault(config.name, Tally()).add(
                trial.truth, outcome
            )
        print(f"  {config.name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return scopes
