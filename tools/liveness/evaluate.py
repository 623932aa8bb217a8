"""Measure the liveness check: ``python -m tools.liveness.evaluate [--json out.json]``
(from the repository's root).

In ISO/IEC 30107-3 terms, APCER (attacks accepted / attacks) per kind of attack and
BPCER (genuine attempts rejected / genuine attempts), over:

1. made attacks: photos from ``<faces>/deepface``, ``face_recognition`` and ``lfw_dev``
   rendered as a flat print, a bent print, a phone screen and a tablet screen held up to
   a camera, moved, tilted in 3-D, rotated, brought closer and further, with blur, noise,
   glare and JPEG, by an attacker who follows the prompt (tilting the picture the asked
   way or the other way), swings it, or just holds it; through the real pipeline (MTCNN
   landmarks, embeddings) and the real active challenge. On the same frames, each apart:
   the border cue (a picture's edges around the face) over the attempt, the passive mode
   (the border cue on the first frames), and the 3-D motion test without a prompt (a cue
   measured and not kept). Only attempts whose first frames match the photo's own
   template (an attack that is not even recognised never reaches the liveness check) are
   counted;
2. the real clips in ``<faces>/video/liveness``: the same cues over attempts starting
   every second of each clip (genuine and attack), the active challenge against the
   attack clips (a replay cannot answer a random challenge, except by luck), and the
   border cue on the stills and on the portraits of ``deepface`` and ``face_recognition``
   (live scenes: a frame found there is a false alarm);
3. genuine answers to challenges, simulated from the head turns in the genuine clips: a
   turn's direction and extent are found from the single-frame yaw (the nose's offset
   from the middle of eyes and mouth, not the parallax the check uses), and a challenge
   ``m1, m2`` is answered by the frames of a turn ``m1`` followed by those of a turn
   ``m2`` (from the rest before each turn to the rest after). The time is from the
   prompt to acceptance; the person's reaction time to the prompt is not in the clips
   and is added as ``--reaction`` seconds, once: the prompt shows every move in order,
   and the turns follow one another.

Prints figures; ``--json`` writes them too. Slow-ish: about 3 minutes per 100 made
attacks on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.config import LivenessSettings, VisionSettings
from kiosk.domain.faces import Box
from kiosk.liveness.challenge import COMBINATION, ChallengeRules
from kiosk.liveness.check import (
    PASSIVE_FRAMES,
    ActiveLiveness,
    BorderWatch,
    one_clear_turn,
    rules_from,
)
from kiosk.liveness.cues import BORDER_SIDES_NEEDED, Border
from kiosk.liveness.evidence import Combination
from kiosk.liveness.geometry import Points, parallax, tilt
from kiosk.vision.imageio import load_image
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
from tools.liveness.frames import (
    Photo,
    Seen,
    attack_photos,
    faces_dir,
    look,
    read_clip_cached,
    same_face_threshold,
    same_person_threshold,
)
from tools.liveness.genuine import genuine_report

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
    #: accepted on one clear turn (the opt-in rule at Normal), without the other moves
    clear: bool = False


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
) -> AttackAttempt:
    """One made attack against the active challenge (``threshold``: the vision threshold,
    under which the first frames must match the photo's own template, as the kiosk's
    gallery search would)."""
    camera = Camera(*size, fov_deg=rng.uniform(55, 75))
    medium = make_medium(photo.rgb, photo.face, kind, rng)
    attacker = Attacker(camera, medium, strategy, rng)
    scene = background(size[0], size[1], rng, photo.rgb if rng.random() < 0.3 else None)
    effects = CameraEffects(rng, size[0], size[1])
    attempt = AttackAttempt(kind.value, strategy.value, photo.path.name, reached=False)
    # the challenge and the 3-D test without the border cue, which is counted apart
    # (``border_spoof``) so that each is measured on its own
    rules = rules_from(settings)  # the kiosk's rules (with the border cue on)
    settings = replace(settings, border_check=False)
    active = ActiveLiveness(
        settings, random.Random(rng.getrandbits(32)), identity_threshold=same_face_threshold()
    )
    active.rules = rules
    passive = SpontaneousMotion(settings)
    watch = BorderWatch(True)

    def count(seen: Seen) -> None:
        watch.add_sides(seen.border)
        attempt.frames, attempt.framed = watch.seen, watch.framed
        attempt.border_spoof = attempt.border_spoof or watch.spoof

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
        active.observe_points(seen.time, seen.points, seen.embedding, image=seen.grey, box=seen.box)
        passive.observe_points(seen.time, seen.points)
        count(seen)
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
            active.observe_points(
                seen.time, seen.points, seen.embedding, image=seen.grey, box=seen.box
            )
            passive.observe_points(seen.time, seen.points)
            count(seen)
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
    if not passive_done:  # the challenge ended first: the motion test had the frames so far
        attempt.motion_live = passive.live
    # the passive mode answers at the first recognition, after the frames before the prompt
    attempt.passive_live = not first_border_spoof
    return attempt


_WORKER: dict[str, Any] = {}
KINDS = list(AttackKind)
STRATEGIES = [Strategy.FOLLOW] * 6 + [Strategy.SWING] * 3 + [Strategy.HANDHELD]


def _init_worker(faces: Path, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    pipeline = FacePipeline.load(VisionSettings(device="cpu"))
    _WORKER["pipeline"] = pipeline
    _WORKER["photos"] = attack_photos(faces, pipeline)
    _WORKER["threshold"] = same_person_threshold()


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
        )
        if attempt.reached:
            return attempt, misses
        misses += 1


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


def _observe(check: ActiveLiveness, s: Seen, border: bool = False) -> None:
    """One frame of a clip into the active check (``border``: with the border cue)."""
    sides = Border(frozenset(SIDES[: s.border])) if border else None
    check.observe_points(s.time, s.points, s.embedding, sides, s.grey, s.box)


SIDES = ("left", "right", "top", "bottom")


def replay_challenges(
    seen: list[Seen],
    settings: LivenessSettings,
    rng: random.Random,
    threshold: float,
    border: bool = False,
    stride: float = 0.5,
    level: str = "normal",
) -> list[bool]:
    """A clip played back as the answer to a random challenge, starting every ``stride``
    seconds (as if the attacker pressed play just before the prompt); ``border``: the
    border cue is on too (as in the kiosk), otherwise the challenge alone."""
    out = []
    k = 0
    while k + 3 < len(seen):
        check = ActiveLiveness(
            settings, random.Random(rng.getrandbits(32)), identity_threshold=threshold, level=level
        )
        for s in seen[k : k + 3]:
            _observe(check, s, border)
        verdict = check.assess()
        for s in seen[k + 3 :]:
            _observe(check, s, border)
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


def load_held_out(path: Path) -> dict[str, Combination]:
    """The per-clip combinations written by ``tools.liveness.fit fit --held-out``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        clip: Combination(tuple(c["weights"]), c["bias"], c["threshold"])
        for clip, c in data["held_out"].items()
    }


