"""What site adaptation reports: a training's progress and result, the stored head's
state, and the site's figures with the head and without."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.domain.operating import OperatingPoint
from kiosk.domain.stats import Rate
from kiosk.vision.head import Head


@dataclass(frozen=True)
class AdaptProgress:
    """One step of training, for a progress bar: ``stage`` in words, ``done`` of ``total``
    steps of it, and the whole job's ``percent``."""

    stage: str
    done: int
    total: int
    percent: int


@dataclass(frozen=True)
class HeadState:
    """The stored head (if any), whether it is switched on, and whether it can be used
    with the gallery as it is now."""

    head: Head | None
    enabled: bool
    enabled_source: str
    people: int  # the gallery now
    templates: int
    problem: str | None  # why the stored head cannot be used; None when it can

    @property
    def in_force(self) -> bool:
        return self.enabled and self.head is not None and self.problem is None

    def describe(self) -> str:
        """One line for the command line and the security page."""
        switch = "on" if self.enabled else "off"
        if self.head is None and self.problem is not None:
            return f"The stored site head is refused: {self.problem}"
        if self.head is None:
            base = "No site head trained"
            return base + (
                " (adaptation is switched on, but there is nothing to use: matching is plain)"
                if self.enabled
                else "."
            )
        h = self.head
        what = (
            f"Trained on this site's people {h.created_at[:16].replace('T', ' ')} UTC "
            f"({h.people:,} people, {h.templates:,} photos); switched {switch}"
        )
        details = f" Details: head {h.version}."
        if self.problem is not None:
            return f"{what}; refused: {self.problem}.{details}"
        return what + ("; in use by the kiosks." if self.enabled else "; not in use.") + details


@dataclass(frozen=True)
class SiteComparison:
    """What the site's own people show, with the head and without, each at its own
    threshold for this many people at the configured level (leave-people-out: every
    photo searched by a head that never saw its person)."""

    head_point: OperatingPoint
    plain_threshold: float
    head_strangers: Rate
    plain_strangers: Rate
    head_missed: Rate
    plain_missed: Rate

    @property
    def better(self) -> bool:
        """Fewer misses and no more strangers let in, or fewer strangers and no more
        misses, each at its own threshold."""
        hs, ps = self.head_strangers.events, self.plain_strangers.events
        hm, pm = self.head_missed.events, self.plain_missed.events
        return (hs <= ps and hm <= pm) and (hs < ps or hm < pm)

    def verdict(self) -> str:
        if self.better:
            return "On this site's people the head did better than the plain network."
        same = (
            self.head_strangers.events == self.plain_strangers.events
            and self.head_missed.events == self.plain_missed.events
        )
        return (
            "On this site's people the head made no difference: keep it off."
            if same
            else "On this site's people the head did worse than the plain network: keep it off."
        )

    def lines(self) -> list[str]:
        p = self.head_point
        return [
            f"threshold with the head {p.threshold:.3f} (chosen from this site's measurements"
            + (
                ", held below every stranger comparison: too few to show the level"
                if p.floored
                else ""
            )
            + f"); without it {self.plain_threshold:.3f}",
            f"photos taken for someone else (strangers let in): with the head "
            f"{self.head_strangers.text()}; without {self.plain_strangers.text()}",
            f"enrolled photos not recognised: with the head {self.head_missed.text()}; "
            f"without {self.plain_missed.text()}",
            p.fpir_text().replace("development photos", "site's photos"),
        ]


@dataclass(frozen=True)
class AdaptResult:
    head: Head
    comparison: SiteComparison
    seconds: float
    augmented: int  # photos with a stored crop (augmented from it)
    matches_now: bool  # the gallery did not change while training
