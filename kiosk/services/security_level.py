"""The security level: which threshold is in force, what was measured about it, and who
changed it from where.

Every figure comes with its count and a 95 % upper bound, from two measurements:

- the development photos (``kiosk/vision/calibration``): hundreds of thousands of stranger
  comparisons, the curve the level's threshold is chosen from;
- the site's own enrolled people, leave-one-person-out: each person's photos are searched
  against everyone else (stranger attempts that need no outside data) and against their
  own remaining photos (enrolled attempts). Recomputed whenever the page asks.

The threshold has one guarded path: the level or an explicit value is written to the
config file by :meth:`SecurityLevelService.set_level` / :meth:`set_threshold` (range
checked by ``kiosk.config.check_threshold``, the same check the config file and the
environment pass), and recorded. :func:`record_effective_settings` records, at every kiosk
start, the threshold, level, network and liveness mode in force and where each came from,
and flags a change that did not come through the console or the command line.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.config import Settings, check_threshold
from kiosk.domain.faces import FloatArray
from kiosk.domain.operating import LEVELS, OperatingPoint, level_for
from kiosk.domain.stats import Rate
from kiosk.errors import InputError
from kiosk.services.accounts import Actor
from kiosk.storage.records import AdminAction, Role
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point
from kiosk.vision.networks import network

if TYPE_CHECKING:
    from kiosk.services.adaptation import AdaptationService
    from kiosk.vision.head import Head

#: the settings recorded at each start, and compared for changes made outside
WATCHED = (
    "vision.network",
    "vision.level",
    "vision.threshold",
    "vision.scoring",
    "vision.adaptation",
    "liveness.mode",
)


@dataclass(frozen=True)
class SiteFigures:
    """Leave-one-person-out distances of the enrolled people; rates at any threshold."""

    people: int
    templates: int
    margin: float
    own: FloatArray  # each photo to the centre of its person's OTHER photos (mated only)
    best_other: FloatArray  # each photo to the nearest other person
    second_other: FloatArray  # ... and to the next one (for the ambiguity rule)
    mated: np.ndarray  # the photo's person has other photos
    impostor: FloatArray  # each photo to every other person (a sample, for the plot)
    sampled: bool

    @property
    def enough(self) -> bool:
        return self.people >= 2 and bool(self.mated.any())

    @property
    def genuine(self) -> FloatArray:
        return self.own[self.mated]

    def strangers_accepted(self, threshold: float) -> Rate:
        """Photos taken for someone else when their own person is not enrolled."""
        best, second = self.best_other, self.second_other
        hit = (best <= threshold) & ~((second <= threshold) & (second - best < self.margin))
        return Rate(int(hit.sum()), len(best))

    def enrolled_missed(self, threshold: float) -> Rate:
        """Photos of a person with other photos not matched to that person."""
        own, best = self.own, self.best_other
        right = (
            (own <= threshold) & (own < best) & ~((best <= threshold) & (best - own < self.margin))
        )
        return Rate(int((~right[self.mated]).sum()), int(self.mated.sum()))


def site_figures(
    embeddings: FloatArray,
    labels: list[int],
    margin: float,
    unit: bool,
    *,
    max_templates: int = 3000,
    seed: int = 0,
) -> SiteFigures:
    """Each template searched against the centres of everyone else (a stranger attempt:
    any match is a false accept) and, when its person has other templates, with its own
    person's centre made of those others (an enrolled attempt: a miss is a false reject).
    Above ``max_templates``, whole people are drawn at random."""
    lab = np.asarray(labels, dtype=np.int64)
    x = np.asarray(embeddings, dtype=np.float64).reshape(-1, 128)
    people_all = np.unique(lab)
    sampled = len(lab) > max_templates
    if sampled:
        order = np.random.default_rng(seed).permutation(people_all)
        keep_people: list[int] = []
        count = 0
        for p in order:
            if count >= max_templates:
                break
            keep_people.append(int(p))
            count += int((lab == p).sum())
        mask = np.isin(lab, keep_people)
        x, lab = x[mask], lab[mask]
    people, index = np.unique(lab, return_inverse=True)
    empty = np.zeros(0, np.float32)
    if len(people) < 2:
        none = np.zeros(0, bool)
        return SiteFigures(len(people), len(lab), margin, empty, empty, empty, none, empty, sampled)
    sums = np.zeros((len(people), x.shape[1]))
    np.add.at(sums, index, x)
    counts = np.bincount(index, minlength=len(people)).astype(np.float64)

    def centre(v: np.ndarray) -> np.ndarray:
        if unit:
            return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
        return v

    centres = centre(sums / counts[:, None])
    d = np.sqrt(np.maximum(((x[:, None, :] - centres[None]) ** 2).sum(-1), 0.0))
    d[np.arange(len(x)), index] = np.inf
    ordered = np.sort(d, axis=1)
    best_other = ordered[:, 0]
    second_other = ordered[:, 1] if ordered.shape[1] > 1 else np.full(len(x), np.inf)
    mated = counts[index] > 1
    loo = (sums[index] - x) / np.maximum(counts[index] - 1, 1)[:, None]
    own = np.where(mated, np.sqrt(np.maximum(((x - centre(loo)) ** 2).sum(-1), 0.0)), np.inf)
    impostor = d[np.isfinite(d)]
    if impostor.size > 200_000:
        impostor = np.random.default_rng(seed).choice(impostor, 200_000, replace=False)
    return SiteFigures(
        people=len(people),
        templates=len(lab),
        margin=margin,
        own=own.astype(np.float32),
        best_other=best_other.astype(np.float32),
        second_other=second_other.astype(np.float32),
        mated=mated,
        impostor=impostor.astype(np.float32),
        sampled=sampled,
    )


@dataclass(frozen=True)
class SecurityState:
    """What is in force now (from the settings this process read) and where it came from."""

    network: str
    network_title: str
    scoring: str
    level: str
    explicit_threshold: float | None
    sources: dict[str, str]
    people: int
    point: OperatingPoint
    outside_change: str | None  # a recorded change that did not come through the console
    #: the site head in force (its threshold and figures are measured on this site's
    #: people, not on the development photos); None: the plain network
    head_version: str | None = None

    @property
    def level_title(self) -> str:
        return LEVELS[self.level].title

    def describe(self) -> str:
        p = self.point
        if self.explicit_threshold is not None:
            return (
                f"Explicit threshold {p.threshold:.3f} ({self.sources['vision.threshold']}), "
                f"{self.network_title}"
            )
        return (
            f"{self.level_title} level ({self.sources['vision.level']}): threshold "
            f"{p.threshold:.3f} for {self.people:,} enrolled "
            f"{'person' if self.people == 1 else 'people'}, {self.network_title}"
        )


class SecurityLevelService:
    """The security page's and the ``threshold`` command's use cases."""

    def __init__(
        self, store: Store, settings: Settings, adaptation: AdaptationService | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        #: the site-adapted head (``kiosk adapt``): while one is in force, the threshold
        #: and the site's figures are its own
        self.adaptation = adaptation

    def _head(self) -> Head | None:
        return None if self.adaptation is None else self.adaptation.in_force()

    @property
    def config_path(self) -> Path:
        return Path(os.environ.get("KIOSK_CONFIG", str(self.settings.home / "kiosk.toml")))

    def enrolled_people(self) -> int:
        """People with templates of the network in use (the ones a face can match)."""
        return people_with_templates(self.store, self.settings)

    def state(self, people: int | None = None) -> SecurityState:
        v = self.settings.vision
        n = self.enrolled_people() if people is None else people
        sources = {key: self.settings.source_of(key) for key in WATCHED}
        head = self._head()
        return SecurityState(
            network=v.network,
            network_title=network(v.network).title
            + ("" if head is None else f" + site head {head.version}"),
            scoring=v.scoring if head is None else "centre",
            level=v.level,
            explicit_threshold=v.threshold,
            sources=sources,
            people=n,
            point=operating_point(v, n) if head is None else head.operating_point(v, n),
            outside_change=self.outside_change(),
            head_version=None if head is None else head.version,
        )

    def point_for(self, people: int, level: str | None, threshold: float | None) -> OperatingPoint:
        """The operating point a choice on the page would give (nothing is written)."""
        from dataclasses import replace

        vision = replace(
            self.settings.vision, level=level or self.settings.vision.level, threshold=threshold
        )
        head = self._head()
        return (
            operating_point(vision, people)
            if head is None
            else head.operating_point(vision, people)
        )

    def site(self, actor: Actor, *, max_templates: int = 3000) -> SiteFigures:
        actor.require(Role.ADMIN)
        v = self.settings.vision
        head = self._head()
        if head is not None:  # measured with heads that did not see each photo's person
            return head_site_figures(head, v.ambiguity_margin)
        with self.store.unit_of_work() as uow:
            embeddings, labels = uow.templates.gallery(network(v.network).sha256)
        return site_figures(
            embeddings,
            labels,
            v.ambiguity_margin,
            network(v.network).normalized,
            max_templates=max_templates,
        )

    # -- changing it ---------------------------------------------------------------------

    def set_level(self, actor: Actor, level: str) -> Path:
        """Use ``level`` from the next kiosk start (an explicit threshold is removed)."""
        actor.require(Role.ADMIN)
        try:
            level_for(level)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        old = self._current_choice()
        path = self._write({"level": f'"{level}"', "threshold": None})
        self._record(actor, "threshold", old=old, new=f"level {level}")
        return path

    def set_threshold(self, actor: Actor, value: float) -> Path:
        """Use the explicit distance ``value`` from the next kiosk start (range-checked)."""
        actor.require(Role.ADMIN)
        from kiosk.errors import ConfigError

        try:
            value = check_threshold(self.settings.vision.network, value)
        except ConfigError as exc:
            raise InputError(str(exc)) from None
        old = self._current_choice()
        path = self._write({"threshold": f"{value:.3f}"})
        self._record(actor, "threshold", old=old, new=f"threshold {value:.3f}")
        return path

    def set_adaptation(self, actor: Actor, on: bool) -> Path:
        """Search through the site-adapted head (``on``) or not, from the next kiosk start
        (a running kiosk keeps what it started with)."""
        actor.require(Role.ADMIN)
        old = "site adaptation " + ("on" if self.settings.vision.adaptation else "off")
        path = self._write({"adaptation": "true" if on else "false"})
        self._record(actor, "threshold", old=old, new="site adaptation " + ("on" if on else "off"))
        return path

    def overridden_by_environment(self) -> list[str]:
        """Environment variables that override what the console writes to the file."""
        return [
            src.removeprefix("environment ")
            for key, src in ((k, self.settings.source_of(k)) for k in WATCHED)
            if key in ("vision.level", "vision.threshold", "vision.adaptation")
            and src.startswith("environment")
        ]

    def history(self, actor: Actor, limit: int = 20) -> list[tuple[datetime, str, str]]:
        with self.store.unit_of_work() as uow:
            actions = [
                a
                for name in ("threshold", "settings-changed-outside")
                for a in uow.audit.list(limit=limit, action=name)
            ]
        actions.sort(key=lambda a: a.time, reverse=True)
        return [(a.time, a.admin or "(kiosk)", _readable(a)) for a in actions[:limit]]

    def outside_change(self) -> str | None:
        """The latest change recorded at a kiosk start that no admin made through the
        console or the command line (None when the latest start matched)."""
        with self.store.unit_of_work() as uow:
            flagged = uow.audit.list(limit=1, action="settings-changed-outside")
            starts = uow.audit.list(limit=1, action="kiosk-settings")
        if not flagged:
            return None
        if starts and starts[0].time > flagged[0].time:
            # a later start: still outside if it kept the changed values
            latest = _details(starts[0].details)
            if latest.get("outside") != "yes":
                return None
        return _describe_change(flagged[0].details, flagged[0].time)

    def _current_choice(self) -> str:
        v = self.settings.vision
        return f"threshold {v.threshold:.3f}" if v.threshold is not None else f"level {v.level}"

    def _record(self, actor: Actor, action: str, **details: object) -> None:
        with self.store.unit_of_work(write=True) as uow:
            uow.audit.record(actor.username, action, "vision", **details)
            uow.commit()

    def _write(self, values: dict[str, str | None]) -> Path:
        path = self.config_path
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        for key, value in values.items():
            text = (
                remove_toml_value(text, "vision", key)
                if value is None
                else set_toml_value(text, "vision", key, value)
            )
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - a bug, not a user error
            raise InputError(f"cannot update {path}: {exc}") from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return path


def people_with_templates(store: Store, settings: Settings) -> int:
    """How many people have templates of the configured network (a gallery's size)."""
    checksum = network(settings.vision.network).sha256
    with store.unit_of_work() as uow:
        counts = uow.templates.coverage(checksum)
    return sum(1 for same, _ in counts.values() if same > 0)


def head_site_figures(head: Head, margin: float) -> SiteFigures:
    """The site's figures measured for a head when it was trained: each photo searched by
    a head trained without its person (leave-people-out)."""
    site = head.site
    own = site["own"]
    return SiteFigures(
        people=head.people,
        templates=head.templates,
        margin=margin,
        own=own,
        best_other=site["best_other"],
        second_other=site["second_other"],
        mated=np.isfinite(own),
        impostor=site["impostor_sample"],
        sampled=False,
    )


def record_effective_settings(
    store: Store, settings: Settings, people: int, point: OperatingPoint | None = None
) -> str | None:
    """Record what this kiosk runs with (network, level, threshold in force, liveness
    mode, and where each came from). When it differs from the previous start and no admin
    changed it through the console or the command line since, record that too and return
    a one-line description for staff (None otherwise)."""
    v = settings.vision
    point = point or operating_point(v, people)
    now: dict[str, Any] = {
        "vision.network": v.network,
        "vision.level": v.level,
        "vision.threshold": None if v.threshold is None else round(v.threshold, 3),
        "vision.scoring": v.scoring,
        "vision.adaptation": v.adaptation,
        "liveness.mode": settings.liveness.mode,
    }
    sources = {key: settings.source_of(key) for key in WATCHED}
    with store.unit_of_work(write=True) as uow:
        previous = uow.audit.list(limit=1, action="kiosk-settings")
        admin_changes = uow.audit.list(limit=1, action="threshold")
        changed: list[str] = []
        if previous:
            before = _details(previous[0].details).get("values", {})
            changed = [k for k in WATCHED if k in before and before[k] != now[k]]
            if changed and admin_changes and admin_changes[0].time > previous[0].time:
                changed = [k for k in changed if not k.startswith("vision.")]
        outside = bool(changed)
        uow.audit.record(
            None,
            "kiosk-settings",
            settings.kiosk_id,
            values=now,
            sources=sources,
            threshold_in_force=round(point.threshold, 4),
            people=people,
            outside="yes" if outside else "no",
        )
        if outside:
            before = _details(previous[0].details).get("values", {})
            uow.audit.record(
                None,
                "settings-changed-outside",
                settings.kiosk_id,
                changes={
                    k: {"from": before.get(k), "to": now[k], "by": sources[k]} for k in changed
                },
            )
        uow.commit()
    if not outside:
        return None
    return "; ".join(f"{k} changed to {now[k]!r} by {sources[k]}" for k in changed)


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _value(key: str, value: object) -> str:
    if value is None:
        return "the level's" if key == "vision.threshold" else "unset"
    return str(value)


def _changes_text(details: str) -> str:
    changes = _details(details).get("changes", {})
    parts = [
        f"{key} {_value(key, c.get('from'))} -> {_value(key, c.get('to'))} by {c.get('by')}"
        for key, c in changes.items()
        if isinstance(c, dict)
    ]
    return "; ".join(parts) or "settings changed"


def _describe_change(details: str, when: datetime) -> str:
    return f"{when.astimezone():%Y-%m-%d %H:%M}: {_changes_text(details)}"


def _readable(action: AdminAction) -> str:
    """One line of the security page's history."""
    if action.action == "settings-changed-outside":
        return (
            f"changed outside the console at kiosk {action.target}: {_changes_text(action.details)}"
        )
    d = _details(action.details)
    if "old" in d or "new" in d:
        return f"{d.get('old', '?')} -> {d.get('new', '?')}"
    return action.details


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


def set_toml_value(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``[section] key = value`` set, the rest (comments too) unchanged."""
    lines = text.splitlines()
    current: str | None = None
    section_end: int | None = None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m:
            if current == section:
                section_end = i
                break
            current = m.group(1).strip()
            continue
        if current == section and key_re.match(line):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    if current == section:
        insert_at = section_end if section_end is not None else len(lines)
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
        lines.insert(insert_at, f"{key} = {value}")
        return "\n".join(lines) + "\n"
    if lines and lines[-1].strip():
        lines.append("")
    lines += [f"[{section}]", f"{key} = {value}"]
    return "\n".join(lines) + "\n"


def remove_toml_value(text: str, section: str, key: str) -> str:
    """``text`` without ``[section] key = ...`` (unchanged when it is not there)."""
    lines = text.splitlines()
    current: str | None = None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    out = []
    for line in lines:
        m = _SECTION.match(line)
        if m:
            current = m.group(1).strip()
        elif current == section and key_re.match(line):
            continue
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")
