"""The settings each kiosk start ran with, recorded in the operators' actions, and the
changes that did not come through the console or the command line."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kiosk.config import Settings
from kiosk.domain.operating import OperatingPoint
from kiosk.storage.records import AdminAction
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point

#: the settings recorded at each start, and compared for changes made outside
WATCHED = (
    "vision.network",
    "vision.level",
    "vision.threshold",
    "vision.scoring",
    "vision.adaptation",
    "liveness.mode",
    "liveness.clear_margin",
    "liveness.one_clear_turn",
    # everything else that changes what the door accepts
    "vision.min_face_probability",
    "vision.ambiguity_margin",
    "liveness.count",
    "liveness.border_check",
    "liveness.passive_model",
    "liveness.passive_fake_below",
    "liveness.passive_clear_above",
    "liveness.min_parallax",
    "liveness.time_limit_seconds",
    "liveness.tries",
    "decision.method",
    "decision.min_frames",
    "decision.max_frames",
)


def _watched_values(settings: Settings) -> dict[str, Any]:
    """The value of each :data:`WATCHED` setting ("vision.level" -> "normal")."""
    out: dict[str, Any] = {}
    for key in WATCHED:
        section, name = key.split(".")
        value = getattr(getattr(settings, section), name)
        if key == "vision.threshold" and value is not None:
            value = round(value, 3)
        out[key] = value
    return out


def weaker_settings(settings: Settings, people: int) -> dict[str, dict[str, Any]]:
    """The settings that let more in than the defaults (for the threshold: than the
    level's own), each with its value, the default and where it came from. Flagged at
    every start while they stay so, not only when they change."""
    from dataclasses import replace

    defaults = Settings()
    now = _watched_values(settings)
    level = operating_point(replace(settings.vision, threshold=None), people).threshold
    weaker: dict[str, Any] = {}

    def flag(key: str, default: Any) -> None:
        weaker[key] = {"value": now[key], "default": default, "by": settings.source_of(key)}

    if settings.vision.threshold is not None and settings.vision.threshold > level:
        flag("vision.threshold", round(level, 3))
    order = {"off": 0, "passive": 1, "active": 2}
    for key in WATCHED:
        if key == "vision.threshold":
            continue
        section, name = key.split(".")
        value, default = now[key], getattr(getattr(defaults, section), name)
        if key == "liveness.mode":
            worse = order.get(value, 0) < order.get(default, 2)
        elif key in ("liveness.one_clear_turn",):
            worse = bool(value) and not default
        elif key in ("liveness.border_check", "liveness.passive_model"):
            worse = not value and bool(default)
        elif key in ("liveness.time_limit_seconds", "liveness.tries"):
            worse = value > default  # more time or more tries: more chances for a picture
        elif key in ("decision.method", "vision.network", "vision.scoring", "vision.level"):
            worse = key == "decision.method" and value != default
        elif isinstance(value, int | float) and not isinstance(value, bool):
            worse = value < default
        else:
            worse = False
        if worse:
            flag(key, default)
    return weaker


def record_effective_settings(
    store: Store, settings: Settings, people: int, point: OperatingPoint | None = None
) -> str | None:
    """Record what this kiosk runs with (network, level, threshold in force, liveness
    mode, and where each came from). When it differs from the previous start and no admin
    changed it through the console or the command line since, record that too and return
    a one-line description for staff (None otherwise)."""
    v = settings.vision
    point = point or operating_point(v, people)
    now = _watched_values(settings)
    sources = {key: settings.source_of(key) for key in WATCHED}
    weaker = weaker_settings(settings, people)
    with store.unit_of_work(write=True) as uow:
        # this kiosk's previous start (kiosks of one database may run with different
        # settings: each is compared with itself, not with whichever started last)
        previous = uow.audit.list(limit=1, action="kiosk-settings", target=settings.kiosk_id)
        admin_changes = uow.audit.list(limit=1, action="threshold")
        changed: list[str] = []
        if previous:
            before = action_details(previous[0].details).get("values", {})
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
        if weaker:  # at every start while it stays so
            uow.audit.record(None, "settings-weaker", settings.kiosk_id, settings=weaker)
        if outside:
            before = action_details(previous[0].details).get("values", {})
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


def action_details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _value(key: str, value: object) -> str:
    if value is None:
        return "the level's" if key == "vision.threshold" else "unset"
    return str(value)


def _by(source: object) -> str:
    """Where a value came from, in words ("default": none of the places that set it)."""
    if source in (None, "default"):
        return "the built-in default"
    return (
        f"set by the {source}" if str(source).startswith(("file", "environment")) else str(source)
    )


def _changes_text(details: str) -> str:
    changes = action_details(details).get("changes", {})
    parts = [
        f"{key}: {_value(key, c.get('from'))} → {_value(key, c.get('to'))} ({_by(c.get('by'))})"
        for key, c in changes.items()
        if isinstance(c, dict)
    ]
    return "; ".join(parts) or "settings changed"


def describe_change(details: str, when: datetime) -> str:
    return f"{when.astimezone():%Y-%m-%d %H:%M}: {_changes_text(details)}"


def readable_action(action: AdminAction) -> str:
    """One line of the security page's history."""
    if action.action == "settings-changed-outside":
        return (
            f"changed outside the console at kiosk {action.target}: {_changes_text(action.details)}"
        )
    d = action_details(action.details)
    if "old" in d or "new" in d:
        return f"{d.get('old', '?')} -> {d.get('new', '?')}"
    return action.details
