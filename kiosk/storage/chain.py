"""The tamper-evident access log: each event carries an HMAC over its content and the
previous event's HMAC.

The HMAC key is derived from the encryption key, which lives outside the database, so
someone who can write to the database alone cannot forge a consistent chain. ``verify``
walks the chain in order and names the first row that was altered, inserted or deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


def chain_key(encryption_key_material: bytes) -> bytes:
    return hashlib.sha256(b"kiosk access-log chain\0" + encryption_key_material).digest()


@dataclass(frozen=True)
class ChainFields:
    """What the hash covers: every stored column of an event except the hash itself."""

    id: int
    time: datetime
    kiosk_id: str
    decision: str
    person_id: int | None
    score: float | None
    threshold: float | None
    model_version: str | None
    latency_ms: float | None
    reason: str
    prev_hash: str


def canonical(fields: ChainFields) -> bytes:
    when = fields.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    values = [
        fields.id,
        when,
        fields.kiosk_id,
        fields.decision,
        fields.person_id,
        None if fields.score is None else float(fields.score),
        None if fields.threshold is None else float(fields.threshold),
        fields.model_version,
        None if fields.latency_ms is None else float(fields.latency_ms),
        fields.reason,
        fields.prev_hash,
    ]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def link_hash(key: bytes, fields: ChainFields) -> str:
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """The outcome of ``log verify``."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"access log intact: {self.checked} events, hash chain verified"
        return f"access log TAMPERED: {self.problem}"


def verify_chain(
    key: bytes,
    rows: Iterable[tuple[ChainFields, str]],
    head: tuple[int, str] | None,
) -> ChainReport:
    """Check ``rows`` (fields, stored hash) in id order against the chain head.

    Rows must come in ascending id order; ids start at 1 and have no gaps."""
    expected_id = 1
    prev_hash = GENESIS
    checked = 0
    head_id = head[0] if head else 0
    for fields, stored in rows:
        if fields.id > head_id:
            return ChainReport(
                False,
                checked,
                fields.id,
                f"event {fields.id} was inserted after the last recorded event {head_id}",
            )
        if fields.id != expected_id:
            missing = (
                f"event {expected_id}"
                if fields.id == expected_id + 1
                else f"events {expected_id} to {fields.id - 1}"
            )
            return ChainReport(False, checked, expected_id, f"{missing} deleted")
        own = link_hash(key, fields)
        if own != stored:
            return ChainReport(
                False,
                checked,
                fields.id,
                f"event {fields.id} was altered (its hash does not match)",
            )
        if fields.prev_hash != prev_hash:
            return ChainReport(
                False,
                checked,
                fields.id,
                f"event {fields.id} does not follow event {fields.id - 1}: an event before it "
                "was replaced or inserted",
            )
        prev_hash = stored
        expected_id += 1
        checked += 1
    if head is not None and checked < head_id:
        first = checked + 1
        what = f"event {first}" if first == head_id else f"events {first} to {head_id}"
        return ChainReport(False, checked, first, f"{what} deleted from the end of the log")
    if head is not None and head[1] != prev_hash:
        return ChainReport(False, checked, head_id, f"event {head_id} was replaced")
    return ChainReport(True, checked)
