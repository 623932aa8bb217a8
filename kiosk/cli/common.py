"""Helpers shared by the command modules (``kiosk.cli`` and the ``kiosk.cli.*`` modules it
registers): photo arguments, times and text as they print them, the ``identify`` printer,
and who is acting.

This module imports none of the command modules, so each of them may import it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kiosk.app import opened_store as opened_store  # the one place that opens it
from kiosk.errors import InputError, KioskError
from kiosk.storage import limits

if TYPE_CHECKING:  # the storage and services are imported by the commands that need them
    from kiosk.services.accounts import Actor
    from kiosk.storage.store import Store

#: One face of an ``identify`` answer, as the services return it (JSON-ready).
Row = dict[str, Any]


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (``error: ...``, exit 2) rather
    than the usage block: the same shape as every other error of the command line."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        text = limits.printable(message, 500)
        usage = " ".join(self.format_usage().split())  # argparse's usage, on one line
        print(f"error: {self.prog}: {text} ({usage}; see --help)", file=sys.stderr)
        raise SystemExit(2)


def error_line(exc: BaseException) -> str:
    """An error as one line: control characters a user typed (a newline in a name) are
    shown escaped, so a message cannot forge more lines."""
    return limits.printable(str(exc), 2000)


def parse_time(text: str, flag: str) -> datetime:
    """An ISO date or date-time (without a zone it is local time), in UTC, within the
    range every database and time zone can hold; else one line naming ``flag``."""
    shown = limits.printable(text, 60)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{flag} {shown!r} is not a date: use e.g. 2026-05-04 or 2026-05-04T09:30"
        ) from None
    try:
        if value.tzinfo is None:
            value = value.astimezone()  # local time
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        value = datetime.min.replace(tzinfo=UTC)  # out of range: refused below
    if not limits.MIN_TIME <= value <= limits.MAX_TIME:
        raise InputError(
            f"{flag} {shown!r} is out of range: use a date between "
            f"{limits.MIN_TIME:%Y-%m-%d} and {limits.MAX_TIME:%Y-%m-%d}"
        )
    return value


def safe_text(text: str) -> str:
    """A value from the database or the user, safe on one terminal line."""
    return limits.printable(text, 300)


def local_time(value: datetime | None) -> str:
    """A time as the commands print it: local, to the second; ``-`` for none."""
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(value: datetime | None) -> str | None:
    """A time as the commands' JSON gives it: ISO 8601 in UTC; ``None`` for none."""
    return None if value is None else value.astimezone(UTC).isoformat()


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high`` (one line otherwise,
    exit 2, never a database overflow)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{limits.printable(text, 40)!r} is not a whole number"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({low} to {high})")
        return value

    parse.__name__ = "whole number"
    return parse


#: an id of a database row (``templates remove ID``, ``log list --before ID``)
record_id = bounded_int(1, limits.MAX_ID)


def emit(obj: dict[str, Any]) -> None:
    """Print one JSON object on its own line, at once (for pipes)."""
    print(json.dumps(obj, default=str), flush=True)


def photo_paths(items: Iterable[str]) -> Iterator[str]:
    """The paths given, with ``-`` standing for one path per line of standard input."""
    for item in items:
        if item == "-":
            for line in sys.stdin:
                if line.strip():
                    yield line.strip()
        else:
            yield item


# -- identify ----------------------------------------------------------------------------


def print_identified(
    paths: Iterable[str],
    identify: Callable[[str], list[Row]],
    *,
    as_json: bool,
    line: Callable[[str, Row], str],
    refused: Callable[[Row], bool] | None = None,
) -> int:
    """Identify each photo and print one line (or JSON object) per face; the exit code.

    ``identify`` answers one photo; ``line`` is the human line of one face. The code is 2
    when a photo could not be read (an ``error:`` line, then the next photo), else 1 when a
    photo had no face or ``refused`` says so of a photo's main face, else 0.
    """
    status = 0
    for path in paths:
        try:
            rows = identify(path)
        except KioskError as exc:
            print(f"error: {error_line(exc)}", file=sys.stderr)
            status = 2
            continue
        if not rows:
            print(f"{path}: no face found", file=sys.stderr)
            status = max(status, 1)
        for row in rows:
            if refused is not None and row["main"] and refused(row):
                status = max(status, 1)
            if as_json:
                emit(row)
            else:
                print(line(path, row))
    return status


# -- who is acting -----------------------------------------------------------------------


def read_stdin_password() -> str:
    """The first line of standard input (``--password-stdin``)."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise InputError("--password-stdin: standard input had no password line")
    return password


def ask_password(prompt: str) -> str:
    """Ask in the terminal without echo; a clear error when there is no terminal."""
    if not sys.stdin.isatty():
        raise InputError(
            "no password given: set KIOSK_ADMIN_PASSWORD, use --password-stdin, or run in a "
            "terminal to be asked"
        )
    return getpass.getpass(prompt)


def login(args: argparse.Namespace, store: Store, *, stdin_is_mine: bool = True) -> Actor:
    """The admin named by ``--user`` (or ``KIOSK_ADMIN``), authenticated.

    The password comes from ``KIOSK_ADMIN_PASSWORD``, else ``--password-stdin`` (when
    ``stdin_is_mine``: the command does not read a new password from it), else a prompt.
    """
    from kiosk.services.accounts import AccountService

    accounts = AccountService(store)
    user = args.user or os.environ.get("KIOSK_ADMIN")
    if not accounts.has_admins():
        raise InputError(
            "there is no admin account yet: create one with `kiosk admin add NAME --role admin`"
        )
    if not user:
        raise InputError("say who you are: --user NAME (or set KIOSK_ADMIN)")
    password = os.environ.get("KIOSK_ADMIN_PASSWORD")
    if password is None:
        if getattr(args, "password_stdin", False) and stdin_is_mine:
            password = read_stdin_password()
        else:
            password = ask_password(f"password for {user}: ")
    return accounts.authenticate(user, password, via="cli")


def add_auth_arguments(p: argparse.ArgumentParser, *, stdin_help: str | None = None) -> None:
    """Add ``--user`` and ``--password-stdin``, which :func:`login` reads."""
    p.add_argument("--user", metavar="NAME", help="the admin acting (default: $KIOSK_ADMIN)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help=stdin_help
        or "read the password from the first line of standard input (or set KIOSK_ADMIN_PASSWORD)",
    )
