"""Admin accounts from the command line: ``admin add|passwd|list|disable|enable|delete|role``.
``kiosk.cli`` calls :func:`register`.

Every argument is checked before anything is written (and, where the check needs no
database, before signing in): a bad one is one line on stderr and exit 2. The same holds
for ``enroll`` (:mod:`kiosk.cli.enroll`), ``people`` (:mod:`kiosk.cli.people`), ``log``
and ``purge`` (:mod:`kiosk.cli.log`).

Who is acting: ``--user NAME`` (or ``KIOSK_ADMIN``); the password comes from
``KIOSK_ADMIN_PASSWORD``, ``--password-stdin`` or a prompt. The very first account is
created without logging in: ``kiosk admin add NAME --role admin``.

Exit codes: 0 ok, 1 a negative answer (a deletion not confirmed), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from kiosk.cli.common import (
    add_auth_arguments,
    ask_password,
    emit,
    iso_utc,
    local_time,
    login,
    opened_store,
    read_stdin_password,
    safe_text,
)
from kiosk.config import Settings
from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.records import Role


def _new_password(args: argparse.Namespace, user: str, *, bootstrap: bool) -> str:
    if args.password_stdin:
        return read_stdin_password()
    if bootstrap and os.environ.get("KIOSK_ADMIN_PASSWORD"):
        return os.environ["KIOSK_ADMIN_PASSWORD"]
    first = ask_password(f"new password for {user}: ")
    if ask_password("repeat it: ") != first:
        raise InputError("the two passwords differ; try again")
    return first


def cmd_admin_add(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.accounts import AccountService, check_new_username

    check_new_username(args.username)
    with opened_store(settings) as store:
        accounts = AccountService(store)
        if accounts.has_admins():
            actor = login(args, store, stdin_is_mine=False)
            password = _new_password(args, args.username, bootstrap=False)
        else:
            actor = None
            password = _new_password(args, args.username, bootstrap=True)
        account = accounts.add_admin(actor, args.username, password, Role(args.role))
    print(f"added {account.role} {account.username}")
    return 0


def cmd_admin_passwd(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.accounts import AccountService

    with opened_store(settings) as store:
        actor = login(args, store, stdin_is_mine=False)
        target = args.username or actor.username
        password = _new_password(args, target, bootstrap=False)
        AccountService(store).change_password(actor, target, password)
    print(f"password changed for {target}")
    return 0


def cmd_admin_list(args: argparse.Namespace, settings: Settings) -> int:
    from kiosk.services.accounts import AccountService

    with opened_store(settings) as store:
        actor = login(args, store)
        accounts = AccountService(store).list_admins(actor)
    for a in accounts:
        locked = a.locked_until is not None and a.locked_until > datetime.now(UTC)
        if args.json:
            emit(
                {
                    "username": a.username,
                    "role": str(a.role),
                    "locked": locked,
                    "disabled": a.disabled,
                    "sealed": a.sealed,
                    "failed_logins": a.failed_logins,
                    "last_login": iso_utc(a.last_login_at),
                }
            )
        else:
            if not a.sealed:
                state = "NOT SEALED (not written by the kiosk: delete it)"
            elif a.disabled:
                state = "disabled"
            else:
                state = f"locked until {local_time(a.locked_until)}" if locked else "ok"
            print(
                f"{safe_text(a.username)}\t{a.role}\t{state}\t"
                f"last login {local_time(a.last_login_at)}"
            )
    return 0


def cmd_admin_door_secret(args: argparse.Namespace, settings: Settings) -> int:
    """``admin door-secret``: the webhook's signing secret, for the door controller."""
    from kiosk.services.door import reveal_door_secret

    with opened_store(settings) as store:
        actor = login(args, store)
        print(reveal_door_secret(store, settings, actor))
    return 0


def cmd_admin_change(args: argparse.Namespace, settings: Settings) -> int:
    """``admin disable|enable|delete|role USER``."""
    from kiosk.services.accounts import AccountService

    action = args.admin_action
    user = limits.check_username(args.username)
    if action == "delete" and not args.yes and not sys.stdin.isatty():
        raise InputError("deleting an account cannot be undone: confirm with --yes")
    with opened_store(settings) as store:
        actor = login(args, store)
        accounts = AccountService(store)
        if action == "delete":
            if not args.yes:
                answer = input(f"delete the account {user}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    print("not deleted")
                    return 1
            accounts.delete_account(actor, user)
            print(f"deleted the account {safe_text(user)}")
            return 0
        if action == "role":
            account = accounts.set_role(actor, user, Role(args.role))
            print(f"{account.username} is now an {account.role}")
            return 0
        account = accounts.set_disabled(actor, user, action == "disable")
    print(f"{account.username} is now {'disabled' if account.disabled else 'enabled'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``admin`` (the accounts) to the kiosk command."""

    admin = sub.add_parser(
        "admin", help="admin accounts: add, passwd, list, disable, enable, delete, role"
    )
    admin_sub = admin.add_subparsers(dest="admin_action", metavar="ACTION", required=True)
    p = admin_sub.add_parser("add", help="add an account (asks for its password)")
    p.add_argument("username", metavar="USER")
    p.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default="admin",
        help="admin (everything) or auditor (may only read the log)",
    )
    add_auth_arguments(p, stdin_help="read the NEW password from standard input")
    p.set_defaults(handler=cmd_admin_add)
    p = admin_sub.add_parser("passwd", help="change a password (yours, or anyone's as admin)")
    p.add_argument("username", metavar="USER", nargs="?", help="default: yourself")
    add_auth_arguments(p, stdin_help="read the NEW password from standard input")
    p.set_defaults(handler=cmd_admin_passwd)
    p = admin_sub.add_parser(
        "door-secret", help="print the secret that signs the door webhook ([door] sign = true)"
    )
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_admin_door_secret)
    p = admin_sub.add_parser("list", help="list the accounts")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_auth_arguments(p)
    p.set_defaults(handler=cmd_admin_list)
    for action, text in [
        ("disable", "stop an account from signing in (its actions stay in the log)"),
        ("enable", "let a disabled account sign in again"),
        ("delete", "remove an account (its actions stay in the log)"),
        ("role", "make an account an admin or an auditor"),
    ]:
        p = admin_sub.add_parser(action, help=text)
        p.add_argument("username", metavar="USER")
        if action == "role":
            p.add_argument("--role", choices=[r.value for r in Role], required=True)
        if action == "delete":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        add_auth_arguments(p)
        p.set_defaults(handler=cmd_admin_change)
