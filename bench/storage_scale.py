"""Storage at scale: fill a database with N people x T templates and E events, then time
what the kiosk and the admin tools do with it. A benchmark, not a test.

    .venv/bin/python bench/storage_scale.py                      # 100k x 10, 1M events
    .venv/bin/python bench/storage_scale.py --people 20000 --events 200000 --json out.json
    .venv/bin/python bench/storage_scale.py --url postgresql://user@host/db

Prints: time to load (decrypt) the gallery, one identification against it, one page of
the log with each filter (first page and a deep page), export rate, chain verification
rate and the database size. Targets on 2 cores: gallery load < 10 s, a log page < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, update  # noqa: E402

from kiosk.config import Settings  # noqa: E402
from kiosk.domain.access import Decision  # noqa: E402
from kiosk.domain.faces import ModelInfo  # noqa: E402
from kiosk.services.access import AccessService  # noqa: E402
from kiosk.services.accounts import Actor  # noqa: E402
from kiosk.services.audit_log import AuditLogService  # noqa: E402
from kiosk.storage.chain import (  # noqa: E402
    GENESIS,
    ChainFields,
    head_mac,
    link_hash,
    person_seal,
    rules_seal,
)
from kiosk.storage.models import (  # noqa: E402
    ChainHead,
    EventRow,
    GroupRow,
    PersonRow,
    TemplateRow,
)
from kiosk.storage.records import EventFilter, Role  # noqa: E402
from kiosk.storage.repositories import template_seal  # noqa: E402
from kiosk.storage.store import Store, open_store  # noqa: E402

MODEL = ModelInfo("bench-model", "1", "e" * 64)
KIOSKS = ["entrance", "lab", "garage", "roof"]
BATCH = 20_000


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def fill(store: Store, people: int, templates: int, events: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    figures: dict[str, float] = {}
    t0 = time.perf_counter()
    key = store.chain_key  # rows are sealed as the kiosk seals them (kiosk.storage.chain)
    with store.engine.begin() as conn:
        groups = [f"group-{g}" for g in range(20)]
        conn.execute(
            insert(GroupRow), [{"name": g, "seal": rules_seal(key, g, [], [])} for g in groups]
        )
        for start in range(0, people, BATCH):
            rows = []
            for i in range(start, min(people, start + BATCH)):
                row = {
                    "id": i + 1,
                    "name": f"Person {i + 1}",
                    "badge": f"B{i + 1:07d}",
                    "group_name": groups[i % 20],
                    "active": i % 50 != 0,
                    "notes": "",
                    "created_at": now,
                    "updated_at": now,
                }
                row["seal"] = person_seal(
                    key,
                    id=row["id"],
                    name=row["name"],
                    badge=row["badge"],
                    group=row["group_name"],
                    active=row["active"],
                    valid_from=None,
                    valid_until=None,
                    erased_at=None,
                )
                rows.append(row)
            conn.execute(insert(PersonRow), rows)
    figures["fill_people_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cipher = store.cipher
    # each person's templates scatter around a person vector, like real enrollments
    total = people * templates
    with store.engine.begin() as conn:
        for start in range(0, total, BATCH):
            stop = min(total, start + BATCH)
            owners = np.arange(start, stop) // templates
            vecs = rng.standard_normal((stop - start, 128)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            rows = []
            for n, (owner, vec) in enumerate(zip(owners, vecs, strict=True), start + 1):
                blob = cipher.encrypt_embedding(vec)
                rows.append(
                    {
                        "id": n,
                        "person_id": int(owner) + 1,
                        "embedding": blob,
                        "model_name": MODEL.name,
                        "model_version": MODEL.version,
                        "model_checksum": MODEL.checksum,
                        "quality": 0.9,
                        "source": "bench",
                        "created_at": now,
                        "crop": None,
                        "seal": template_seal(key, n, int(owner) + 1, MODEL.checksum, blob),
                    }
                )
            conn.execute(insert(TemplateRow), rows)
    figures["fill_templates_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    prev = GENESIS
    start_time = now - timedelta(days=365)
    step = timedelta(days=365) / max(1, events)
    decisions = [d.value for d in Decision]
    weights = np.array([0.80, 0.12, 0.03, 0.03, 0.01, 0.01])
    with store.engine.begin() as conn:
        for start in range(0, events, BATCH):
            stop = min(events, start + BATCH)
            picks = rng.choice(len(decisions), size=stop - start, p=weights)
            who = rng.integers(1, people + 1, size=stop - start)
            scores = rng.uniform(0.2, 1.0, size=stop - start)
            rows = []
            for j, i in enumerate(range(start, stop)):
                decision = decisions[picks[j]]
                person = None if decision in ("denied-unknown", "error") else int(who[j])
                fields = ChainFields(
                    id=i + 1,
                    time=start_time + step * i,
                    kiosk_id=KIOSKS[i % len(KIOSKS)],
                    decision=decision,
                    person_id=person,
                    score=float(scores[j]),
                    threshold=0.6,
                    model_version=MODEL.version,
                    latency_ms=85.0,
                    reason="",
                    prev_hash=prev,
                    person_name=None if person is None else f"Person {person}",
                    person_badge=None if person is None else f"B{person:07d}",
                )
                prev = link_hash(key, fields)
                row = dict(fields.__dict__)
                row["hash"] = prev
                rows.append(row)
            conn.execute(insert(EventRow), rows)
        conn.execute(
            update(ChainHead)
            .where(ChainHead.id == 1)
            .values(last_id=events, last_hash=prev, mac=head_mac(key, 1, events, prev))
        )
    figures["fill_events_s"] = time.perf_counter() - t0
    # the rows went in with plain SQL: their rosters are sealed again as the kiosk would
    with store.unit_of_work(write=True) as uow:
        for table in ("people", "templates"):
            uow.roster.rebuild(table)
        uow.commit()
    return figures


def database_size(store: Store, settings: Settings) -> int:
    if store.dialect == "sqlite":
        path = settings.sqlite_path
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--templates", type=int, default=10, help="per person")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--url", help="database URL (default: a SQLite file in --home)")
    parser.add_argument("--home", type=Path, help="state folder (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="do not fill: the data is there")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    settings = Settings(home=home, database_url=args.url)
    store = open_store(settings)
    figures: dict[str, Any] = {
        "people": args.people,
        "templates_per_person": args.templates,
        "events": args.events,
        "database": store.dialect,
        "cpus": os.cpu_count(),
    }
    print(f"database: {store.dialect} in {home}", flush=True)
    if not args.reuse:
        figures.update(fill(store, args.people, args.templates, args.events, args.seed))
        print(
            f"filled in {figures['fill_people_s']:.1f} + {figures['fill_templates_s']:.1f} + "
            f"{figures['fill_events_s']:.1f} s",
            flush=True,
        )
    store.close()

    # start-up as the kiosk does it: open (schema check, key) and decrypt the gallery
    t0 = time.perf_counter()
    service = AccessService(open_store(settings), settings)
    embeddings, labels = service.load_gallery(MODEL)
    figures["gallery_load_s"] = time.perf_counter() - t0
    figures["gallery_templates"] = len(labels)
    print(f"gallery load: {figures['gallery_load_s']:.2f} s for {len(labels)} templates")

    from kiosk.vision.matcher import Gallery

    t_build, gallery = timed(lambda: Gallery(embeddings, labels))
    query = embeddings[len(labels) // 2 : len(labels) // 2 + 1] + 0.01
    t_search, matches = timed(lambda: gallery.search(query, 0.6, 0.03), repeat=5)
    figures["gallery_build_s"] = t_build
    figures["identify_one_ms"] = t_search * 1000
    print(f"identify one face: {t_search * 1000:.1f} ms (gallery build {t_build:.2f} s)")

    store = service.store
    audit = AuditLogService(store, settings)
    actor = Actor("bench", Role.AUDITOR)
    now = datetime.now(UTC)
    filters = {
        "none": EventFilter(),
        "since_until_1day": EventFilter(
            since=now - timedelta(days=200), until=now - timedelta(days=199)
        ),
        "person": EventFilter(person_id=max(1, args.people // 3)),
        "decision_rare": EventFilter(decision="denied-spoof"),
        "decision_common": EventFilter(decision="allowed"),
        "kiosk": EventFilter(kiosk_id="lab"),
        "kiosk_and_decision": EventFilter(kiosk_id="lab", decision="denied-schedule"),
    }
    pages: dict[str, dict[str, float]] = {}
    for name, flt in filters.items():
        first_s, page = timed(lambda flt=flt: audit.page(actor, flt, limit=50), repeat=3)
        deep_s, _ = timed(
            lambda flt=flt: audit.page(actor, flt, before_id=max(1, args.events // 10), limit=50),
            repeat=3,
        )
        pages[name] = {"first_ms": first_s * 1000, "deep_ms": deep_s * 1000, "rows": len(page)}
        print(
            f"log page, filter {name:20s}: first {first_s * 1000:7.1f} ms, "
            f"deep {deep_s * 1000:7.1f} ms ({len(page)} rows)"
        )
    figures["log_page"] = pages

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "log.csv"
        t_export, rows = timed(lambda: audit.export_csv(actor, target))
        figures["export_rows_per_s"] = rows / t_export
        figures["export_s"] = t_export
        figures["export_bytes"] = target.stat().st_size
    print(f"export: {rows} rows in {t_export:.1f} s = {rows / t_export:,.0f} rows/s")

    t_verify, report = timed(lambda: audit.verify(actor))
    figures["verify_s"] = t_verify
    print(f"verify: {report.describe()} in {t_verify:.1f} s")

    figures["database_bytes"] = database_size(store, settings)
    print(f"database size: {figures['database_bytes'] / 2**20:,.0f} MiB")
    service.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
