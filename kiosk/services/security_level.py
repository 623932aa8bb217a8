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
environment pass), and recorded. At every kiosk start,
:func:`kiosk.services.settings_record.record_effective_settings` records the threshold,
level, network and liveness mode in force and where each came from, and flags a change
that did not come through the console or the command line.

The site's figures are computed in :mod:`kiosk.services.site_figures`; the config file is
edited by :mod:`kiosk.services.toml_edit`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.config import Settings, check_threshold
from kiosk.domain.operating import LEVELS, OperatingPoint, level_for
from kiosk.errors import InputError
from kiosk.services.accounts import Actor
from kiosk.services.coverage import coverage_of
from kiosk.services.settings_record import WATCHED, action_details, describe_change, readable_action
from kiosk.services.site_figures import SiteFigures, head_site_figures, site_figures
from kiosk.services.toml_edit import remove_toml_value, set_toml_value
from kiosk.storage.records import Role
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point
from kiosk.vision.networks import network

if TYPE_CHECKING:
    from kiosk.services.adaptation import AdaptationService
    from kiosk.vision.head import Head


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
        return [(a.time, a.admin or "(kiosk)", readable_action(a)) for a in actions[:limit]]

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
            latest = action_details(starts[0].details)
            if latest.get("outside") != "yes":
                return None
        return describe_change(flagged[0].details, flagged[0].time)

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
    return len(coverage_of(store, network(settings.vision.network).sha256).ready)
