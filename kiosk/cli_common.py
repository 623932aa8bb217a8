"""Helpers shared by the command modules (``kiosk.cli``, ``kiosk.cli_admin``,
``kiosk.cli_rules``): photo arguments, the ``identify`` printer, and who is acting.

This module imports none of the command modules, so each of them may import it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kiosk.app import opened_store as opened_store  # the one place that opens it
from kiosk.errors import InputError, KioskError

if TYPE_CHECKING:  # the storage and services are imported by the commands that need them
    from kiosk.services.accounts import Actor
    from kiosk.storage.store import Store

#: One face of an ``identify`` answer, as the services return it (JSON-ready).
Row = dict[str, Any]


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
            print(f"error: {exc}", file=sys.stderr)
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
    return accounts.authenticate(user, password)


def add_auth_arguments(p: argparse.ArgumentParser, *, stdin_help: str | None = None) -> None:
    """Add ``--user`` and ``--password-stdin``, which :func:`login` reads."""
    p.add_argument("--user", metavar="NAME", help="the admin acting (default: $KIOSK_ADMIN)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help=stdin_help
        or "read the password from the first line of standard input (or set KIOSK_ADMIN_PASSWORD)",
    )
