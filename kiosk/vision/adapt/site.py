"""What a head does on the site's own people, measured leave-people-out: the distances
and the curve a threshold is chosen from."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kiosk.domain.faces import FloatArray
from kiosk.domain.operating import DistanceCurve
from kiosk.vision.adapt.config import AdaptConfig, Views
from kiosk.vision.adapt.losses import unit_centres
from kiosk.vision.adapt.residual import ResidualHead
from kiosk.vision.adapt.training import fit

#: how many of the smallest impostor distances a head's curve keeps (the tail a door's
#: threshold lives in), and the grid that counts the rest
TAIL = 4000
GRID = tuple(round(t, 2) for t in np.arange(0.0, 2.0001, 0.02))


def head_distances(
    head: ResidualHead | None,
    gallery: FloatArray,
    gallery_labels: np.ndarray,
    probes: FloatArray,
) -> np.ndarray:
    """(probes, people) distances from each probe to the unit centre of each person of
    ``gallery``, in the head's space (``None``: the plain embeddings)."""
    with torch.no_grad():
        g = torch.from_numpy(np.asarray(gallery, np.float32))
        q = torch.from_numpy(np.asarray(probes, np.float32))
        if head is not None:
            head = head.cpu().eval()
            g, q = head(g), head(q)
        centres, _ = unit_centres(g, torch.from_numpy(np.asarray(gallery_labels, np.int64)))
        return torch.cdist(q, centres).numpy()


@dataclass(frozen=True)
class Distances:
    """Leave-people-out distances of the site's photos in one space (head or plain).

    Per photo: ``own``, to the centre of its person's other photos (inf without any);
    ``best_other`` and ``second_other``, to the nearest two people of the other folds.
    ``impostor``: every photo to every person of the other folds."""

    own: np.ndarray
    best_other: np.ndarray
    second_other: np.ndarray
    impostor: np.ndarray

    @property
    def mated(self) -> np.ndarray:
        return np.isfinite(self.own)

    @property
    def genuine(self) -> np.ndarray:
        return self.own[self.mated]

    def curve(self, network: str, model: str) -> DistanceCurve:
        imp = np.sort(self.impostor)
        gen = np.sort(self.genuine)
        grid = tuple((t, int(np.searchsorted(imp, t, side="right"))) for t in GRID)
        return DistanceCurve(
            network=network,
            scoring="centre",
            model=model,
            impostor_comparisons=int(len(imp)),
            impostor_tail=tuple(round(float(v), 6) for v in imp[:TAIL]),
            genuine=tuple(round(float(v), 6) for v in gen),
            impostor_grid=grid,
        )

    def to_dict(self) -> dict[str, list[float | None]]:
        """The per-photo distances (JSON: inf as None); the impostor list is not kept."""

        def listed(a: np.ndarray) -> list[float | None]:
            return [round(float(v), 6) if np.isfinite(v) else None for v in a]

        return {
            "own": listed(self.own),
            "best_other": listed(self.best_other),
            "second_other": listed(self.second_other),
        }


@dataclass(frozen=True)
class SiteMeasure:
    """The site's people measured with heads that did not see them, and with no head."""

    head: Distances
    plain: Distances
    folds: int


def site_curve(
    views: Views,
    config: AdaptConfig,
    *,
    folds: int = 5,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> SiteMeasure:
    """Leave-people-out: the people are split into ``folds``; for each, a head is trained
    (as :func:`fit` trains the final one) on the other folds' people only, and each photo
    of the fold is compared with the centre of every person the head was trained on
    (impostor) and with the centre of its own person's other photos (genuine)."""
    people = np.unique(views.labels)
    folds = max(2, min(folds, len(people)))
    rng = np.random.default_rng(config.seed + 1)
    assignment = rng.permutation(len(people)) % folds
    fold_of = dict(zip(people.tolist(), assignment.tolist(), strict=True))
    row_fold = np.array([fold_of[int(p)] for p in views.labels])
    n = len(views.labels)
    parts: dict[str, dict[str, Any]] = {
        key: {
            "own": np.full(n, np.inf),
            "best": np.full(n, np.inf),
            "second": np.full(n, np.inf),
            "impostor": [],
        }
        for key in ("head", "plain")
    }
    for f in range(folds):
        if progress is not None:
            progress(f, folds)
        inside, outside = np.flatnonzero(row_fold == f), np.flatnonzero(row_fold != f)
        if len(inside) == 0 or len(np.unique(views.labels[outside])) < 2:
            continue
        head, _ = fit(views.subset(outside), config, device=device, stop=stop)
        for key, h in (("head", head), ("plain", None)):
            out = parts[key]
            d = head_distances(h, views.base[outside], views.labels[outside], views.base[inside])
            ordered = np.sort(d, axis=1)
            out["best"][inside] = ordered[:, 0]
            out["second"][inside] = ordered[:, 1] if d.shape[1] > 1 else np.inf
            out["own"][inside] = _own(h, views.base[inside], views.labels[inside])
            out["impostor"].append(d.reshape(-1))
    if progress is not None:
        progress(folds, folds)

    def distances(key: str) -> Distances:
        out = parts[key]
        imp = np.concatenate(out["impostor"]) if out["impostor"] else np.zeros(0)
        return Distances(out["own"], out["best"], out["second"], imp)

    return SiteMeasure(distances("head"), distances("plain"), folds)


def _own(head: ResidualHead | None, x: FloatArray, labels: np.ndarray) -> np.ndarray:
    """Each photo to the unit centre of its person's other photos (inf when it is the
    person's only photo)."""
    with torch.no_grad():
        z = torch.from_numpy(np.asarray(x, np.float32))
        if head is not None:
            z = head.cpu()(z)
        z_np = z.numpy().astype(np.float64)
    out = np.full(len(labels), np.inf)
    for p in np.unique(labels):
        rows = np.flatnonzero(labels == p)
        if len(rows) < 2:
            continue
        total = z_np[rows].sum(0)
        for r in rows:
            c = total - z_np[r]
            c /= max(np.linalg.norm(c), 1e-12)
            out[r] = float(np.linalg.norm(z_np[r] - c))
    return out
