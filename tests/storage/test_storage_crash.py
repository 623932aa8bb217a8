"""A real process killed with SIGKILL in the middle of enrollments and event bursts leaves
a consistent database: no half-enrolled person, no lost acknowledged event, an intact
hash chain, and a database that takes new writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from kiosk.config import Settings
from kiosk.domain.access import AccessEvent, Decision
from kiosk.storage.models import TemplateRow
from kiosk.storage.store import open_store

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WRITER = HERE / "writer_process.py"


def writer_env(settings: Settings, kiosk_id: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        KIOSK_HOME=str(settings.home),
        KIOSK_DATABASE_URL=settings.effective_database_url,
        KIOSK_KIOSK_ID=kiosk_id,
    )
    env.pop("KIOSK_ENCRYPTION_KEY", None)
    return env


def start_writer(settings: Settings, kiosk_id: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        env=writer_env(settings, kiosk_id),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Acks:
    """Collects a writer's acknowledgements as they arrive."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.events: list[int] = []
        self.people: list[int] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, _, value = line.strip().partition(" ")
            (self.events if kind == "E" else self.people).append(int(value))

    def join(self) -> None:
        self._thread.join(timeout=30)


def test_kill_9_mid_burst_leaves_a_consistent_database(settings: Settings) -> None:
    open_store(settings).close()  # schema and key exist before the writer starts
    rounds = []
    for round_no, delay in enumerate((1.0, 1.7)):
        proc = start_writer(settings, f"crash-{round_no}", "mixed", "60", "0")
        acks = Acks(proc)
        # wait until it is busy writing, then kill it at an arbitrary moment
        deadline = time.monotonic() + 60
        while len(acks.events) < 30 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(delay)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        acks.join()
        assert proc.returncode == -signal.SIGKILL
        rounds.append(acks)

    with open_store(settings) as store, store.unit_of_work() as uow:
        report = uow.events.verify()
        assert report.ok, report.describe()
        total = uow.events.count()
        acknowledged = [e for a in rounds for e in a.events]
        assert len(acknowledged) >= 60
        assert max(acknowledged) <= total  # nothing acknowledged was lost
        # every person has all of their templates (enrollment is one transaction)
        per_person = uow.session.execute(
            select(TemplateRow.person_id, func.count()).group_by(TemplateRow.person_id)
        ).all()
        assert per_person and {n for _, n in per_person} == {5}
        people = uow.people.count()
        assert people == len(per_person)
        assert people >= sum(len(a.people) for a in rounds)

    # the database takes new writes after the crash and the chain goes on
    with open_store(settings) as store:
        with store.unit_of_work(write=True) as uow:
            new_id = uow.events.append(
                AccessEvent(time=datetime.now(UTC), kiosk_id="after", decision=Decision.ERROR)
            )
            uow.commit()
        assert new_id == total + 1
        with store.unit_of_work() as uow:
            assert uow.events.verify().ok


def test_kill_9_inside_an_enrollment_leaves_no_half_enrolled_person(settings: Settings) -> None:
    open_store(settings).close()
    proc = start_writer(settings, "stall", "stall", "120", "0")
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the person and templates are written, not committed
    assert line.strip() == "S", proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with open_store(settings) as store:
        with store.unit_of_work(write=True) as uow:  # the lock died with the process
            assert uow.people.count() == 0
            assert uow.templates.count() == 0
            assert uow.events.count() == 0
            uow.events.append(
                AccessEvent(time=datetime.now(UTC), kiosk_id="after", decision=Decision.ERROR)
            )
            uow.commit()
        with store.unit_of_work() as uow:
            report = uow.events.verify()
            assert report.ok and report.checked == 1
