"""1:N search of a gallery of templates (several per person), one matrix operation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from kiosk.config import VisionSettings
from kiosk.domain.faces import FloatArray, Match, MatchKind
from kiosk.domain.operating import OperatingPoint
from kiosk.vision.embedder import EMBEDDING_SIZE

SCORINGS = ("nearest", "centre")


class Gallery:
    """Templates of enrolled people, held on the device for fast search.

    A person's score is the euclidean distance from the query to the person: to their
    nearest template (``scoring="nearest"``) or to the centre of their templates
    (``"centre"``: the mean, put back on the unit sphere when ``unit``). A face is unknown
    when the best score is over the threshold, and ambiguous when another person is also
    under the threshold and within ``margin`` of the best."""

    def __init__(
        self,
        embeddings: FloatArray,
        labels: Sequence[int],
        device: torch.device | str = "cpu",
        *,
        scoring: str = "nearest",
        unit: bool = False,
    ) -> None:
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, not {scoring!r}")
        emb = np.asarray(embeddings, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        if len(labels) != emb.shape[0]:
            raise ValueError("one label per template")
        self.device = torch.device(device)
        self.scoring = scoring
        self.templates_count = int(emb.shape[0])
        people, index = np.unique(np.asarray(labels, dtype=np.int64), return_inverse=True)
        self.people: list[int] = [int(p) for p in people]
        if scoring == "centre" and len(people):
            sums = np.zeros((len(people), EMBEDDING_SIZE), np.float64)
            np.add.at(sums, index, emb)
            centres = sums / np.bincount(index, minlength=len(people))[:, None]
            if unit:
                centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
            emb, index = centres.astype(np.float32), np.arange(len(people))
        self.operating_point: OperatingPoint | None = None
        self._templates = torch.from_numpy(np.ascontiguousarray(emb)).to(self.device)
        self._sq_norms = (self._templates * self._templates).sum(1)
        self._index = torch.from_numpy(index.astype(np.int64)).to(self.device)

    def __len__(self) -> int:
        return self.templates_count

    @property
    def num_people(self) -> int:
        return len(self.people)

    def person_distances(self, queries: FloatArray) -> torch.Tensor:
        """(N, P) distance from each query to each person (nearest template or centre)."""
        q = torch.from_numpy(
            np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        )
        q = q.to(self.device)
        with torch.inference_mode():
            # |q - t|^2 = |q|^2 + |t|^2 - 2 q.t : one matrix product for all templates.
            d2 = (
                (q * q).sum(1, keepdim=True)
                + self._sq_norms[None, :]
                - 2.0 * (q @ self._templates.T)
            )
            dist = d2.clamp_min_(0.0).sqrt_()
            per_person = torch.full((q.shape[0], self.num_people), float("inf"), device=self.device)
            per_person.scatter_reduce_(
                1, self._index.expand(q.shape[0], -1), dist, reduce="amin", include_self=True
            )
        return per_person

    def search(
        self, queries: FloatArray, threshold: float | None = None, margin: float = 0.0
    ) -> list[Match]:
        """The best person (or unknown / ambiguous) for each query embedding; with no
        ``threshold``, the gallery's operating point decides (see :func:`build_gallery`)."""
        if threshold is None:
            if self.operating_point is None:
                raise ValueError("this gallery has no operating point: pass a threshold")
            threshold = self.operating_point.threshold
        n = int(np.asarray(queries).reshape(-1, EMBEDDING_SIZE).shape[0])
        if self.num_people == 0:
            return [Match(MatchKind.UNKNOWN, None, float("inf"), None, threshold) for _ in range(n)]
        per_person = self.person_distances(queries)
        k = min(2, self.num_people)
        values, idx = per_person.topk(k, dim=1, largest=False)
        values_np, idx_np = values.cpu().numpy(), idx.cpu().numpy()
        matches = []
        for row in range(n):
            best = float(values_np[row, 0])
            label = self.people[int(idx_np[row, 0])]
            runner_up = float(values_np[row, 1]) if k > 1 else None
            if best > threshold:
                kind = MatchKind.UNKNOWN
            elif runner_up is not None and runner_up <= threshold and runner_up - best < margin:
                kind = MatchKind.AMBIGUOUS
            else:
                kind = MatchKind.MATCH
            matches.append(Match(kind, label, best, runner_up, threshold))
        return matches


class Projection(Protocol):
    """A site-adapted head (``kiosk.vision.head.Head``): raw embeddings in, unit vectors
    out, and the threshold measured for its own distances."""

    def project(self, embeddings: FloatArray) -> FloatArray: ...

    def operating_point(self, vision: VisionSettings, people: int) -> OperatingPoint: ...


class ProjectedGallery(Gallery):
    """A gallery searched through a head: the templates are projected once, each query
    when it is searched. The raw embeddings are not changed."""

    def __init__(
        self,
        projection: Projection,
        embeddings: FloatArray,
        labels: Sequence[int],
        device: torch.device | str = "cpu",
        *,
        scoring: str = "centre",
    ) -> None:
        raw = np.asarray(embeddings, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        super().__init__(projection.project(raw), labels, device, scoring=scoring, unit=True)
        self.projection = projection

    def person_distances(self, queries: FloatArray) -> torch.Tensor:
        return super().person_distances(self.projection.project(queries))


def build_gallery(
    embeddings: FloatArray,
    labels: Sequence[int],
    vision: VisionSettings,
    device: torch.device | str = "cpu",
    projection: Projection | None = None,
) -> Gallery:
    """The gallery the kiosk searches, as configured: the network's scoring, and the
    threshold chosen for this many people at the configured level (or the explicit one).
    With a site-adapted head (``projection``), searched through it, at the threshold
    measured for it."""
    from kiosk.vision.calibration import operating_point
    from kiosk.vision.networks import network

    if projection is not None:
        # the head's threshold was measured with people scored by their centre
        projected = ProjectedGallery(projection, embeddings, labels, device, scoring="centre")
        projected.operating_point = projection.operating_point(vision, projected.num_people)
        return projected

    gallery = Gallery(
        embeddings,
        labels,
        device,
        scoring=vision.scoring,
        unit=network(vision.network).normalized,
    )
    gallery.operating_point = operating_point(vision, gallery.num_people)
    return gallery