def rule_variants(settings: LivenessSettings) -> list[tuple[str, LivenessSettings, str]]:
    """The challenges measured, with the security level each is asked at: one move, two
    moves (the default, at every level; with the tries of ``settings``, and with one) and
    one clear turn or two (the opt-in, Normal)."""
    return [
        ("one move", replace(settings, count=1), "secure"),
        ("two moves (the default)", replace(settings, count=2), "secure"),
        ("two moves, one try", replace(settings, count=2, tries=1), "secure"),
        (
            "one clear turn or two (Normal, one_clear_turn on)",
            replace(settings, count=2, one_clear_turn=True),
            "normal",
        ),
    ]


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


# --- the report -----------------------------------------------------------------


def rate(flags: list[bool]) -> str:
    n = len(flags)
    k = sum(flags)
    return f"{k}/{n} = {100.0 * k / n:.1f} %" if n else "n/a"


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", type=Path, default=faces_dir(), help="the shared faces folder")
    ap.add_argument("--attempts", type=int, default=1000, help="made attacks (default 1000)")
    ap.add_argument("--fps", type=float, default=8.0, help="frames a second the check sees")
    ap.add_argument("--size", default="480x360", help="made attack frame size (WxH)")
    ap.add_argument(
        "--embed-every",
        type=int,
        default=0,
        help="made attacks: embed every Nth challenge frame for the identity re-check "
        "(default 0: never, which can only let more attacks through, and is faster)",
    )
    ap.add_argument(
        "--reaction",
        type=float,
        default=0.5,
        help="seconds a person takes to react to the prompt (once: it shows every move), "
        "added to the genuine answers' time (default 0.5)",
    )
    ap.add_argument("--log", type=Path, help="append each made attack here as a JSON line")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--moves",
        type=int,
        default=LivenessSettings().count,
        help="moves the made attacks are asked (default: the settings' default, "
        f"{LivenessSettings().count}); the clips are measured under the three rules "
        "(one move, two, one clear turn or two)",
    )
    ap.add_argument(
        "--clear-margin",
        type=float,
        default=LivenessSettings().clear_margin,
        help="made attacks: the 3-D margin two turns must reach together, and one clear "
        f"turn alone with --one-clear-turn (default {LivenessSettings().clear_margin}; 0: off)",
    )
    ap.add_argument(
        "--one-clear-turn",
        action="store_true",
        help="made attacks: let one clear turn end the check (the opt-in Normal rule)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--min-parallax", type=float, help="override the settings' min_parallax")
    ap.add_argument("--workers", type=int, default=1, help="processes for the made attacks")
    ap.add_argument("--skip-clips", action="store_true")
    ap.add_argument(
        "--genuine-only",
        action="store_true",
        help="of the clips, only the genuine answers (no passive cues, replays or stills)",
    )
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument(
        "--held-out",
        type=Path,
        help="the combinations of 3-D cues fitted without each genuine clip "
        "(python -m tools.liveness.fit fit --held-out FILE): each genuine clip is judged by "
        "the one that did not see it; without it, by the shipped one (in-sample)",
    )
    ap.add_argument("--cache", type=Path, help="keep the clips read through the pipeline here")
    ap.add_argument(
        "--summarize",
        type=Path,
        nargs="+",
        metavar="LOG",
        help="only print the made attacks' figures from --log files of earlier runs",
    )
    args = ap.parse_args(argv)
    if args.summarize:
        rows = [
            json.loads(line)
            for path in args.summarize
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        misses = sum(int(r.pop("misses", 0)) for r in rows)
        print(f"made attacks from {len(args.summarize)} log(s): {len(rows)} attempts")
        summary = summarize([AttackAttempt(**r) for r in rows], misses, args.moves)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return 0

    import torch

    torch.set_num_threads(args.threads)
    threshold = same_face_threshold()
    held_out = load_held_out(args.held_out) if args.held_out else None
    settings = LivenessSettings(
        mode="active",
        count=args.moves,
        clear_margin=args.clear_margin,
        one_clear_turn=args.one_clear_turn,
    )
    if args.min_parallax is not None:
        settings = replace(settings, min_parallax=args.min_parallax)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    assert len(size) == 2
    rng = random.Random(args.seed)
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "settings": settings.__dict__,
        "fps": args.fps,
        "frame_size": list(size),
    }
    clear = (
        f", one clear turn at {settings.clear_margin:g} above"
        if one_clear_turn(settings, "normal")
        else f", together {settings.clear_margin:g} above"
    )
    print(
        f"liveness: {settings.count} moves{clear} from {settings.moves}, "
        f"{settings.time_limit_seconds:.0f} s, min parallax {settings.min_parallax:.2f}, "
        f"{args.fps:g} frames/s"
    )

    # 1. made attacks (in worker processes, each with its own pipeline and photos)
    if args.attempts > 0:
        tasks = [
            (i, args.seed * 1_000_003 + i, settings, size, args.fps, args.embed_every)
            for i in range(args.attempts)
        ]
        attempts: list[AttackAttempt] = []
        skipped = 0
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.workers, _init_worker, (args.faces, args.threads)) as pool:
            for attempt, misses in pool.imap(_attack_task, tasks):
                attempts.append(attempt)
                skipped += misses
                if args.log:
                    with args.log.open("a", encoding="utf-8") as log:
                        log.write(json.dumps({**attempt.__dict__, "misses": misses}) + "\n")
                if len(attempts) % 100 == 0:
                    accepted = sum(a.active_live for a in attempts)
                    print(f"  {len(attempts)} attempts, {accepted} accepted", flush=True)
        print(
            f"made attacks: {len(attempts)} attempts that were recognised "
            f"({skipped} more renders not recognised, not counted)"
        )
        report["made_attacks"] = summarize(attempts, skipped, settings.count)

    # 2 and 3. the real clips
    if not args.skip_clips:
        pipeline = FacePipeline.load(VisionSettings(device="cpu"))
        root = args.faces / "video" / "liveness"
        clips: dict[str, list[Seen]] = {}
        kinds_of: dict[str, str] = {}
        for path in sorted(root.glob("*/*")):
            if path.suffix.lower() not in (".mp4", ".mpg", ".avi", ".webm", ".mov", ".gif"):
                continue
            clips[path.name] = read_clip_cached(pipeline, path, args.fps, args.cache)
            kinds_of[path.name] = path.parent.name
        print(
            "real clips (attempts starting every second; 'motion': the 3-D motion test "
            f"without a prompt over {settings.time_limit_seconds:.0f} s, not used by the kiosk)"
        )
        report["clips"] = {}
        by_kind: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for name, seen in clips.items():
            if args.genuine_only:
                break
            kind = kinds_of[name]
            motion = motion_windows(seen, settings)
            passive = passive_mode_windows(seen)
            framed = [x.border >= BORDER_SIDES_NEEDED for x in seen]
            border = border_windows(seen, settings.time_limit_seconds)
            entry: dict[str, Any] = {
                "kind": kind,
                "frames_with_face": len(seen),
                "frames_framed": sum(framed),
                "passive_mode_attempts": len(passive),
                "passive_mode_live": sum(passive),
                "border_attempts_denied": sum(border),
                "border_attempts": len(border),
                "motion_windows": len(motion),
                "motion_live": sum(motion),
            }
            line = (
                f"  {kind:7s} {name:22s} passive mode lets in {rate(passive):>16s}   "
                f"frames framed {rate(framed):>16s}   motion judged live {rate(motion):>16s}"
            )
            if kind != "genuine":
                for rule, counted, level in rule_variants(settings):
                    alone = replay_challenges(seen, counted, rng, threshold, level=level)
                    full = replay_challenges(
                        seen, counted, rng, threshold, border=True, level=level
                    )
                    entry[f"replay/{rule}"] = {
                        "attempts": len(alone),
                        "accepted_challenge_alone": sum(alone),
                        "accepted_with_border": sum(full),
                    }
                    line += (
                        f"\n  {'':30s} replayed against {rule}: accepted "
                        f"{rate(alone)} by the challenge alone, {rate(full)} with the border cue"
                    )
            for key, flags in (("passive", passive), ("border", border), ("motion", motion)):
                by_kind[kind][key] += flags
            report["clips"][name] = entry
            print(line)
        genuine, attack = by_kind["genuine"], by_kind["attack"]
        cues: dict[str, tuple[str, list[bool], list[bool]]] = {
            "passive_mode": (
                "passive mode (the border cue on the first frames)",
                [not x for x in genuine["passive"]],
                attack["passive"],
            ),
            "border_in_active": (
                f"the border cue over a {settings.time_limit_seconds:.0f} s active attempt",
                genuine["border"],
                [not x for x in attack["border"]],
            ),
            "motion_without_prompt": (
                "the 3-D motion test without a prompt (not used)",
                [not x for x in genuine["motion"]],
                attack["motion"],
            ),
        }
        for key, (what, no, yes) in cues.items():
            print(f"  {what}: BPCER {rate(no)}, APCER {rate(yes)}")
            report[key] = {
                "bpcer": sum(no) / max(len(no), 1),
                "genuine_attempts": len(no),
                "apcer": sum(yes) / max(len(yes), 1),
                "attack_attempts": len(yes),
            }
        if not args.genuine_only:
            report["border_stills"] = border_stills(pipeline, args.faces)

        report["genuine_challenges"] = genuine_report(
            clips, kinds_of, rule_variants(settings), threshold, held_out, args.reaction
        )
    report["seconds"] = time.perf_counter() - t_start
    print(f"took {report['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
