"""Face templates: encrypted embeddings and crops, each sealed to its person."""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from kiosk.domain.faces import FloatArray, ModelInfo
from kiosk.storage import limits
from kiosk.storage.chain import same
from kiosk.storage.crypto import EMBEDDING_DIM, PURPOSE_CROP, Cipher
from kiosk.storage.models import PersonRow, TemplateRow
from kiosk.storage.records import DamagedTemplate, TemplateInfo
from kiosk.storage.repositories.clock import utcnow
from kiosk.storage.repositories.roster import RosterRepository

log = logging.getLogger(__name__)


def template_seal(
    key: bytes, template_id: int, person_id: int, model_checksum: str, blob: bytes
) -> str:
    """Binds a template to its person: moving it to someone else breaks the seal. Covers
    the ciphertext by its AES-GCM tag (its last 16 bytes); plain HMAC for speed (a
    million templates are checked at every gallery load)."""
    message = f"template/1|{template_id}|{person_id}|{model_checksum}|".encode() + blob[-16:]
    return hmac.digest(key, message, "sha256").hex()


class TemplateRepository:
    def __init__(
        self,
        session: Session,
        cipher: Cipher,
        key: bytes,
        roster: RosterRepository | None = None,
    ) -> None:
        self.session = session
        self.cipher = cipher
        self.key = key
        self.roster = roster

    def add(
        self,
        person_id: int,
        embedding: FloatArray,
        model: ModelInfo,
        *,
        quality: float,
        source: str,
        crop_jpeg: bytes | None = None,
        created_at: datetime | None = None,
        content_sha256: str | None = None,
        warnings: str | None = None,
    ) -> int:
        blob = self.cipher.encrypt_embedding(embedding)
        row = TemplateRow(
            person_id=person_id,
            embedding=blob,
            model_name=model.name,
            model_version=model.version,
            model_checksum=model.checksum,
            quality=float(quality),
            source=limits.printable(source, 300),
            created_at=created_at or utcnow(),
            crop=None if crop_jpeg is None else self.cipher.encrypt(crop_jpeg, PURPOSE_CROP),
            content_sha256=content_sha256,
            warnings=limits.printable(warnings, 500) if warnings else None,
        )
        self.session.add(row)
        self.session.flush()
        row.seal = template_seal(self.key, row.id, person_id, model.checksum, blob)
        self.session.flush()
        if self.roster is not None:
            self.roster.change("templates", added=[row.id])
        return row.id

    def has_content(self, person_id: int, content_sha256: str) -> bool:
        """Whether this photo (by its content) is already stored for the person."""
        found = self.session.scalar(
            select(TemplateRow.id)
            .where(TemplateRow.person_id == person_id, TemplateRow.content_sha256 == content_sha256)
            .limit(1)
        )
        return found is not None

    def contents(self, person_id: int) -> set[str]:
        """The content hashes of the photos stored for a person."""
        found = self.session.scalars(
            select(TemplateRow.content_sha256).where(
                TemplateRow.person_id == person_id, TemplateRow.content_sha256.is_not(None)
            )
        )
        return {c for c in found if c}

    def _usable(self, row: Any) -> bool:
        """The seal holds and the embedding decrypts."""
        if not same(
            row.seal,
            template_seal(self.key, row.id, row.person_id, row.model_checksum, row.embedding),
        ):
            return False
        try:
            self.cipher.decrypt_embedding(row.embedding)
        except Exception:
            return False
        return True

    def for_person(self, person_id: int) -> list[TemplateInfo]:
        rows = self.session.scalars(
            select(TemplateRow).where(TemplateRow.person_id == person_id).order_by(TemplateRow.id)
        )
        return [
            TemplateInfo(
                id=r.id,
                person_id=r.person_id,
                model_name=r.model_name,
                model_version=r.model_version,
                model_checksum=r.model_checksum,
                quality=r.quality,
                source=r.source,
                created_at=r.created_at,
                has_crop=r.crop is not None,
                damaged=not self._usable(r),
                warnings=r.warnings,
            )
            for r in rows
        ]

    def coverage(self, model_checksum: str) -> dict[int, tuple[int, int]]:
        """For every person not erased: (templates of this model, templates of other
        models that kept their crop, so they can be made again for this model)."""
        rows = self.session.execute(
            select(TemplateRow.person_id, TemplateRow.model_checksum, TemplateRow.crop.is_not(None))
            .join(PersonRow, PersonRow.id == TemplateRow.person_id)
            .where(PersonRow.erased_at.is_(None))
        ).all()
        out: dict[int, tuple[int, int]] = {
            int(pid): (0, 0)
            for pid in self.session.scalars(
                select(PersonRow.id).where(PersonRow.erased_at.is_(None))
            )
        }
        for person_id, checksum, has_crop in rows:
            same, other = out.get(int(person_id), (0, 0))
            if checksum == model_checksum:
                same += 1
            elif has_crop:
                other += 1
            out[int(person_id)] = (same, other)
        return out

    def with_crops_of_other_models(self, person_id: int, model_checksum: str) -> list[TemplateInfo]:
        """The person's templates of other models whose crop was kept."""
        return [
            t
            for t in self.for_person(person_id)
            if t.model_checksum != model_checksum and t.has_crop
        ]

    def crop(self, template_id: int) -> bytes | None:
        """The decrypted crop; ``None`` when there is none or it is damaged."""
        blob = self.session.scalar(select(TemplateRow.crop).where(TemplateRow.id == template_id))
        if blob is None:
            return None
        try:
            return self.cipher.decrypt(blob, PURPOSE_CROP)
        except Exception:
            log.error("the face crop of template %s is damaged; not shown", template_id)
            return None

    def gallery(
        self,
        model_checksum: str | None = None,
        *,
        batch: int = 20_000,
        damaged: list[DamagedTemplate] | None = None,
    ) -> tuple[FloatArray, list[int]]:
        """Every template of every person not erased, decrypted: (M, 128) and person ids.

        Deactivated people stay in: the kiosk must recognise them to say so. A template
        whose seal does not hold (moved to another person, altered) or that does not
        decrypt is skipped, logged and added to ``damaged``: everyone else is still
        recognised."""
        # Textual SQL on purpose: with a million templates, SQLAlchemy's per-row result
        # processing costs more than the decryption (see bench/storage_scale.py).
        sql = (
            "SELECT t.id, t.person_id, t.model_checksum, t.embedding, t.seal FROM templates t "
            "JOIN people p ON p.id = t.person_id WHERE p.erased_at IS NULL"
        )
        params: dict[str, str] = {}
        if model_checksum is not None:
            sql += " AND t.model_checksum = :checksum"
            params["checksum"] = model_checksum
        query = text(sql + " ORDER BY t.id").bindparams(**params)
        result = self.session.connection().execute(query.execution_options(yield_per=batch), params)
        chunks: list[FloatArray] = []
        labels: list[int] = []
        bad: list[tuple[int, int]] = []
        key = self.key
        digest = hmac.digest
        for partition in result.partitions(batch):
            good = []
            for tid, pid, checksum, blob, seal in partition:
                blob = bytes(blob)
                expected = digest(
                    key, f"template/1|{tid}|{pid}|{checksum}|".encode() + blob[-16:], "sha256"
                ).hex()
                if seal is None or not hmac.compare_digest(seal, expected):
                    bad.append((int(tid), int(pid)))
                    continue
                good.append((int(pid), blob, int(tid)))
            try:
                chunks.append(self.cipher.decrypt_embeddings([g[1] for g in good]))
                labels.extend(g[0] for g in good)
            except Exception:
                for pid, blob, tid in good:  # find the damaged ones, keep the others
                    try:
                        chunks.append(self.cipher.decrypt_embedding(blob).reshape(1, -1))
                    except Exception:
                        bad.append((tid, pid))
                        continue
                    labels.append(pid)
        if bad:
            report = self._damaged(bad)
            for d in report:
                log.error("recognition: %s", d.describe())
            if damaged is not None:
                damaged.extend(report)
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32), []
        return np.concatenate(chunks), labels

    def _damaged(self, pairs: list[tuple[int, int]]) -> list[DamagedTemplate]:
        badges = dict(
            self.session.execute(
                select(PersonRow.id, PersonRow.badge).where(
                    PersonRow.id.in_({p for _, p in pairs[:500]})
                )
            ).all()
        )
        return [DamagedTemplate(t, p, badges.get(p)) for t, p in pairs]

    def damaged(self, *, batch: int = 20_000) -> list[DamagedTemplate]:
        """Every template that recognition would skip (for ``log verify``)."""
        found: list[DamagedTemplate] = []
        self.gallery(None, batch=batch, damaged=found)
        return found

    def count(self, model_checksum: str | None = None) -> int:
        query = select(func.count()).select_from(TemplateRow)
        if model_checksum is not None:
            query = query.where(TemplateRow.model_checksum == model_checksum)
        return int(self.session.scalar(query) or 0)

    def count_other_models(self, model_checksum: str) -> int:
        query = (
            select(func.count())
            .select_from(TemplateRow)
            .where(TemplateRow.model_checksum != model_checksum)
        )
        return int(self.session.scalar(query) or 0)

    def remove(self, template_id: int) -> tuple[int, str] | None:
        """Delete one template (and its crop); its person's id and source, or ``None``
        when there is no such template."""
        row = self.session.get(TemplateRow, template_id)
        if row is None:
            return None
        person_id, source = row.person_id, row.source
        sealed = self._sealed(row)
        self.session.execute(delete(TemplateRow).where(TemplateRow.id == template_id))
        if self.roster is not None:
            if sealed:
                self.roster.change("templates", removed=[template_id])
            else:
                self.roster.change("templates", uncertain=[template_id])
        return person_id, source

    def _sealed(self, row: Any) -> bool:
        return same(
            row.seal,
            template_seal(self.key, row.id, row.person_id, row.model_checksum, row.embedding),
        )

    def delete_for(self, person_id: int) -> int:
        query = select(
            TemplateRow.id,
            TemplateRow.person_id,
            TemplateRow.model_checksum,
            TemplateRow.embedding,
            TemplateRow.seal,
        ).where(TemplateRow.person_id == person_id)
        rows = list(self.session.execute(query))
        result = self.session.execute(delete(TemplateRow).where(TemplateRow.person_id == person_id))
        if self.roster is not None and rows:
            sealed = [r.id for r in rows if self._sealed(r)]
            doubtful = [r.id for r in rows if r.id not in set(sealed)]
            self.roster.change("templates", removed=sealed, uncertain=doubtful)
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_crops(self, before: datetime) -> int:
        rows = self.session.scalars(
            select(TemplateRow).where(
                TemplateRow.crop.is_not(None), TemplateRow.created_at < before
            )
        ).all()
        for row in rows:
            row.crop = None
        self.session.flush()
        return len(rows)
