"""Made attacks against the check, for ``python -m tools.liveness.evaluate``: a photo
rendered as a print, a bent print, a phone or a tablet, moved by an attacker who follows
the prompt, swings it or just holds it (:mod:`tools.liveness.attacks`), through the real
pipeline and the real challenge; the border cue and the passive model counted apart; and
the figures per kind."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import LivenessSettings, VisionSettings
from kiosk.domain.faces import Box
from kiosk.liveness.challenge import COMBINATION
from kiosk.liveness.check import (
    ActiveLiveness,
    BorderWatch,
    rules_from,
    tries_in_force,
)
from kiosk.liveness.passive import PassiveScore, PassiveWatch
from kiosk.vision.pipeline import FacePipeline
from tools.liveness.attacks import (
    Attacker,
    AttackKind,
    Camera,
    CameraEffects,
    Strategy,
    background,
    make_medium,
)
from tools.liveness.clips import SpontaneousMotion, rate
from tools.liveness.frames import (
    Photo,
    Seen,
    attack_photos,
    look,
    same_face_threshold,
    same_person_threshold,
)

# --- made attacks -----------------------------------------------------------------


@dataclass
class AttackAttempt:
    kind: str
    strategy: str
    photo: str
    reached: bool  # the first frames were recognised as the photo's person
    active_live: bool = False
    passive_live: bool = False  # the passive mode (the border cue) let it in
    motion_live: bool = False  # the 3-D motion test without a prompt let it in
    reason: str = ""
    max_parallax: float = 0.0
    frames: int = 0  # frames with the face, prompt included
    framed: int = 0  # of them, with a picture's frame around the face
    border_spoof: bool = False  # the border cue alone would have denied the attempt
    #: moves done (of the two asked): one done is an attack a one-move challenge lets in
    done: int = 0
    #: the combined 3-D score (kiosk.liveness.evidence) of the frames that counted a move,
    #: and of all frames that turned the asked way
    counted_scores: list[float] = field(default_factory=list)
    turned_scores: list[float] = field(default_factory=list)
    #: accepted on one clear turn (the default at Normal), without the other moves
    clear: bool = False
    #: a clear first turn that the passive model's score did not let end the check
    clear_refused: bool = False
    #: the passive model (kiosk.liveness.passive) would have denied it, counted apart; its
    #: mean score over the attempt (None: not measured, ``--passive`` not given)
    passive_spoof: bool = False
    passive_mean: float | None = None


def run_attack(
    pipeline: FacePipeline,
    photo: Photo,
    kind: AttackKind,
    strategy: Strategy,
    settings: LivenessSettings,
    rng: random.Random,
    size: tuple[int, int],
    fps: float,
    embed_every: int,
    threshold: float,
    passive_score: PassiveScore | None = None,
) -> AttackAttempt:
    """One made attack against the active challenge (``threshold``: the vision threshold,
    under which the first frames must match the photo's own template, as the kiosk's
    gallery search would; ``passive_score``: the passive model's score, counted apart)."""
    camera = Camera(*size, fov_deg=rng.uniform(55, 75))
    medium = make_medium(photo.rgb, photo.face, kind, rng)
    attacker = Attacker(camera, medium, strategy, rng)
    scene = background(size[0], size[1], rng, photo.rgb if rng.random() < 0.3 else None)
    effects = CameraEffects(rng, size[0], size[1])
    attempt = AttackAttempt(kind.value, strategy.value, photo.path.name, reached=False)
    # the challenge and the 3-D test without the border cue, which is counted apart
    # (``border_spoof``) so that each is measured on its own
    # (and the passive model's denial, counted apart too: ``passive_spoof``; its scores
    # still go to the check, where a confidently real one lets one clear turn end it)
    rules = rules_from(settings)  # the kiosk's rules (with the border cue on)
    tries = tries_in_force(settings, True)  # the kiosk's: the cues are on there
    settings = replace(settings, border_check=False)
    active = ActiveLiveness(
        settings,
        random.Random(rng.getrandbits(32)),
        identity_threshold=same_face_threshold(),
        passive_denies=False,
    )
    active.rules, active.tries = rules, tries
    passive = SpontaneousMotion(settings)
    watch = BorderWatch(True)
    opinion = PassiveWatch(passive_score, settings.passive_fake_below)

    def count(seen: Seen, rgb: np.ndarray) -> float | None:
        """Count the cues apart; the passive model's score of this frame, if scored."""
        watch.add_sides(seen.border)
        attempt.frames, attempt.framed = watch.seen, watch.framed
        attempt.border_spoof = attempt.border_spoof or watch.spoof
        score = opinion.add(rgb, seen.box, seen.time) if seen.box is not None else None
        attempt.passive_spoof = attempt.passive_spoof or opinion.spoof
        attempt.passive_mean = opinion.mean
        return score

    dt = 1.0 / fps
    # the frames before the prompt: recognition votes (three frames, all must match)
    t = 0.0
    near: Box | None = None
    for _ in range(3):
        pose = attacker.pose(t, None, 0.0)
        frame = effects(camera.render(medium, pose, scene), t, pose)
        seen = look(pipeline, frame, t, embed=True, near=near)
        if seen is None or seen.embedding is None:
            return attempt
        if float(np.linalg.norm(seen.embedding - photo.template)) > threshold:
            return attempt
        score = count(seen, frame)
        active.observe_points(
            seen.time, seen.points, seen.embedding, image=seen.grey, box=seen.box, passive=score
        )
        passive.observe_points(seen.time, seen.points)
        near = seen.box
        t += dt
    attempt.reached = True
    first_border_spoof = watch.spoof
    verdict = active.assess()
    asked, since, n = verdict.move, t - dt, 0
    passive_done = False
    while verdict.pending:
        pose = attacker.pose(t, asked, since)
        frame = effects(camera.render(medium, pose, scene), t, pose)
        embed = embed_every > 0 and n % embed_every == 0
        seen = look(pipeline, frame, t, embed=embed, near=near)
        n += 1
        if seen is not None:
            near = seen.box
            score = count(seen, frame)
            active.observe_points(
                seen.time,
                seen.points,
                seen.embedding,
                image=seen.grey,
                box=seen.box,
                passive=score,
            )
            passive.observe_points(seen.time, seen.points)
        else:  # no face: time still runs out
            active.observe_points(t, np.full((5, 2), np.nan), None)
        verdict = active.assess()
        if verdict.move != asked:
            asked, since = verdict.move, t
        if not passive_done:
            passive_done = not passive.pending
            attempt.motion_live = passive.live
        t += dt
    attempt.active_live = verdict.live
    attempt.reason = verdict.detail
    challenge = active.challenge
    attempt.max_parallax = challenge.status.max_parallax if challenge else 0.0
    attempt.done = challenge.status.done if challenge else 0
    attempt.counted_scores = list(challenge.counted_scores) if challenge else []
    attempt.turned_scores = list(challenge.turned_scores) if challenge else []
    attempt.clear = bool(challenge and challenge.clear)
    attempt.clear_refused = bool(challenge and challenge.clear_refused)
    if not passive_done:  # the challenge ended first: the motion test had the frames so far
        attempt.motion_live = passive.live
    # the passive mode answers at the first recognition, after the frames before the prompt
    attempt.passive_live = not first_border_spoof
    return attempt


_WORKER: dict[str, Any] = {}
KINDS = list(AttackKind)
STRATEGIES = [Strategy.FOLLOW] * 6 + [Strategy.SWING] * 3 + [Strategy.HANDHELD]


def _init_worker(faces: Path, threads: int, passive: bool = False) -> None:
    import torch

    torch.set_num_threads(threads)
    pipeline = FacePipeline.load(VisionSettings(device="cpu"))
    _WORKER["pipeline"] = pipeline
    _WORKER["photos"] = attack_photos(faces, pipeline)
    _WORKER["threshold"] = same_person_threshold()
    _WORKER["passive"] = None
    if passive:
        from kiosk.vision.antispoof import PassiveScorer

        scorer = PassiveScorer()
        scorer.load()
        _WORKER["passive"] = scorer.score


def _attack_task(
    task: tuple[int, int, LivenessSettings, tuple[int, ...], float, int],
) -> tuple[AttackAttempt, int]:
    """One made attack that reaches the liveness check (and how many renders did not)."""
    index, seed, settings, size, fps, embed_every = task
    rng = random.Random(seed)
    kind = KINDS[index % len(KINDS)]
    misses = 0
    while True:
        attempt = run_attack(
            _WORKER["pipeline"],
            rng.choice(_WORKER["photos"]),
            kind,
            rng.choice(STRATEGIES),
            settings,
            rng,
            (size[0], size[1]),
            fps,
            embed_every,
            _WORKER["threshold"],
            _WORKER["passive"],
        )
        if attempt.reached:
            return attempt, misses
        misses += 1


def summarize(attempts: list[AttackAttempt], skipped: int, count: int) -> dict[str, Any]:
    """Print and return the made attacks' figures per kind, for a challenge of ``count``
    moves (with two, an attack that did the first move is one that a one-move challenge
    would have let in; with one, a two-move challenge lets in at most as many: its first
    move is the same one, in the same time)."""
    names = {1: ("one move", "first move"), 2: ("two moves", "one move")}[min(count, 2)]
    by_kind: dict[str, list[AttackAttempt]] = defaultdict(list)
    for a in attempts:
        by_kind[a.kind].append(a)
    out: dict[str, Any] = {"attempts": len(attempts), "not_recognised": skipped}
    for kind_name, group in sorted(by_kind.items()):
        act = [a.active_live for a in group]
        one = [a.done >= 1 for a in group]
        pas = [a.passive_live for a in group]
        mot = [a.motion_live for a in group]
        px = [a.max_parallax for a in group]
        border = [a.border_spoof for a in group]
        both = [a and not b for a, b in zip(act, border, strict=True)]
        one_both = [a and not b for a, b in zip(one, border, strict=True)]
        clear = [a.clear for a in group]
        pdeny = [a.passive_spoof for a in group]
        kiosk = [a and not b and not q for a, b, q in zip(act, border, pdeny, strict=True)]
        if any(a.passive_mean is not None for a in group):
            print(
                f"  {kind_name:11s} the passive model alone denies {rate(pdeny):>16s}; with the "
                f"border cue and the passive model (the kiosk) accepted {rate(kiosk):>14s}"
            )
        print(
            f"  {kind_name:11s} APCER {names[0]} {rate(act):>16s}   ({names[1]} done "
            f"{rate(one):>16s})   with the border cue {rate(both):>14s} ({rate(one_both)})"
            f"   on one clear turn {sum(clear)}"
        )
        print(
            f"  {'':11s} passive mode {rate(pas):>16s}   border cue alone denies "
            f"{rate(border):>16s}   3-D motion test without a prompt (not used) "
            f"{rate(mot):>16s}   max parallax median {statistics.median(px):.3f} "
            f"max {max(px):.3f}"
        )
        out[kind_name] = {
            "attempts": len(group),
            "moves": count,
            "apcer": sum(act) / len(group),
            "accepted": sum(act),
            "accepted_on_one_clear_turn": sum(clear),
            "first_move_done": sum(one),
            "accepted_with_border": sum(both),
            "passive_denied": sum(pdeny),
            "accepted_with_border_and_passive": sum(kiosk),
            "first_move_done_with_border": sum(one_both),
            "apcer_passive_mode": sum(pas) / len(group),
            "accepted_passive_mode": sum(pas),
            "border_denied": sum(border),
            "apcer_motion_without_prompt": sum(mot) / len(group),
            "max_parallax_median": statistics.median(px),
            "max_parallax_max": max(px),
            "strategies": dict(Counter(a.strategy for a in group)),
        }
    act_all = [a.active_live for a in attempts]
    one_all = [a.done >= 1 for a in attempts]
    pas_all = [a.passive_live for a in attempts]
    print(
        f"  all kinds   APCER {names[0]} {rate(act_all):>16s}   ({names[1]} done "
        f"{rate(one_all):>16s})   passive mode {rate(pas_all):>16s}"
    )
    out["moves"] = count
    out["accepted"] = sum(act_all)
    out["accepted_on_one_clear_turn"] = sum(a.clear for a in attempts)
    out["clear_turns_refused_by_the_passive_score"] = sum(a.clear_refused for a in attempts)
    if out["clear_turns_refused_by_the_passive_score"]:
        print(
            f"  clear first turns the passive score did not let end the check: "
            f"{out['clear_turns_refused_by_the_passive_score']}"
        )
    out["first_move_done"] = sum(one_all)
    # the combined 3-D score on the frames whose landmarks turned the asked way
    limit = COMBINATION.threshold
    scores = [f for a in attempts for f in a.turned_scores]
    counted = sum(f >= limit for f in scores)
    if scores:
        print(
            f"  3-D score: {len(scores)} frames of "
            f"{sum(bool(a.turned_scores) for a in attempts)} attempts turned the asked way "
            f"by their landmarks; {counted} of them scored {limit:.1f} or more (counts); "
            f"highest {max(scores):.2f}, median {statistics.median(scores):.2f}"
        )
    # a move counts on two frames in a row: the highest score that two successive
    # turned frames of one attempt both reached (frames between them that did not turn
    # the asked way are skipped, so this is at least the two-in-a-row figure)
    pair = max(
        (
            min(x, y)
            for a in attempts
            for x, y in zip(a.turned_scores, a.turned_scores[1:], strict=False)
        ),
        default=None,
    )
    if pair is not None:
        print(f"  highest score of two successive turned frames of one attempt: {pair:.2f}")
    out["scores"] = {
        "threshold": limit,
        "highest_pair": pair,
        "turned_frames": len(scores),
        "attempts_with_turned_frames": sum(bool(a.turned_scores) for a in attempts),
        "frames_counted": counted,
        "highest": max(scores, default=None),
        "attempts_with_a_move_counted": sum(a.done >= 1 for a in attempts),
    }
    reasons = Counter(a.reason.split(";")[0].split(" (")[0] for a in attempts if not a.active_live)
    out["reasons"] = dict(reasons)
    print("  why denied: " + ", ".join(f"{k} ({v})" for k, v in reasons.most_common()))
    return out
