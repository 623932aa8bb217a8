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
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.config import LivenessSettings, VisionSettings
from kiosk.liveness.check import (
    one_clear_turn,
)
from kiosk.liveness.cues import BORDER_SIDES_NEEDED
from kiosk.liveness.evidence import Combination
from kiosk.vision.antispoof import PassiveScorer
from kiosk.vision.pipeline import FacePipeline
from tools.liveness.clips import (
    border_stills,
    border_windows,
    motion_windows,
    passive_mode_windows,
    rate,
    replay_challenges,
)
from tools.liveness.frames import (
    Seen,
    faces_dir,
    read_clip_cached,
    same_face_threshold,
    with_passive_scores,
)
from tools.liveness.genuine import genuine_report
from tools.liveness.made import AttackAttempt, _attack_task, _init_worker, summarize


def load_held_out(path: Path) -> dict[str, Combination]:
    """The per-clip combinations written by ``tools.liveness.fit fit --held-out``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        clip: Combination(tuple(c["weights"]), c["bias"], c["threshold"])
        for clip, c in data["held_out"].items()
    }


def rule_variants(settings: LivenessSettings) -> list[tuple[str, LivenessSettings, str]]:
    """The challenges measured, with the security level each is asked at: one move, two
    moves (the rule at Secure and above; with the tries of ``settings``, and with one) and
    one clear turn or two (the default at Normal: the clear turn needs the passive model's
    word, so without ``--passive`` it is never enough)."""
    return [
        ("one move", replace(settings, count=1), "secure"),
        ("two moves", replace(settings, count=2, one_clear_turn=False), "secure"),
        ("two moves, one try", replace(settings, count=2, tries=1), "secure"),
        (
            "one clear turn or two (the default at Normal)",
            replace(settings, count=2, one_clear_turn=True),
            "normal",
        ),
    ]


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
        action=argparse.BooleanOptionalAction,
        default=LivenessSettings().one_clear_turn,
        help="made attacks: let one clear turn end the check, with a confidently real "
        "passive score (the default at Normal; --no-one-clear-turn: two turns)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--min-parallax", type=float, help="override the settings' min_parallax")
    ap.add_argument("--workers", type=int, default=1, help="processes for the made attacks")
    ap.add_argument("--skip-clips", action="store_true")
    ap.add_argument(
        "--passive",
        action="store_true",
        help="score the faces by the passive model too (made attacks, genuine clips and "
        "replays): its denial counted apart, and its word for one clear turn; without it, "
        "one clear turn never ends the check",
    )
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
    if one_clear_turn(settings, "normal") and not args.passive:
        print("without --passive nothing vouches for one clear turn: two turns are measured")
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
        with ctx.Pool(args.workers, _init_worker, (args.faces, args.threads, args.passive)) as pool:
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
        if args.passive:
            scorer = PassiveScorer()
            scorer.load()
        root = args.faces / "video" / "liveness"
        clips: dict[str, list[Seen]] = {}
        kinds_of: dict[str, str] = {}
        for path in sorted(root.glob("*/*")):
            if path.suffix.lower() not in (".mp4", ".mpg", ".avi", ".webm", ".mov", ".gif"):
                continue
            clips[path.name] = read_clip_cached(pipeline, path, args.fps, args.cache)
            if args.passive:  # the passive model's scores, for the checks fed these frames
                clips[path.name] = with_passive_scores(
                    path, clips[path.name], args.fps, scorer.score, args.cache
                )
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
                    kiosk = (
                        replay_challenges(
                            seen, counted, rng, threshold, True, level=level, passive_denies=True
                        )
                        if args.passive
                        else []
                    )
                    entry[f"replay/{rule}"] = {
                        "attempts": len(alone),
                        "accepted_challenge_alone": sum(alone),
                        "accepted_with_border": sum(full),
                        "accepted_with_border_and_passive": sum(kiosk) if args.passive else None,
                    }
                    line += (
                        f"\n  {'':30s} replayed against {rule}: accepted "
                        f"{rate(alone)} by the challenge alone, {rate(full)} with the border cue"
                        + (f", {rate(kiosk)} with the passive model too" if args.passive else "")
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
