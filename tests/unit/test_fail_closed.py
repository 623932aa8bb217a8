"""Issue 25, item 2: no door opening without a record. An event that cannot be written
(a full disk, a row planted to block the log) turns an allowed person into "please see
staff" with an alert, and the door is not told to open."""

from __future__ import annotations

from kiosk.domain.access import AccessEvent, Decision, Person
from kiosk.services.loop_messages import DoorReport, Notice

from .test_kiosk_loop import FakeDoor, FakeStore, _decided, _feed, _loop


class FullDisk(FakeStore):
    def record_event(self, event: AccessEvent) -> int:
        raise OSError("No space left on device")


def test_an_entry_that_cannot_be_recorded_does_not_open_the_door() -> None:
    door = FakeDoor()
    loop, out, clock = _loop(FullDisk([Person(7, "Ada", "B7")]), door)
    _feed(loop, clock, 7, 5)
    assert door.requests == []
    assert not any(isinstance(o, DoorReport) for o in out)
    decided = _decided(out)
    assert [d.decision for d in decided] == [Decision.ERROR]
    assert decided[0].message.startswith("Please see staff")
    notices = [o.message for o in out if isinstance(o, Notice)]
    assert any("No space left" in n and "nobody is let in" in n for n in notices)


def test_the_door_opens_once_the_entry_is_recorded() -> None:
    store, door = FakeStore([Person(7, "Ada", "B7")]), FakeDoor()
    loop, out, clock = _loop(store, door)
    _feed(loop, clock, 7, 5)
    assert [e.decision for e in store.events] == [Decision.ALLOWED]
    assert [r.person_id for r in door.requests] == [7]
    # the record came first: the decision is shown after it was written
    assert [d.decision for d in _decided(out)] == [Decision.ALLOWED]
