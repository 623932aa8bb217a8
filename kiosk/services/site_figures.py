"""What the site's own enrolled people show at a threshold, leave-one-person-out (or, with
a site head, as measured when it was trained): strangers let in, enrolled people missed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kiosk.domain.faces import FloatArray
from kiosk.domain.stats import Rate

if TYPE_CHECKING:
    from kiosk.vision.head import Head


@dataclass(frozen=True)
class SiteFigures:
    """Leave-one-person-out distances of the enrolled people; rates at any threshold."""

    people: int
    templates: int
    margin: float
    own: FloatArray  # each photo to the centre of its person's OTHER photos (mated only)
    best_other: FloatArray  # each photo to the nearest other person
    second_other: FloatArray  # ... and to the next one (for the ambiguity rule)
    mated: np.ndarray  # the photo's person has other photos
    impostor: FloatArray  # each photo to every other person (a sample, for the plot)
    sampled: bool

    @property
    def enough(self) -> bool:
        return self.people >= 2 and bool(self.mated.any())

    @property
    def genuine(self) -> FloatArray:
        return self.own[self.mated]

    def strangers_accepted(self, threshold: float) -> Rate:
        """Photos taken for someone else when their own person is not enrolled."""
        best, second = self.best_other, self.second_other
        hit = (best <= threshold) & ~((second <= threshold) & (second - best < self.margin))
        return Rate(int(hit.sum()), len(best))

    def enrolled_missed(self, threshold: float) -> Rate:
        """Photos of a person with other photos not matched to that person."""
        own, best = self.own, self.best_other
        right = (
            (own <= threshold) & (own < best) & ~((best <= threshold) & (best - own < self.margin))
        )
        return Rate(int((~right[self.mated]).sum()), int(self.mated.sum()))


def site_figures(
    embeddings: FloatArray,
    labels: list[int],
    margin: float,
    unit: bool,
    *,
    max_templates: int = 3000,
    seed: int = 0,
) -> SiteFigures:
    """Each template searched against the centres of everyone else (a stranger attempt:
    any match is a false accept) and, when its person has other templates, with its own
    person's centre made of those others (an enrolled attempt: a miss is a false reject).
    Above ``max_templates``, whole people are drawn at random."""
    lab = np.asarray(labels, dtype=np.int64)
    x = np.asarray(embeddings, dtype=np.float64).reshape(-1, 128)
    people_all = np.unique(lab)
    sampled = len(lab) > max_templates
    if sampled:
        order = np.random.default_rng(seed).permutation(people_all)
        keep_people: list[int] = []
        count = 0
        for p in order:
            if count >= max_templates:
                break
            keep_people.append(int(p))
            count += int((lab == p).sum())
        mask = np.isin(lab, keep_people)
        x, lab = x[mask], lab[mask]
    people, index = np.unique(lab, return_inverse=True)
    empty = np.zeros(0, np.float32)
    if len(people) < 2:
        none = np.zeros(0, bool)
        return SiteFigures(len(people), len(lab), margin, empty, empty, empty, none, empty, sampled)
    sums = np.zeros((len(people), x.shape[1]))
    np.add.at(sums, index, x)
    counts = np.bincount(index, minlength=len(people)).astype(np.float64)

    def centre(v: np.ndarray) -> np.ndarray:
        if unit:
            return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
        return v

    centres = centre(sums / counts[:, None])
    d = np.sqrt(np.maximum(((x[:, None, :] - centres[None]) ** 2).sum(-1), 0.0))
    d[np.arange(len(x)), index] = np.inf
    ordered = np.sort(d, axis=1)
    best_other = ordered[:, 0]
    second_other = ordered[:, 1] if ordered.shape[1] > 1 else np.full(len(x), np.inf)
    mated = counts[index] > 1
    loo = (sums[index] - x) / np.maximum(counts[index] - 1, 1)[:, None]
    own = np.where(mated, np.sqrt(np.maximum(((x - centre(loo)) ** 2).sum(-1), 0.0)), np.inf)
    impostor = d[np.isfinite(d)]
    if impostor.size > 200_000:
        impostor = np.random.default_rng(seed).choice(impostor, 200_000, replace=False)
    return SiteFigures(
        people=len(people),
        templates=len(lab),
        margin=margin,
        own=own.astype(np.float32),
        best_other=best_other.astype(np.float32),
        second_other=second_other.astype(np.float32),
        mated=mated,
        impostor=impostor.astype(np.float32),
        sampled=sampled,
    )


def head_site_figures(head: Head, margin: float) -> SiteFigures:
    """The site's figures measured for a head when it was trained: each photo searched by
    a head trained without its person (leave-people-out)."""
    site = head.site
    own = site["own"]
    return SiteFigures(
        people=head.people,
        templates=head.templates,
        margin=margin,
        own=own,
        best_other=site["best_other"],
        second_other=site["second_other"],
        mated=np.isfinite(own),
        impostor=site["impostor_sample"],
        sampled=False,
    )
