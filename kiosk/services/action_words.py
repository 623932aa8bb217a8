"""The operators' actions' details in words, for the console and ``log admin-actions``.

The chain stores each action's details as JSON (kept as written: it is hashed); what an
operator reads is made here: ``rows: 40; filter: today from 00:00, all denials``, not
``{"rows": 40, "filter": "EventFilter(since=datetime.datetime(...), ...)"}``.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime

from kiosk.storage.records import EventFilter

#: stored keys read better as these words
_KEYS = {
    "values": "settings",
    "sources": "set by",
    "threshold_in_force": "threshold in force",
    "outside": "changed outside the console",
    "failed_logins": "failed sign-ins",
    "rows": "rows",
}


def describe_filter(flt: EventFilter | None) -> str:
    """An access-log filter in words ("all events" for none)."""
    if flt is None or flt == EventFilter():
        return "all events"
    parts = []
    if flt.since is not None:
        parts.append(f"from {flt.since.astimezone():%Y-%m-%d %H:%M}")
    if flt.until is not None:
        parts.append(f"until {flt.until.astimezone():%Y-%m-%d %H:%M}")
    people = sorted({*flt.person_ids, *(() if flt.person_id is None else (flt.person_id,))})
    if people:
        parts.append("people " + ", ".join(f"#{p}" for p in people))
    if flt.denials:
        parts.append("all denials")
    if flt.decision is not None:
        parts.append(f"decision {flt.decision}")
    if flt.kiosk_id is not None:
        parts.append(f"kiosk {flt.kiosk_id}")
    return ", ".join(parts)


_OLD_FIELD = re.compile(r"(\w+)=(datetime\.datetime\(([^)]*)\)|'[^']*'|\d+|None|True|False)")


def _old_filter(text: str) -> str:
    """A filter recorded as program text before it was recorded in words
    (``EventFilter(since=datetime.datetime(2026, 12, 5, 0, 0, tzinfo=...), ...)``)."""
    parts = []
    for key, value, numbers in _OLD_FIELD.findall(text):
        if value in ("None", "False"):
            continue
        if numbers:
            fields = [int(n) for n in re.findall(r"\d+", numbers.split("tzinfo")[0])]
            when = None
            if len(fields) >= 5:
                y, mo, d, h, mi = fields[:5]
                with contextlib.suppress(ValueError):  # not a date after all: "?"
                    when = datetime(y, mo, d, h, mi, tzinfo=UTC)
            value = "?" if when is None else f"{when.astimezone():%Y-%m-%d %H:%M}"
        words = {"since": "from", "person_id": "person #", "kiosk_id": "kiosk"}.get(key, key)
        value = value.strip("'")
        parts.append(f"{words}{value}" if words.endswith("#") else f"{words} {value}")
    return ", ".join(parts) or "all events"


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or "none"
    if isinstance(value, dict):
        if value and set(value) <= {"from", "to", "by", "value", "default"}:
            if "from" in value or "to" in value:
                by = f" (by {value['by']})" if value.get("by") else ""
                return f"{_value(value.get('from'))} → {_value(value.get('to'))}{by}"
            by = f", set by {value['by']}" if value.get("by") else ""
            return f"{_value(value.get('value'))} (default {_value(value.get('default'))}{by})"
        return ", ".join(f"{_key(k)} {_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, str):
        if value.startswith("EventFilter("):
            return _old_filter(value)
        return value or "-"
    return str(value)


def _key(key: str) -> str:
    return _KEYS.get(key, key.replace("_", " "))


def details_in_words(details: str) -> str:
    """An operator's action's details (the stored JSON) as words: ``key: value; ...``
    (``log admin-actions`` keeps ``key=value``, for scripts:
    :func:`kiosk.services.audit_log.describe_details`)."""
    if not details:
        return ""
    try:
        data = json.loads(details)
    except ValueError:
        return details
    if not isinstance(data, dict):
        return _value(data)
    return "; ".join(f"{_key(k)}: {_value(v)}" for k, v in data.items())
