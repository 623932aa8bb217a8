"""The site head for each gallery one kiosk builds, decided once per whole gallery."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kiosk.domain.faces import FloatArray
from kiosk.services.adaptation import AdaptationService
from kiosk.vision.head import Head


class GalleryHeads:
    """The head for each gallery one kiosk builds (``kiosk.app.gallery_maker``).

    A whole gallery is checked against the stored head every time it is built. A badge
    holder's gallery, one person's templates taken from the whole gallery for a 1:1
    check at the whole gallery's threshold, is searched through the same head as the
    whole gallery (or plain when that one is), so that its distances and that threshold
    are of one space."""

    def __init__(self, service: AdaptationService) -> None:
        self.service = service
        self._decided = False
        self._head: Head | None = None
        self._rows: set[bytes] = set()

    def __call__(self, embeddings: FloatArray, labels: Sequence[int]) -> Head | None:
        if not self.service.settings.vision.adaptation:
            return None
        if self._decided and len(set(labels)) == 1:
            if self._head is None:
                return None  # the whole gallery is searched plain: so is a part of it
            if _rows(embeddings, labels) <= self._rows:
                return self._head
            return self.service.head_for_gallery(embeddings, labels)
        head = self.service.head_for_gallery(embeddings, labels)
        self._decided, self._head = True, head
        self._rows = _rows(embeddings, labels) if head is not None else set()
        return head


def _rows(embeddings: FloatArray, labels: Sequence[int]) -> set[bytes]:
    """Each (person, template) as bytes (only for galleries a head was trained on: at
    most ``MAX_TEMPLATES``)."""
    x = np.asarray(embeddings, dtype="<f4").reshape(-1, 128)
    return {
        int(p).to_bytes(8, "little", signed=True) + x[i].tobytes() for i, p in enumerate(labels)
    }
