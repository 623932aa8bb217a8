"""Identify photos against the enrolled people, with the decision the kiosk would take."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.config import Settings, VisionSettings
from kiosk.domain.access import Decision, check_access
from kiosk.domain.faces import FloatArray, MatchKind
from kiosk.services.access import AccessService
from kiosk.services.adaptation import AdaptationService
from kiosk.services.photo_check import FaceAnalyzer, ImageLoader, default_loader
from kiosk.vision.matcher import Gallery, Projection, build_gallery
from kiosk.vision.pipeline import main_face_index

if TYPE_CHECKING:
    from kiosk.services.accounts import Actor
    from kiosk.storage.store import Store


@dataclass
class EnrolledGallery:
    gallery: Gallery | None
    people: int

    @classmethod
    def load(
        cls,
        service: AccessService,
        analyzer: FaceAnalyzer,
        vision: VisionSettings,
        head_for: Callable[[FloatArray, list[int]], Projection | None] | None = None,
    ) -> EnrolledGallery:
        """``head_for``: the site head for these templates, as the kiosk's gallery maker
        finds it (None: plain)."""
        embeddings, labels = service.load_gallery(analyzer.model_info)
        if not labels:
            return cls(None, 0)
        head = head_for(embeddings, labels) if head_for is not None else None
        gallery = build_gallery(embeddings, labels, vision, projection=head)
        return cls(gallery, gallery.num_people)


class Identifier:
    def __init__(
        self,
        service: AccessService,
        analyzer: FaceAnalyzer,
        settings: Settings,
        *,
        loader: ImageLoader | None = None,
    ) -> None:
        self.service = service
        self.analyzer = analyzer
        self.settings = settings
        self.loader = loader or default_loader(settings.vision.max_image_side)
        # searched as the kiosk searches: through the site head when one is in force
        head_for = AdaptationService(service.store, settings).head_for_gallery
        self.enrolled = EnrolledGallery.load(service, analyzer, settings.vision, head_for)

    def identify(self, path: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """One JSON-ready row per face: path, face, main, name (None when unknown), badge,
        distance, decision, reason. Raises ``InputError`` for an unreadable photo."""
        now = now or datetime.now(UTC)
        vision = self.settings.vision
        rgb = self.loader(Path(path))
        results = self.analyzer.analyze(rgb)
        if not results:
            return []
        h, w = rgb.shape[:2]
        main = main_face_index([r.face for r in results], w, h)
        gallery = self.enrolled.gallery
        matches = (
            gallery.search(np.stack([r.embedding for r in results]), None, vision.ambiguity_margin)
            if gallery is not None
            else [None] * len(results)
        )
        rows = []
        for i, match in enumerate(matches):
            row: dict[str, Any] = {
                "path": path,
                "face": i,
                "main": i == main,
                "name": None,
                "badge": None,
                "distance": None if match is None else round(float(match.distance), 6),
                "threshold": None if match is None else round(match.threshold, 4),
                "kind": "unknown" if match is None else match.kind.value,
                "decision": str(Decision.DENIED_UNKNOWN),
                "reason": "Face not recognised.",
            }
            if match is not None and match.kind is MatchKind.MATCH and match.label is not None:
                person = self.service.get_person(match.label)
                schedule = self.service.get_schedule(person.group) if person.group else None
                check = check_access(person, schedule, now)
                row.update(
                    name=person.name,
                    badge=person.badge,
                    decision=str(check.decision),
                    reason=check.reason,
                )
            elif match is not None and match.kind is MatchKind.AMBIGUOUS:
                row["reason"] = "Face matches more than one person closely: not decided."
            rows.append(row)
        return rows


def record_identification(store: Store, actor: Actor, photos: int) -> None:
    """``identify`` against the enrolled people tells who is enrolled: only for a signed-in
    account (any role), and an operator's action."""
    with store.unit_of_work(write=True) as uow:
        uow.audit.record(actor.username, "identify", "", photos=photos)
        uow.commit()
