"""The one boundary for text, times and ids before they reach the database.

The same limits hold on SQLite (which would store a 10 KB name) and PostgreSQL (which
would refuse it with a driver error): a name, badge, group or user name is checked for
its length and for characters that would forge lines or hide text on a terminal or in a
CSV file (control characters, line separators, bidirectional overrides), and refused with
one line saying what to change. The repositories call these before every write, so the
command line and the console pass the same gate.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from kiosk.errors import InputError

#: column widths of the schema (db/versions), in characters on both databases
NAME_MAX = 200
BADGE_MAX = 100
GROUP_MAX = 100
USERNAME_MAX = 100
KIOSK_ID_MAX = 100
NOTES_MAX = 2000
ACTION_TARGET_MAX = 300

#: times the database and the local-time display can hold everywhere (a day of margin
#: on both sides for any time zone)
MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 30, tzinfo=UTC)

#: ids are 64-bit signed integers in the database
MAX_ID = 2**63 - 1

#: format characters that reorder or hide text (Trojan-source style): LRE, RLE, PDF, LRO,
#: RLO, LRI, RLI, FSI, PDI
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def bad_character(text: str, *, allow_newlines: bool = False) -> str | None:
    """A description of the first character that may not be stored, or ``None``."""
    for ch in text:
        if allow_newlines and ch in "\n\t":
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"a control character ({ch!r})"
        if category in ("Zl", "Zp"):
            return f"a line separator (U+{ord(ch):04X})"
        if category == "Cs":
            return "bytes that are not valid text"
        if ch in _BIDI_CONTROLS:
            return f"a text-direction override (U+{ord(ch):04X})"
        if category == "Cf":  # zero-width spaces and joiners, direction marks, ...
            return f"an invisible formatting character (U+{ord(ch):04X})"
    return None


def check_text(
    value: str,
    what: str,
    limit: int,
    *,
    required: bool = True,
    allow_newlines: bool = False,
) -> str:
    """``value`` stripped of surrounding spaces, or :class:`InputError` naming ``what``."""
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text")
    value = value.strip(" ")  # spaces only: a newline or tab at the end is refused below
    if required and not value:
        raise InputError(f"the {what} is empty: give one")
    if len(value) > limit:
        raise InputError(
            f"the {what} is {len(value)} characters long: use at most {limit} characters"
        )
    bad = bad_character(value, allow_newlines=allow_newlines)
    if bad is not None:
        raise InputError(f"the {what} contains {bad}: type it without")
    # one spelling of each text: "é" typed as one character or as e + accent is the same
    return unicodedata.normalize("NFC", value)


def check_optional(value: str | None, what: str, limit: int) -> str | None:
    """Like :func:`check_text`; ``None`` or only spaces gives ``None``."""
    if value is None or not value.strip(" "):
        return None
    return check_text(value, what, limit)


def check_name(value: str) -> str:
    return check_text(value, "name", NAME_MAX)


def check_badge(value: str) -> str:
    """A badge number in one form: full-width and other compatibility characters as their
    plain ones (NFKC), so "Ａ１" is "A1" (letter case is compared without: see
    ``PeopleRepository``)."""
    return normalise_badge(check_text(value, "badge", BADGE_MAX))


def normalise_badge(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip(" ")


def check_group(value: str | None) -> str | None:
    return check_optional(value, "group", GROUP_MAX)


def check_username(value: str) -> str:
    return check_text(value, "user name", USERNAME_MAX)


def check_notes(value: str) -> str:
    return check_text(value, "notes", NOTES_MAX, required=False, allow_newlines=True)


def check_time(value: datetime | None, what: str) -> datetime | None:
    """A timezone-aware time inside :data:`MIN_TIME` .. :data:`MAX_TIME`."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InputError(f"the {what} has no time zone")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not MIN_TIME <= utc <= MAX_TIME:
        raise InputError(
            f"the {what} {value.isoformat()} is out of range: use a date between "
            f"{MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}"
        )
    return utc


def check_id(value: int, what: str = "id") -> int:
    """A database id (1 .. 2**63-1)."""
    if not 1 <= value <= MAX_ID:
        raise InputError(f"the {what} {value} is out of range: ids are whole numbers from 1")
    return value


def printable(text: str, limit: int = ACTION_TARGET_MAX) -> str:
    """``text`` made safe to record and show: control characters escaped, cut to
    ``limit`` characters (for values typed by someone untrusted, e.g. a user name that
    failed to sign in)."""
    out = []
    for ch in text:
        if bad_character(ch) is not None:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    joined = "".join(out)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"
