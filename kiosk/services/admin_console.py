"""What is left of the console's former catch-all service, waiting for its owners.

The console's use cases now live in their own services (``people``, ``enrollment``,
``access_rules``, ``log_browser``, ``accounts``), shared with the command line. Two parts
stay here until they move: the security level (distance statistics from the enrolled
people, the threshold written to the config file and recorded with who set it), which
goes to ``kiosk.services.security_level``; and the CSV export with progress and cancel
and the chain check of the audit-log window, which become the audit-log service's one
export and one chain check.

No Qt here: the windows in ``kiosk.ui.admin`` call these from worker threads.
"""

from __future__ import annotations

import csv
import math
import os
import re
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from kiosk.config import DEFAULT_THRESHOLD, Settings
from kiosk.domain.faces import FloatArray
from kiosk.errors import InputError
from kiosk.services.accounts import AccountService, Actor
from kiosk.services.audit_log import CSV_COLUMNS, event_row
from kiosk.storage.chain import ChainFields, ChainReport, verify_chain
from kiosk.storage.models import (
    ChainHead,
    EventRow,
    PersonRow,
    TemplateRow,
)
from kiosk.storage.records import EventFilter, Role
from kiosk.storage.store import Store

# -- security level ----------------------------------------------------------------------

#: Named security levels: (name, threshold, words). Lower thresholds reject more
#: strangers and, with them, more poor photos of enrolled people.
SECURITY_LEVELS: tuple[tuple[str, float, str], ...] = (
    ("Normal", DEFAULT_THRESHOLD, "the recommended balance (chosen on the LFW development photos)"),
    ("Secure", 0.55, "fewer strangers accepted; enrolled people may need a second look"),
    ("Most secure", 0.50, "strangers almost never accepted; good light and enrollment needed"),
)


def level_name(threshold: float) -> str:
    for name, value, _ in SECURITY_LEVELS:
        if abs(value - threshold) < 1e-6:
            return name
    return "Custom"


@dataclass(frozen=True)
class DistanceStats:
    """How far apart the same person's templates are (genuine) and how close different
    people come (impostor), from the enrolled people themselves."""

    genuine: FloatArray
    impostor: FloatArray
    people: int
    templates: int
    sampled: bool

    def false_accept_rate(self, threshold: float) -> float:
        """Per comparison: the share of different-person pairs closer than the threshold."""
        if self.impostor.size == 0:
            return 0.0
        return float(np.mean(self.impostor < threshold))

    def false_reject_rate(self, threshold: float) -> float:
        if self.genuine.size == 0:
            return 0.0
        return float(np.mean(self.genuine >= threshold))

    #: below this many different-people pairs under the threshold, the share is too
    #: noisy to use as it is, and a normal distribution fitted to the pairs is used
    MIN_MEASURED = 20

    def false_accept_estimate(self, threshold: float) -> tuple[float, bool]:
        """(per-comparison false-accept chance, measured?). Measured when enough pairs
        fall under the threshold; otherwise the tail of a normal distribution fitted to
        the different-people distances (an estimate: real tails can be heavier)."""
        if self.impostor.size == 0:
            return 0.0, False
        below = int(np.count_nonzero(self.impostor < threshold))
        if below >= self.MIN_MEASURED:
            return below / self.impostor.size, True
        mu = float(self.impostor.mean())
        sd = float(self.impostor.std()) or 1e-3
        fitted = 0.5 * math.erfc((mu - threshold) / (sd * math.sqrt(2.0)))
        return max(fitted, below / self.impostor.size), False

    def stranger_acceptance(self, threshold: float, enrolled: int | None = None) -> float:
        """The chance that one attempt by a stranger matches any of ``enrolled`` people:
        1 - (1 - p)^N, with p the per-comparison false-accept chance."""
        n = self.people if enrolled is None else enrolled
        p, _ = self.false_accept_estimate(threshold)
        return 1.0 - (1.0 - p) ** max(0, n)


