"""The console's Today page: what happened today across every kiosk of the database.

Entries and denials (newest first), today's counts, the last spoof attempts, each
kiosk's state from its heartbeat (stale when it went quiet) and the open alerts: a camera
lost, a door failing, a kiosk gone quiet, repeated spoof attempts at one kiosk. The page
polls :meth:`TodayService.poll` (the newest event id and the newest heartbeat: two index
lookups) and reads :meth:`TodayService.view` only when that changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.domain.access import Decision
from kiosk.domain.kiosk_state import STALE_SECONDS, Heartbeat, is_stale
from kiosk.services.accounts import Actor
from kiosk.storage.records import EventFilter, LoggedEvent, Role
from kiosk.storage.store import Store

#: this many spoof attempts at one kiosk within SPOOF_ALERT_MINUTES is an alert
SPOOF_ALERT_COUNT = 3
SPOOF_ALERT_MINUTES = 10
#: the live list shows this many of today's newest events
RECENT_LIMIT = 100
#: the last spoof attempts shown with their snapshots
SPOOF_LIMIT = 4


@dataclass(frozen=True)
class KioskView:
    """One kiosk on the Today page."""

    beat: Heartbeat
    stale: bool
    words: str  # what staff read: its state, or how long it has been quiet


@dataclass(frozen=True)
class Alert:
    kiosk_id: str
    kind: str  # "camera", "door", "quiet", "spoof", "state": one alert per kiosk and kind
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kiosk_id, self.kind)


@dataclass(frozen=True)
class TodayCounts:
    entries: int
    denials: int
    spoofs: int
    problems: int  # kiosk problems logged (camera, door)


@dataclass(frozen=True)
class TodayView:
    day_start: datetime  # local midnight, in UTC
    counts: TodayCounts
    events: list[LoggedEvent]  # today's, newest first
    spoofs: list[LoggedEvent]  # the last spoof attempts (any day), newest first
    kiosks: list[KioskView]
    alerts: list[Alert]
    newest_id: int


def local_midnight(now: datetime) -> datetime:
    """The start of ``now``'s day in local time, as UTC."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def describe_kiosk(beat: Heartbeat, now: datetime, stale_seconds: float) -> KioskView:
    stale = is_stale(beat, now, stale_seconds)
    if stale:
        quiet = (now - beat.beat_at).total_seconds()
        words = (
            f"No heartbeat for {_ago(quiet)} (since {_clock(beat.beat_at)}; stale after "
            f"{stale_seconds:.0f} s): stopped, crashed or cut off from the database. "
            f"Last said: {beat.state.words.lower()}"
        )
    else:
        words = f"{beat.state.words} since {_clock(beat.since)}"
        if beat.detail:
            words += f" ({beat.detail})"
    return KioskView(beat, stale, words)


class TodayService:
    """The Today page's reads (auditors may use them: nothing here changes anything)."""

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        stale_seconds: float = STALE_SECONDS,
    ) -> None:
        self.store = store
        self.now = now
        self.stale_seconds = stale_seconds

    def poll(self, actor: Actor) -> tuple[int, datetime | None]:
        """The newest event's id and the newest heartbeat's time: what changes when
        anything on the page may have changed."""
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            latest = uow.kiosks.latest_beat()
            return uow.events.newest_id(), None if latest is None else latest.beat_at

    def view(self, actor: Actor) -> TodayView:
        actor.require(Role.AUDITOR)
        now = self.now()
        start = local_midnight(now)
        recent_start = now - timedelta(minutes=SPOOF_ALERT_MINUTES)
        spoof = str(Decision.DENIED_SPOOF)
        with self.store.unit_of_work() as uow:
            newest = uow.events.newest_id()
            counts = uow.events.counts_since(start)
            recent = uow.events.counts_since(recent_start)
            events = uow.events.page(EventFilter(since=start), limit=RECENT_LIMIT)
            spoofs = uow.events.page(EventFilter(decision=spoof), limit=SPOOF_LIMIT)
            beats = uow.kiosks.all()
        kiosks = [describe_kiosk(b, now, self.stale_seconds) for b in beats]
        return TodayView(
            day_start=start,
            counts=_counts(counts),
            events=events,
            spoofs=spoofs,
            kiosks=kiosks,
            alerts=_alerts(kiosks, recent, spoof),
            newest_id=newest,
        )

    def snapshot(self, actor: Actor, event_id: int) -> bytes | None:
        actor.require(Role.AUDITOR)
        with self.store.unit_of_work() as uow:
            return uow.events.snapshot(event_id)


def _counts(counts: dict[tuple[str, str], int]) -> TodayCounts:
    def total(match: Callable[[str], bool]) -> int:
        return sum(n for (_kiosk, decision), n in counts.items() if match(decision))

    return TodayCounts(
        entries=total(lambda d: d == Decision.ALLOWED),
        denials=total(lambda d: d.startswith("denied")),
        spoofs=total(lambda d: d == Decision.DENIED_SPOOF),
        problems=total(lambda d: d == Decision.ERROR),
    )


def _alerts(kiosks: list[KioskView], recent: dict[tuple[str, str], int], spoof: str) -> list[Alert]:
    alerts: list[Alert] = []
    for k in kiosks:
        beat = k.beat
        if k.stale:
            alerts.append(Alert(beat.kiosk_id, "quiet", f"{beat.kiosk_id}: {k.words}"))
        elif beat.state.alarming:
            kind = {"camera lost": "camera", "door failing": "door"}.get(beat.state, "state")
            alerts.append(Alert(beat.kiosk_id, kind, f"{beat.kiosk_id}: {k.words}"))
    for (kiosk_id, decision), n in sorted(recent.items()):
        if decision == spoof and n >= SPOOF_ALERT_COUNT:
            alerts.append(
                Alert(
                    kiosk_id,
                    "spoof",
                    f"{kiosk_id}: {n} attempts with a photo or a screen in the last "
                    f"{SPOOF_ALERT_MINUTES} minutes (alert from {SPOOF_ALERT_COUNT})",
                )
            )
    return alerts
