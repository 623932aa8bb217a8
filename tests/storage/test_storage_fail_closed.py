"""Issue 25: the holes an insider with write access to the database, or a fault, could
still open. Each attack is plain SQL on the database (SQLite file and PostgreSQL) without
the key, then the kiosk's own commands and start-up are run; on the code before this
change each of them said "intact", started, or opened without a record.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.domain.access import AccessEvent, Decision
from kiosk.services.access import open_access_service
from kiosk.storage import anchor
from kiosk.storage.errors import StorageError

from .site import Site


def _rollback_to(site: Site, n: int, head: tuple[object, ...]) -> None:
    """Put the access log back to its first ``n`` events with the authentic head row it
    had then, as restoring an older copy of the database would."""
    site.sql("DELETE FROM events WHERE id > :n", n=n)
    site.sql(
        "UPDATE chain_head SET last_id = :n, last_hash = :h, mac = :m WHERE id = 1",
        n=head[0],
        h=head[1],
        m=head[2],
    )


def _new_events(site: Site, n: int) -> None:
    """``n`` events unlike any before (the site's are the same each call)."""
    with site.store() as store:
        for _ in range(n):
            with store.unit_of_work(write=True) as uow:
                uow.events.append(
                    AccessEvent(
                        time=datetime.now(UTC),
                        kiosk_id="front",
                        decision=Decision.DENIED_UNKNOWN,
                        reason="after the rollback",
                    )
                )
                uow.commit()


def _kiosk_starts(site: Site) -> None:
    open_access_service(site.settings).close()


def test_a_rollback_stays_named_after_the_log_grows(site: Site) -> None:
    site.events(6)
    old_head = tuple(site.sql("SELECT last_id, last_hash, mac FROM chain_head WHERE id = 1")[0])
    site.events(2)
    _rollback_to(site, 6, old_head)
    # the kiosk does not start on a database older than its checkpoint
    with pytest.raises(StorageError, match="older than its checkpoint file"):
        _kiosk_starts(site)
    _new_events(site, 3)  # 9 events now: more than the checkpoint's newest count before (8)
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "event 7 is not the one recorded in the checkpoint file" in out
    with pytest.raises(StorageError, match="event 7 of the access log is not the one"):
        _kiosk_starts(site)
    # an admin acknowledges it, recorded; then the kiosk starts and verify is clean
    code, out, _ = site.run("log", "acknowledge")
    assert code == 0 and "acknowledged: event 7" in out
    code, out, _ = site.run("log", "admin-actions", "--action", "acknowledge-rollback")
    assert "event 7" in out
    _kiosk_starts(site)
    assert site.run("log", "verify")[0] == 0
    code, out, _ = site.run("log", "acknowledge")
    assert code == 0 and "nothing to acknowledge" in out


def test_the_evidence_of_a_rollback_survives_compaction(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anchor, "COMPACT_BYTES", 1500)  # compacted every few lines
    site.events(8)
    old_head = tuple(site.sql("SELECT last_id, last_hash, mac FROM chain_head WHERE id = 1")[0])
    site.events(4)
    _rollback_to(site, 8, old_head)
    _new_events(site, 30)  # many compactions later
    path = site.settings.home / "kiosk.db-anchor"
    if path.exists():
        assert len(path.read_text().splitlines()) < 30
    code, out, _ = site.run("log", "verify")
    assert code == 1 and "is not the one recorded in the checkpoint file" in out
    with pytest.raises(StorageError, match="older than its checkpoint file"):
        _kiosk_starts(site)


def test_a_cut_log_stops_the_kiosk_from_starting(site: Site) -> None:
    site.events(5)
    _kiosk_starts(site)
    site.sql("DELETE FROM events WHERE id > 3")
    with pytest.raises(StorageError, match="holds no event 5"):
        _kiosk_starts(site)