class AdminConsole:
    """The security level, and the audit-log window's export and chain check, for one
    open database (thread-safe: each call is its own unit of work)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.accounts = AccountService(store)
        self.threshold = settings.vision.threshold

    # -- security level ------------------------------------------------------------------

    def distance_stats(
        self, actor: Actor, *, max_templates: int = 3000, seed: int = 0
    ) -> DistanceStats:
        """Genuine and impostor distances among the enrolled templates. Above
        ``max_templates``, whole people are drawn at random until that many templates
        are in (so there are same-person pairs in the sample), and only those are
        decrypted: the page opens quickly on a site with a million templates."""
        actor.require(Role.ADMIN)
        with self.store.unit_of_work() as uow:
            # the model most templates come from (others cannot be compared with them);
            # no need to load the network for this page
            checksum = uow.session.scalar(
                select(TemplateRow.model_checksum)
                .group_by(TemplateRow.model_checksum)
                .order_by(func.count().desc())
                .limit(1)
            )
            if checksum is None:
                return compute_distance_stats(np.zeros((0, 128), np.float32), [])
            pairs = uow.session.execute(
                select(TemplateRow.id, TemplateRow.person_id)
                .join(PersonRow, PersonRow.id == TemplateRow.person_id)
                .where(PersonRow.erased_at.is_(None), TemplateRow.model_checksum == checksum)
            ).all()
            by_person: dict[int, list[int]] = {}
            for template_id, person_id in pairs:
                by_person.setdefault(int(person_id), []).append(int(template_id))
            people = len(by_person)
            chosen: list[tuple[int, int]] = []
            order = list(by_person)
            if len(pairs) > max_templates:
                np.random.default_rng(seed).shuffle(order)
            for person_id in order:
                if len(chosen) >= max_templates:
                    break
                chosen += [(t, person_id) for t in by_person[person_id]]
            blobs: dict[int, bytes] = {}
            ids = [t for t, _ in chosen]
            for start in range(0, len(ids), 500):  # within SQLite's parameter limit
                part = ids[start : start + 500]
                query = select(TemplateRow.id, TemplateRow.embedding).where(
                    TemplateRow.id.in_(part)
                )
                for template_id, blob in uow.session.execute(query):
                    blobs[int(template_id)] = blob
            cipher = self.store.cipher
            embeddings = (
                cipher.decrypt_embeddings([blobs[t] for t in ids])
                if ids
                else np.zeros((0, 128), np.float32)
            )
        stats = compute_distance_stats(embeddings, [p for _, p in chosen], max_templates=len(ids))
        return DistanceStats(
            stats.genuine, stats.impostor, people, len(pairs), len(chosen) < len(pairs)
        )

    def enrolled_count(self) -> int:
        with self.store.unit_of_work() as uow:
            return uow.people.count(active_only=True)

    def set_threshold(self, actor: Actor, threshold: float, level: str) -> Path:
        """Write the threshold to the config file (``[vision] threshold``) that every
        kiosk of this home reads at start, and record who changed it from what."""
        actor.require(Role.ADMIN)
        if not 0.2 <= threshold <= 1.0:
            raise InputError("choose a threshold between 0.20 and 1.00")
        path = Path(os.environ.get("KIOSK_CONFIG", str(self.settings.home / "kiosk.toml")))
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        new_text = set_toml_value(text, "vision", "threshold", f"{threshold:.3f}")
        try:
            tomllib.loads(new_text)
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - a bug, not a user error
            raise InputError(f"cannot update {path}: {exc}") from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            partial.write_text(new_text, encoding="utf-8")
            os.replace(partial, path)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        old = self.threshold
        self.threshold = threshold
        self.accounts.record_action(
            actor, "threshold", "vision.threshold", old=old, new=threshold, level=level
        )
        return path

    def threshold_history(self, actor: Actor, limit: int = 20) -> list[tuple[datetime, str, str]]:
        with self.store.unit_of_work() as uow:
            actions = uow.audit.list(limit=limit, action="threshold")
        return [(a.time, a.admin or "-", a.details) for a in actions]

    def export_csv(
        self,
        actor: Actor,
        target: Path,
        flt: EventFilter | None,
        *,
        progress: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        every: int = 2000,
    ) -> int:
        """Write the filtered log as CSV (oldest first), streaming, reporting progress
        every ``every`` rows; a stopped or failed export leaves no file behind."""
        actor.require(Role.AUDITOR)
        partial = target.with_name(target.name + ".partial")
        count = 0
        try:
            with (
                open(partial, "w", newline="", encoding="utf-8") as f,
                self.store.unit_of_work() as uow,
            ):
                writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                for logged in uow.events.stream(flt):
                    writer.writerow(event_row(logged))
                    count += 1
                    if count % every == 0:
                        if stop is not None and stop.is_set():
                            raise _Stopped
                        if progress is not None:
                            progress(count)
            os.replace(partial, target)
        except _Stopped:
            partial.unlink(missing_ok=True)
            raise InputError("export cancelled; no file was written") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        if progress is not None:
            progress(count)
        self.accounts.record_action(
            actor, "export-log", str(target), rows=count, filter=str(flt or "")
        )
        return count

    def verify_chain(
        self,
        actor: Actor,
        *,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
        batch: int = 10_000,
    ) -> ChainReport | None:
        """Check the hash chain; ``None`` when stopped before the end."""
        actor.require(Role.AUDITOR)
        stopped = False
        with self.store.unit_of_work() as uow:
            session = uow.session
            head_row = session.get(ChainHead, 1)
            head = None if head_row is None else (head_row.last_id, head_row.last_hash)
            query = (
                select(
                    EventRow.id,
                    EventRow.time,
                    EventRow.kiosk_id,
                    EventRow.decision,
                    EventRow.person_id,
                    EventRow.score,
                    EventRow.threshold,
                    EventRow.model_version,
                    EventRow.latency_ms,
                    EventRow.reason,
                    EventRow.prev_hash,
                    EventRow.hash,
                )
                .order_by(EventRow.id)
                .execution_options(yield_per=batch)
            )

            def rows() -> Iterator[tuple[ChainFields, str]]:
                nonlocal stopped
                for i, r in enumerate(session.execute(query)):
                    if i % batch == 0:
                        if stop is not None and stop.is_set():
                            stopped = True
                            return
                        if progress is not None:
                            progress(i)
                    values: tuple[Any, ...] = tuple(r)
                    yield ChainFields(*values[:11]), str(values[11])

            report = verify_chain(self.store.chain_key, rows(), head)
        return None if stopped else report


class _Stopped(Exception):
    pass


def compute_distance_stats(
    embeddings: FloatArray, labels: Sequence[int], *, max_templates: int = 3000, seed: int = 0
) -> DistanceStats:
    """All pairwise distances of (at most ``max_templates``) templates, split into
    same-person and different-person pairs."""
    labels_arr = np.asarray(labels)
    n = len(labels_arr)
    people = len(set(labels_arr.tolist()))
    sampled = n > max_templates
    if sampled:
        pick = np.random.default_rng(seed).choice(n, max_templates, replace=False)
        embeddings, labels_arr = embeddings[pick], labels_arr[pick]
    x = np.asarray(embeddings, dtype=np.float64)
    if len(x) < 2:
        empty = np.zeros(0, np.float32)
        return DistanceStats(empty, empty, people, n, sampled)
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    iu = np.triu_indices(len(x), 1)
    dist = np.sqrt(d2[iu]).astype(np.float32)
    same = labels_arr[iu[0]] == labels_arr[iu[1]]
    return DistanceStats(dist[same], dist[~same], people, n, sampled)


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


def set_toml_value(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``[section] key = value`` set, the rest (comments too) unchanged."""
    lines = text.splitlines()
    current: str | None = None
    section_end: int | None = None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m:
            if current == section:
                section_end = i
                break
            current = m.group(1).strip()
            continue
        if current == section and key_re.match(line):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    if current == section:
        insert_at = section_end if section_end is not None else len(lines)
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
        lines.insert(insert_at, f"{key} = {value}")
        return "\n".join(lines) + "\n"
    if lines and lines[-1].strip():
        lines.append("")
    lines += [f"[{section}]", f"{key} = {value}"]
    return "\n".join(lines) + "\n"


def stranger_acceptance_text(chance: float) -> str:
    if chance <= 0:
        return "none seen"
    if chance >= 0.5:
        return f"{chance:.0%}"
    return f"about 1 in {max(1, round(1 / chance)):,}"
