"""Issue 25, item 8: passwords and names. A long password is judged, not a traceback; one
short word with a year and symbols is refused; a password cannot be "changed" to itself; a
password typed into the user-name field is not kept in clear; invisible characters are
refused in names and a name has one spelling (NFC)."""

from __future__ import annotations

import pytest

from kiosk.errors import InputError
from kiosk.services.accounts import AccountService, Actor, AuthError, password_problem
from kiosk.storage.store import Store

from .conftest import PASSWORD


@pytest.mark.parametrize("length", [73, 120, 200])
def test_a_long_password_is_judged_not_a_traceback(length: int) -> None:
    weak = ("a" * length)[:length]
    assert password_problem(weak, "root") is not None
    strong = ("orchard-9-lantern-copper-" * 10)[:length]
    assert password_problem(strong, "root") is None


@pytest.mark.parametrize("weak", ["Admin2026!!!", "Kiosk2026!!!", "Winter2026!!", "!!Summer1999!"])
def test_one_word_with_a_year_and_symbols_is_refused(weak: str) -> None:
    assert "one short word" in (password_problem(weak, "root") or "")


def test_a_password_cannot_be_changed_to_itself(store: Store, admin: Actor) -> None:
    accounts = AccountService(store)
    with pytest.raises(InputError, match="the current one"):
        accounts.change_password(admin, "root", PASSWORD)
    accounts.change_password(admin, "root", "orchard-9-lantern-copper")
    assert accounts.authenticate("root", "orchard-9-lantern-copper").username == "root"


def test_a_password_typed_as_the_user_name_is_not_logged_in_clear(
    store: Store, admin: Actor
) -> None:
    accounts = AccountService(store)
    for _ in range(2):
        with pytest.raises(AuthError):
            accounts.authenticate("Orchard-9-lantern", "x")
    failed = [a.target for a in accounts.actions(admin) if a.action == "login-failed"]
    assert len(failed) == 2 and failed[0] == failed[1]  # the same name: the same mark
    assert "lantern" not in failed[0] and "Orchard" not in failed[0]


@pytest.mark.parametrize(
    "name", ["Ada\u200bLovelace", "Ada\u200dLovelace", "\u200eAda", "Ada\ufeff"]
)
def test_invisible_characters_are_refused_in_names(store: Store, name: str) -> None:
    with store.unit_of_work(write=True) as uow, pytest.raises(InputError, match="invisible"):
        uow.people.add(name=name, badge="A1")


def test_names_are_stored_in_one_spelling(store: Store) -> None:
    with store.unit_of_work(write=True) as uow:
        person = uow.people.add(name="Rene\u0301", badge="R1")  # e + combining accent
    assert person.name == "Ren\u00e9"
