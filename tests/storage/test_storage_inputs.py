"""Issue 12: one boundary for every input. The same limits on SQLite and PostgreSQL,
control characters refused before any write, dates out of range and huge numbers as one
line with exit 2, an unknown group refused with the known ones listed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.errors import InputError
from kiosk.storage import limits
from kiosk.storage.store import Store

from .site import Site

FORGED = "Eve\nenrolled Mallory (badge M1): 9 photo(s) stored"


def counts(site: Site) -> tuple[int, ...]:
    return tuple(
        int(site.sql(f"SELECT count(*) FROM {table}")[0][0])
        for table in ("people", "templates", "events", "admins", "access_groups")
    )


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"name": "N" * 10_000}, "10000 characters long"),
        ({"group": "g" * 300}, "300 characters long"),
        ({"badge": "B" * 101}, "101 characters long"),
        ({"name": FORGED}, "control character"),
        ({"badge": "A1\x1b[2J"}, "control character"),
        ({"name": "Eve\u202eM1"}, "text-direction override"),
        ({"name": "Eve\u2028Mallory"}, "line separator"),
        ({"name": "   "}, "empty"),
    ],
)
def test_people_fields_have_the_same_limits_on_both_databases(
    store: Store, changes: dict[str, str], words: str
) -> None:
    values = {"name": "Ada", "badge": "A1", **changes}
    with store.unit_of_work(write=True) as uow, pytest.raises(InputError, match=words):
        uow.people.add(**values)
    with store.unit_of_work() as uow:
        assert uow.people.count() == 0


def test_the_longest_allowed_values_are_stored_on_both_databases(store: Store) -> None:
    name, badge, group = "N" * limits.NAME_MAX, "B" * limits.BADGE_MAX, "g" * limits.GROUP_MAX
    with store.unit_of_work(write=True) as uow:
        person = uow.people.add(name=name, badge=badge, group=group)
        uow.commit()
    with store.unit_of_work() as uow:
        got = uow.people.get(person.id)
    assert got is not None and (got.name, got.badge, got.group) == (name, badge, group)


def test_a_huge_or_control_character_user_name_is_refused(store: Store) -> None:
    with store.unit_of_work(write=True) as uow, pytest.raises(InputError):
        uow.admins.add("u" * 101, "scrypt$x", limits_role(), generation=1)
    with store.unit_of_work(write=True) as uow, pytest.raises(InputError, match="control"):
        uow.admins.add("eve\n", "scrypt$x", limits_role(), generation=1)


def limits_role():  # type: ignore[no-untyped-def]
    from kiosk.storage.records import Role

    return Role.ADMIN


def test_times_out_of_range_are_refused(store: Store) -> None:
    with store.unit_of_work(write=True) as uow, pytest.raises(InputError, match="out of range"):
        uow.people.add(name="Ada", badge="A1", valid_from=datetime(1, 1, 2, tzinfo=UTC))


# -- through the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["enroll", "--name", FORGED, "--badge", "M1", "x.jpg"],
        ["enroll", "--name", "Eve", "--badge", "B\t1", "x.jpg"],
        ["enroll", "--name", "N" * 10_000, "--badge", "N1", "x.jpg"],
        ["enroll", "--name", "Ada", "--badge", "A1", "--group", "g" * 300, "x.jpg"],
        ["enroll", "--name", "Ada", "--badge", "A1", "--valid-from", "0001-01-01", "x.jpg"],
        ["log", "list", "--since", "0001-01-01"],
        ["log", "list", "--until", "9999-12-31T23:59:59-05:00"],
        ["log", "list", "--limit", "1" + "0" * 30],
        ["log", "list", "--before", "99999999999999999999999"],
        ["log", "list", "--kiosk", "k\x1b]0;owned\x07"],
        ["log", "admin-actions", "--limit", "-5"],
        ["templates", "remove", "99999999999999999999999"],
        ["people", "show", "--badge", "A1\nA2"],
        ["admin", "add", "eve\n", "--role", "auditor"],
        ["admin", "add", "e" * 200, "--role", "auditor"],
    ],
)
def test_bad_arguments_are_one_line_exit_2_and_write_nothing(site: Site, args: list[str]) -> None:
    before = counts(site)
    actions = site.sql("SELECT count(*) FROM admin_actions")[0][0]
    code, out, err = site.run(*args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert counts(site) == before
    assert site.sql("SELECT count(*) FROM admin_actions")[0][0] == actions  # not even a sign-in


def test_an_unknown_group_is_refused_with_the_known_ones(site: Site) -> None:
    site.person("Ada", "A1", group="staff")
    site.person("Vic", "V1", group="visitors")
    before = counts(site)
    code, _, err = site.run("enroll", "--name", "Bo", "--badge", "B1", "--group", "staf", "x.jpg")
    assert code == 2 and err.count("\n") == 1
    assert "there is no group 'staf' (known groups: staff, visitors)" in err
    assert "--new-group" in err
    assert counts(site) == before
