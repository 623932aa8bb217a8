"""Genuine answers to the challenge, simulated from the head turns of the genuine clips,
and judged by person: part of ``python -m tools.liveness.evaluate``.

A turn's direction and extent are found from the single-frame yaw (the nose's offset from
the middle of eyes and mouth, not the parallax the check uses; :func:`find_turns`), and a
challenge ``m1, m2`` is answered by the frames of a turn ``m1`` followed by those of a turn
``m2`` (from the rest before each turn to the rest after). A turn with no frame at rest
before it (it starts with the clip, or right after another turn) cannot be simulated: it
is skipped and counted.

**The second try.** An answer rejected at the first try is given the person's next turns
in the clip (the first later turn and the first turn after it the other way: the person
answers the new challenge with the turns they make next), fed to the same check after
the first try's frames: the check itself asks the new challenge (``tries``). An answer
with no later turns in its clip has no second try and is left out of the figure within
two tries (counted).

**By person.** Each clip's answers are judged by a combination fitted without *any* clip
of its person (``tools.liveness.fit fit --held-out``, leave-one-person-out: two clips of
one man must not judge each other); figures are given by turn size and separately for
clips before a plain wall and before a textured background.

The time is from the first prompt to acceptance, plus ``reaction`` seconds for each
prompt read (one per try: the first prompt names both turns, and the turns follow one
another).
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from kiosk.config import LivenessSettings
from kiosk.domain.stats import upper_bound
from kiosk.liveness.check import ActiveLiveness
from kiosk.liveness.cues import Border
from kiosk.liveness.evidence import Combination
from kiosk.liveness.passive import Cadence
from tools.liveness.frames import Seen, Turn, background_of, find_turns, person_of
from tools.liveness.moves import FixedMoves

#: turn sizes by the single-frame yaw peak (find_turns): deliberate turns, and the 15 to 25
#: degree turns most people make when asked to "turn your head"
SIZES = (("deliberate", 0.15, 9.0), ("15-25 degrees", 0.10, 0.15))


@dataclass(frozen=True)
class Answer:
    """One simulated answer: its clip, the moves asked, the turns that answered them (and
    those of the second try, if one was needed and the clip has them), the outcome at the
    first try and within two (None: no second try in the clip), and the times."""

    clip: str
    moves: tuple[str, ...]
    turns: tuple[Turn, ...]
    first: bool
    seconds: float | None  # prompt to acceptance at the first try
    detail: str
    second_turns: tuple[Turn, ...] = ()
    within_two: bool | None = None
    seconds_two: float | None = None  # prompt to acceptance within two tries
    tries_used: int = 1


def genuine_answers(
    clips: dict[str, list[Seen]],
    turns: list[Turn],
    settings: LivenessSettings,
    threshold: float,
    held_out: dict[str, Combination] | None = None,
    level: str = "normal",
) -> tuple[list[Answer], int]:
    """Every challenge of ``settings.count`` moves answered by every combination of turns
    of the asked directions in one clip (one person), with a second try from the clip's
    next turns where the first fails; and the number of answers skipped because a turn had
    no frame at rest before it."""
    by_clip: dict[str, dict[str, list[Turn]]] = defaultdict(lambda: defaultdict(list))
    in_order: dict[str, list[Turn]] = defaultdict(list)
    for turn in turns:
        by_clip[turn.clip][turn.direction].append(turn)
        in_order[turn.clip].append(turn)
    out: list[Answer] = []
    skipped = spliced = 0
    for clip, directions in by_clip.items():
        seen = clips[clip]
        for moves in _sequences(settings.move_names, settings.count):
            options = [directions.get(m, []) for m in moves]
            if any(not o for o in options):
                continue
            for combo in _product(options):
                # the first turn needs frames at rest before it (the reference); a later
                # one may follow the previous turn directly, as people do
                if combo[0].rest >= combo[0].start or any(t.start < 1 for t in combo):
                    skipped += 1
                    continue
                if not _joins(seen, combo):
                    spliced += 1
                    continue
                out.append(
                    _judge(
                        seen,
                        clip,
                        moves,
                        combo,
                        in_order[clip],
                        settings,
                        threshold,
                        held_out,
                        level,
                    )
                )
    return out, skipped + spliced


def _joins(seen: list[Seen], combo: tuple[Turn, ...]) -> bool:
    """Turns from two parts of a clip can be put one after the other only where the face
    is about where it was (a person who moved between them would make the spliced frames
    jump, which the check rightly takes for another face): the landmarks' centre within
    a quarter of the eye distance, the size within 20 %."""
    for a, b in itertools.pairwise(combo):
        p, q = seen[a.end].points, seen[b.start - 1].points
        width = max(float(np.linalg.norm(p[1] - p[0])), 1e-6)
        moved = float(np.linalg.norm(p.mean(axis=0) - q.mean(axis=0))) / width
        size = float(np.linalg.norm(q[1] - q[0])) / width
        if moved > 0.25 or not 0.8 <= size <= 1.25:
            return False
    return True


def _judge(
    seen: list[Seen],
    clip: str,
    moves: tuple[str, ...],
    combo: tuple[Turn, ...],
    ordered: list[Turn],
    settings: LivenessSettings,
    threshold: float,
    held_out: dict[str, Combination] | None,
    level: str,
) -> Answer:
    live, seconds, detail, _ = _run(
        seen, clip, [(moves, combo)], settings, threshold, held_out, level
    )
    if live:
        return Answer(clip, moves, combo, True, seconds, detail, (), True, seconds, 1)
    if settings.tries == 1:  # no second try: rejected within two as well
        return Answer(clip, moves, combo, False, None, detail, (), False)
    second = next_turns(ordered, combo, settings.count)
    if second is None:
        return Answer(clip, moves, combo, False, None, detail)
    moves2 = tuple(t.direction for t in second)
    live2, seconds2, detail2, tries = _run(
        seen, clip, [(moves, combo), (moves2, second)], settings, threshold, held_out, level
    )
    return Answer(clip, moves, combo, False, None, detail2, second, live2, seconds2, tries)


def next_turns(ordered: list[Turn], combo: tuple[Turn, ...], count: int) -> tuple[Turn, ...] | None:
    """The turns a person makes next, after ``combo``'s: the first later turn, then the
    first after it the other way (a challenge never asks the same move twice in a row);
    None when the clip has no such turns (or one cannot be simulated)."""
    last = max(t.end for t in combo)
    later = [t for t in ordered if t.start > last]
    chosen: list[Turn] = []
    for t in later:
        if len(chosen) == count:
            break
        if chosen and (t.direction == chosen[-1].direction or t.start <= chosen[-1].end):
            continue
        chosen.append(t)
    return tuple(chosen) if len(chosen) == count else None


def _run(
    seen: list[Seen],
    clip: str,
    tries: list[tuple[tuple[str, ...], tuple[Turn, ...]]],
    settings: LivenessSettings,
    threshold: float,
    held_out: dict[str, Combination] | None,
    level: str,
) -> tuple[bool, float | None, str, int]:
    """Feed the check the frames at rest before the first turn, then every try's turns
    one after the other; returns (accepted, seconds from the prompt, the log's detail,
    the tries used)."""
    first = tries[0][1][0]
    before = seen[first.rest : first.start]
    frames: list[Seen] = []
    t = before[-1].time
    for _, combo in tries:
        for turn in combo:
            # the prompt comes while the head is still at rest: its last frame at rest is
            # seen once more after the prompt (the person's reaction), then the turn (a
            # turn must start after the prompt to count)
            part = [seen[turn.start - 1], *seen[turn.start : turn.end + 1]]
            step = part[1].time - part[0].time if len(part) > 1 else 0.125
            t0 = part[0].time - step  # continue one frame after the last one
            frames += [replace(s, time=t + (s.time - t0)) for s in part]
            t = frames[-1].time
    drawn = [m for moves, _ in tries for m in moves]
    check = ActiveLiveness(settings, FixedMoves(*drawn), identity_threshold=threshold, level=level)
    if held_out and clip in held_out:
        check.rules = replace(check.rules, combination=held_out[clip])
    cadence = Cadence()
    for s in before:
        _observe(check, s, cadence)
    verdict = check.assess()
    start = end = before[-1].time
    for s in frames:
        _observe(check, s, cadence)
        verdict = check.assess()
        end = s.time
        if not verdict.pending:
            break
    used = check.tries_used
    if verdict.pending or not verdict.live:
        return False, None, verdict.detail or "not enough", used
    return True, round(end - start, 2), verdict.detail, used


def _observe(check: ActiveLiveness, s: Seen, cadence: Cadence) -> None:
    """One frame of an answer into the check, with the border cue and, when the clip was
    scored (``--passive``), the passive model's score of the frames the kiosk would
    score (``cadence``)."""
    sides = Border(frozenset(("left", "right", "top", "bottom")[: s.border]))
    passive = s.passive if s.passive is not None and cadence.due(s.time) else None
    check.observe_points(s.time, s.points, s.embedding, sides, s.grey, s.box, passive)


def _sequences(pool: tuple[str, ...], count: int) -> Iterator[tuple[str, ...]]:
    """The challenges that can be drawn (never the same move twice in a row)."""
    if count == 0:
        yield ()
        return
    for first in pool:
        for rest in _sequences(pool, count - 1):
            if not rest or rest[0] != first or len(pool) == 1:
                yield (first, *rest)


def _product(options: list[list[Turn]]) -> Iterator[tuple[Turn, ...]]:
    if not options:
        yield ()
        return
    for first in options[0]:
        for rest in _product(options[1:]):
            if first in rest:
                continue  # one turn answers one move
            yield (first, *rest)


# --- the report -------------------------------------------------------------------------


def _rate(k: int, n: int) -> str:
    if not n:
        return "n/a"
    return f"{k}/{n} ({100.0 * k / n:.1f} %, at most {100.0 * upper_bound(k, n):.0f} %)"


def genuine_report(
    clips: dict[str, list[Seen]],
    kinds_of: dict[str, str],
    variants: list[tuple[str, LivenessSettings, str]],
    threshold: float,
    held_out: dict[str, Combination] | None,
    reaction: float,
) -> dict[str, Any]:
    """BPCER at the first try and within two, and the time added at the door, for each
    rule, by turn size and by background (plain wall or textured)."""
    out: dict[str, Any] = {}
    turns: list[Turn] = []
    for name, seen in clips.items():
        if kinds_of[name] == "genuine":
            turns += find_turns(name, seen, min_peak=0.10)
    counts = Counter(t.clip for t in turns)
    people = sorted({person_of(c) for c in counts})
    print(
        f"genuine answers from the head turns of {len(counts)} clips of {len(people)} people "
        "(single-frame yaw peak >= 0.10): "
        + ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
        + (" (each judged by a combination fitted without its person)" if held_out else "")
    )
    for rule, settings, level in variants:
        for label, low, high in SIZES:
            sized = [t for t in turns if low <= t.peak < high]
            answers, skipped = genuine_answers(clips, sized, settings, threshold, held_out, level)
            entry: dict[str, Any] = {"moves": settings.count, "tries": settings.tries}
            for ground in ("all", "textured", "plain"):
                group = [a for a in answers if ground == "all" or background_of(a.clip) == ground]
                entry[ground] = _figures(group, reaction)
            entry["skipped"] = skipped
            entry["details"] = [
                {
                    "clip": a.clip,
                    "person": person_of(a.clip),
                    "moves": list(a.moves),
                    "turns": [(t.start, t.end, t.direction, round(t.peak, 3)) for t in a.turns],
                    "first": a.first,
                    "within_two": a.within_two,
                    "seconds": a.seconds,
                    "seconds_two": a.seconds_two,
                    "detail": a.detail,
                }
                for a in answers
            ]
            out[f"{rule}/{label}"] = entry
            for ground in ("all", "textured", "plain"):
                f = entry[ground]
                print(
                    f"  {rule}, {label} turns, {ground} background: first try rejected "
                    f"{_rate(f['rejected_first'], f['answers'])}; within two tries "
                    f"{_rate(f['rejected_two'], f['answers_two'])} ({f['no_second']} without a "
                    f"second try in the clip); {f['people']} people; median time added "
                    f"{f['median_first']:.2f} s at the first try, {f['median_all']:.2f} s "
                    f"over every acceptance"
                )
            if skipped:
                print(
                    f"    ({skipped} answers skipped: a first turn with no frame at rest before "
                    "it, or turns from parts of the clip where the face was not in one place)"
                )
            if level == "normal" and settings.count > 1 and settings.one_clear_turn:
                at_once = clear_at_once(clips, sized, settings, threshold, held_out)
                entry["clear_at_once"] = at_once
                print(
                    f"    single turns that end the check at once (one clear turn): "
                    f"{at_once['clear']} of {at_once['turns']} ({at_once['people']} people), "
                    f"median {at_once['median']:.2f} s with the reaction; "
                    f"{at_once['refused']} more were clear but not vouched for by the passive "
                    "model"
                )
    return out


def clear_at_once(
    clips: dict[str, list[Seen]],
    turns: list[Turn],
    settings: LivenessSettings,
    threshold: float,
    held_out: dict[str, Combination] | None,
    reaction: float = 0.5,
) -> dict[str, Any]:
    """Under one clear turn or two: how many single turns end the check on their own (the
    person is done after one turn), with the time; every turn with a frame at rest before
    it counts, so this has more answers than the two-turn simulation."""
    clear = refused = 0
    times: list[float] = []
    judged: list[Turn] = []
    for turn in turns:
        if turn.rest >= turn.start or turn.start < 1:
            continue
        judged.append(turn)
        other = "right" if turn.direction == "left" else "left"
        moves = (turn.direction, other)
        seen = clips[turn.clip]
        live, seconds, detail, _ = _run(
            seen, turn.clip, [(moves, (turn,))], settings, threshold, held_out, "normal"
        )
        if live and seconds is not None and "one clear turn" in detail:
            clear += 1
            times.append(seconds + reaction)
        else:
            # the score's value ignored (any score over the denial's threshold vouches)
            vouch = replace(settings, passive_clear_above=settings.passive_fake_below + 1e-9)
            again, _, detail2, _ = _run(
                seen, turn.clip, [(moves, (turn,))], vouch, threshold, held_out, "normal"
            )
            refused += again and "one clear turn" in detail2
    return {
        "turns": len(judged),
        "people": len({person_of(t.clip) for t in judged}),
        "clear": clear,
        "refused": refused,
        "median": statistics.median(times) if times else float("nan"),
    }


def _figures(answers: list[Answer], reaction: float) -> dict[str, Any]:
    rejected_first = sum(not a.first for a in answers)
    judged_two = [a for a in answers if a.within_two is not None]
    rejected_two = sum(not a.within_two for a in judged_two)
    first_times = [a.seconds + reaction for a in answers if a.first and a.seconds is not None]
    all_times = first_times + [
        a.seconds_two + reaction * a.tries_used
        for a in answers
        if not a.first and a.within_two and a.seconds_two is not None
    ]
    return {
        "answers": len(answers),
        "people": len({person_of(a.clip) for a in answers}),
        "rejected_first": rejected_first,
        "bpcer_first": rejected_first / max(len(answers), 1),
        "answers_two": len(judged_two),
        "rejected_two": rejected_two,
        "no_second": sum(not a.first and a.within_two is None for a in answers),
        "median_first": statistics.median(first_times) if first_times else float("nan"),
        "median_all": statistics.median(all_times) if all_times else float("nan"),
        "rejected_by_person": dict(Counter(person_of(a.clip) for a in answers if not a.first)),
    }
