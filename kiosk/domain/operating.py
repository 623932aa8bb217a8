"""The door's operating point: a distance threshold chosen by measured false accepts.

A door searches every face against everyone enrolled, so each enrolled person is one more
chance for a stranger's look-alike: with ``N`` people and a per-person false match rate
``p``, a stranger is let in with probability ``1 - (1 - p) ** N`` (the FPIR, false
positive identification rate, per attempt). A security level names the FPIR a site
accepts; the threshold is then chosen, for the gallery's size, from ``p(t)`` measured on
the development photos (impostor comparisons: a photo of one person against the enrolled
templates of another). Nothing is extrapolated past those measurements: below the
distance where the measured curve has too few comparisons to resolve the rate (its
``floor``), the threshold stops falling, and the figures say so.

Strangers are measured on more than one population of probes: the development *photos*
and *camera frames* (real clips, and photos degraded as a door camera degrades them:
scale, blur, compression, light). Frames sit closer to everyone than photos do, so a
threshold chosen on photos alone is optimistic for what a camera sees.
:func:`choose_covering` takes the threshold that holds the level's target on every
population measured: the strictest of their thresholds.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kiosk.domain.stats import Rate, percent, upper_bound


@dataclass(frozen=True)
class Level:
    """A named security level.

    ``fpir``: the chance per attempt that a stranger is let in, as a target: the threshold
    is the largest at which the 95 % upper bound of that chance, measured on the
    development photos, stays within it. ``floor``: where the measurements are too few to
    show the target, the threshold stops falling at the point where this many impostor
    comparisons of the measured curve are accepted (0: below every one)."""

    key: str
    title: str
    fpir: float
    floor: int
    purpose: str
    #: the threshold of a smaller gallery is the one for this many people: the target
    #: per attempt spread over one or two people would let a look-alike of theirs in
    #: (strangers match some people far more often than the average one)
    min_people: int = 1


#: The smallest gallery a level's threshold is chosen for. A per-attempt target spread
#: over one or two enrolled people is a per-person rate some 24 times looser than over 24,
#: and strangers do not match people evenly: on camera frames, a few enrolled people drew
#: most of the strangers' near misses (``python -m tools.frames.calibrate``), and a stage
#: clip of strangers was let in as one of them at 1.06 under the 1.095 for two people.
#: Below 24 people the threshold is the one for 24 (Normal: 1.023 instead of up to 1.115),
#: which costs an enrolled person little: their frames sit far below it
#: (docs/measurements/accuracy.md).
MIN_PEOPLE = 24

LEVELS: dict[str, Level] = {
    "normal": Level(
        "normal",
        "Normal",
        1e-3,
        2,
        "a stranger let in on at most 1 attempt in 1,000 (the default for a door)",
        MIN_PEOPLE,
    ),
    "secure": Level(
        "secure",
        "Secure",
        1e-4,
        0,
        "at most 1 in 10,000; enrolled people are asked to look again more often",
        MIN_PEOPLE,
    ),
    "most-secure": Level(
        "most-secure",
        "Most secure",
        1e-5,
        0,
        "at most 1 in 100,000 where the measurements reach; slowest for enrolled people",
        MIN_PEOPLE,
    ),
}
DEFAULT_LEVEL = "normal"


@dataclass(frozen=True)
class DistanceCurve:
    """Measured distances of one network and scoring (see ``tools/calibrate.py``).

    ``impostor_tail``: the smallest impostor distances, sorted, out of
    ``impostor_comparisons`` in all; ``genuine``: every genuine distance, sorted."""

    network: str
    scoring: str
    model: str
    impostor_comparisons: int
    impostor_tail: tuple[float, ...]
    genuine: tuple[float, ...]
    #: (t, impostor distances <= t) on a coarse grid, for thresholds beyond the tail
    impostor_grid: tuple[tuple[float, int], ...] = ()
    #: what the probes were: "development photos" or "camera frames"
    population: str = "development photos"

    def impostors_within(self, threshold: float) -> int:
        """Impostor comparisons at or under ``threshold``: exact within the stored tail;
        beyond it, the count at the next grid point up (never an under-count)."""
        tail = self.impostor_tail
        if tail and threshold < tail[-1]:
            return bisect.bisect_right(tail, threshold)
        for t, count in self.impostor_grid:
            if t >= threshold:
                return max(count, len(tail))
        return self.impostor_comparisons

    def genuine_over(self, threshold: float) -> int:
        return len(self.genuine) - bisect.bisect_right(self.genuine, threshold)

    def threshold_accepting(self, events: int) -> float:
        """The threshold halfway between the ``events``-th and the next smallest impostor
        distance: exactly ``events`` comparisons are accepted."""
        tail = self.impostor_tail
        if not tail:
            raise ValueError("an empty distance curve")
        if events <= 0:
            return tail[0] - 0.01  # below every impostor comparison measured
        if events >= len(tail):
            return tail[-1]
        return (tail[events - 1] + tail[events]) / 2


def fpir_for(per_person: float, people: int) -> float:
    """The chance that a stranger matches at least one of ``people`` enrolled people."""
    return 1.0 - (1.0 - min(max(per_person, 0.0), 1.0)) ** max(people, 1)


@dataclass(frozen=True)
class Evidence:
    """What one more population of probes (``population``) says at a threshold."""

    population: str
    impostor: Rate
    genuine_missed: Rate
    #: the threshold the level would give on this population alone
    own_threshold: float
    floored: bool


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold in force and what is known about it.

    ``source`` says where the threshold came from: ``level`` (chosen for the gallery's
    size) or ``explicit`` (a value set by an admin or in the configuration)."""

    threshold: float
    level: Level | None
    people: int
    source: str
    impostor: Rate  # impostor comparisons of the development photos accepted at threshold
    genuine_missed: Rate  # genuine comparisons of the development photos over threshold
    floored: bool  # the level's target could not be resolved: threshold held at the floor
    #: the same figures on the other populations measured (camera frames), at ``threshold``
    evidence: tuple[Evidence, ...] = ()
    #: the population whose curve set the threshold (the strictest one)
    limited_by: str = "development photos"
    #: the threshold the development photos alone would give (``None``: not chosen)
    photo_threshold: float | None = None
    #: the gallery size the threshold was chosen for (the level's smallest, if larger)
    sized_for: int = 0

    @property
    def expected_fpir(self) -> float:
        return max(fpir_for(r.value, self.people) for r in self._impostors())

    @property
    def fpir_bound(self) -> float:
        return max(
            fpir_for(upper_bound(r.events, r.trials), self.people) for r in self._impostors()
        )

    def _impostors(self) -> list[Rate]:
        return [self.impostor, *(e.impostor for e in self.evidence)]

    def fpir_text(self) -> str:
        """What a stranger's chance is, from what was measured (never a fitted tail): the
        worst of the populations measured, with each one's count."""
        who = f"{self.people:,} enrolled {'person' if self.people == 1 else 'people'}"
        base = (
            f"{self.impostor.events:,} of {self.impostor.trials:,} stranger comparisons on the "
            f"development photos"
        )
        for e in self.evidence:
            base += f" and {e.impostor.events:,} of {e.impostor.trials:,} on {e.population}"
        base += " accepted"
        if all(r.events == 0 for r in self._impostors()):
            return (
                f"A stranger let in: at most {percent(self.fpir_bound)} per attempt with {who} "
                f"({base})."
            )
        return (
            f"A stranger let in: about {percent(self.expected_fpir)} per attempt, at most "
            f"{percent(self.fpir_bound)}, with {who} ({base})."
        )


