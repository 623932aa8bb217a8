"""A field that names one person: type part of a name or badge and pick from the list.

Used by the access log's filter (auditors may use it: it reads names and badges only).
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal, Slot
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from kiosk.errors import KioskError
from kiosk.services.accounts import Actor
from kiosk.services.people import PeopleService
from kiosk.storage.records import PersonRecord

#: at most this many people are offered in the list
SUGGESTIONS = 20


class PersonNotFound(KioskError):
    """The text names nobody, or several people (the message says which)."""


def person_label(record: PersonRecord) -> str:
    return f"{record.person.name} ({record.person.badge})"


class PersonField(QLineEdit):
    """The text field with its drop-down of matching people. ``picked`` is emitted when
    the admin chooses one from the list."""

    picked = Signal()

    def __init__(self, people: PeopleService, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.people = people
        self.actor = actor
        #: the person the field names, once chosen from the list or resolved
        self.person: PersonRecord | None = None
        self._suggested: dict[str, PersonRecord] = {}
        self.setObjectName("personFilter")
        self.setPlaceholderText("person: name or badge (anyone)")
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(220)
        self.person_list = QStringListModel(self)
        self.completer_ = QCompleter(self.person_list, self)
        self.completer_.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer_.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompleter(self.completer_)
        self.textEdited.connect(self._suggest)
        self.completer_.activated[str].connect(self.pick)  # type: ignore[index]

    def _offer(self, found: list[PersonRecord]) -> None:
        self._suggested = {person_label(r): r for r in found}
        self.person_list.setStringList(list(self._suggested))

    @Slot(str)
    def _suggest(self, text: str) -> None:
        """Fill the drop-down with the people whose name or badge contains ``text``."""
        self.person = None
        try:
            found = (
                self.people.find(self.actor, text, limit=SUGGESTIONS)
                if len(text.strip()) >= 2
                else []
            )
        except KioskError:
            found = []
        self._offer(found)

    @Slot(str)
    def pick(self, label: str) -> None:
        """Choose the person offered as ``label``."""
        self.person = self._suggested.get(label)
        self.setText(label)
        self.picked.emit()

    def resolve(self) -> PersonRecord | None:
        """The person the text names (``None``: the field is empty). Raises
        :class:`PersonNotFound` when it names nobody, or several people, whom the
        drop-down then offers."""
        text = self.text().strip()
        if not text:
            self.person = None
            return None
        if self.person is not None and person_label(self.person) == text:
            return self.person
        found = self.people.find(self.actor, text, limit=SUGGESTIONS)
        if len(found) == 1:
            self.person = found[0]
            self.setText(person_label(self.person))
            return self.person
        self.person = None
        if not found:
            raise PersonNotFound(f"No person's name or badge contains “{text}”.")
        self._offer(found)
        self.completer_.complete()
        more = "+" if len(found) >= SUGGESTIONS else ""
        raise PersonNotFound(
            f"{len(found)}{more} people match “{text}”: choose one from the list (or type "
            "more of the name, or the badge)."
        )
