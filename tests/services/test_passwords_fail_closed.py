"""Issue 25, item 8: passwords. A long password is judged, not a traceback; one short word
with a year and symbols is refused; a password cannot be "changed" to itself."""

from __future__ import annotations

import pytest

from kiosk.errors import InputError
from kiosk.services.accounts import AccountService, Actor, password_problem
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