def choose_covering(
    curves: Sequence[DistanceCurve],
    people: int,
    level: Level | None,
    explicit: float | None = None,
) -> OperatingPoint:
    """The threshold that holds ``level``'s target on every population of ``curves``
    (the first is the development photos'): the strictest of the thresholds chosen on
    each; the figures of every population at that threshold come with it."""
    if not curves:
        raise ValueError("no distance curve")
    points = [choose(c, people, level, explicit) for c in curves]
    binding = min(range(len(points)), key=lambda i: points[i].threshold)
    threshold = points[binding].threshold
    first, rest = curves[0], curves[1:]
    evidence = tuple(
        Evidence(
            c.population,
            Rate(c.impostors_within(threshold), c.impostor_comparisons),
            Rate(c.genuine_over(threshold), len(c.genuine)),
            p.threshold,
            p.floored,
        )
        for c, p in zip(rest, points[1:], strict=True)
    )
    return replace(
        points[0],
        threshold=threshold,
        impostor=Rate(first.impostors_within(threshold), first.impostor_comparisons),
        genuine_missed=Rate(first.genuine_over(threshold), len(first.genuine)),
        floored=points[binding].floored,
        evidence=evidence,
        limited_by=curves[binding].population,
    )


def choose(
    curve: DistanceCurve, people: int, level: Level | None, explicit: float | None = None
) -> OperatingPoint:
    """The threshold for a gallery of ``people`` at ``level`` (or the ``explicit`` one)."""
    floored = False
    if explicit is not None:
        threshold, source = float(explicit), "explicit"
    else:
        if level is None:
            raise ValueError("a level or an explicit threshold is needed")
        per_person = 1.0 - (1.0 - level.fpir) ** (1.0 / max(people, level.min_people, 1))
        allowed = _events_within(per_person, curve.impostor_comparisons, len(curve.impostor_tail))
        if allowed < level.floor:
            allowed, floored = level.floor, True
        threshold, source = curve.threshold_accepting(allowed), "level"
    return OperatingPoint(
        threshold=threshold,
        level=level if explicit is None else None,
        people=people,
        source=source,
        impostor=Rate(curve.impostors_within(threshold), curve.impostor_comparisons),
        genuine_missed=Rate(curve.genuine_over(threshold), len(curve.genuine)),
        floored=floored,
        photo_threshold=threshold,
        sized_for=people
        if level is None or explicit is not None
        else max(people, level.min_people),
    )


def _events_within(rate: float, trials: int, most: int) -> int:
    """The most impostor events whose 95 % upper bound is still within ``rate`` (-1 when
    even none is: the measurements are too few to show that rate)."""
    if upper_bound(0, trials) > rate:
        return -1
    lo, hi = 0, most
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if upper_bound(mid, trials) <= rate:
            lo = mid
        else:
            hi = mid - 1
    return lo


def level_for(key: str) -> Level:
    try:
        return LEVELS[key]
    except KeyError:
        raise ValueError(
            f"security level must be one of {', '.join(LEVELS)}, not {key!r}"
        ) from None
