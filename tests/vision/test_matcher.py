"""1:N search logic on synthetic embeddings (fast, no models)."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.domain.faces import MatchKind
from kiosk.vision.matcher import Gallery


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_nearest_template_per_person_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    templates = _unit(rng, 300)
    labels = rng.integers(0, 40, 300).tolist()
    gallery = Gallery(templates, labels)
    queries = _unit(rng, 7)
    per_person = gallery.person_distances(queries).numpy()
    for qi, q in enumerate(queries):
        d = np.linalg.norm(templates - q, axis=1)
        for pi, person in enumerate(gallery.people):
            expected = d[np.array(labels) == person].min()
            assert per_person[qi, pi] == pytest.approx(expected, abs=1e-4)


def test_match_unknown_ambiguous() -> None:
    base = np.zeros((3, 128), np.float32)
    base[0, 0] = 1.0  # person 10
    base[1, 1] = 1.0  # person 20
    base[2, 0], base[2, 1] = 0.7, 0.7  # person 30, between the two
    gallery = Gallery(base, [10, 20, 30])
    q = np.zeros((1, 128), np.float32)
    q[0, 0] = 0.95
    m = gallery.search(q, threshold=0.6)[0]
    assert (
        m.kind is MatchKind.MATCH and m.label == 10 and m.distance == pytest.approx(0.05, abs=1e-5)
    )
    far = np.full((1, 128), 0.5, np.float32)
    assert gallery.search(far, threshold=0.6)[0].kind is MatchKind.UNKNOWN
    # Halfway between 10 and 30: both close, so not a match for either.
    mid = np.zeros((1, 128), np.float32)
    mid[0, 0], mid[0, 1] = 0.85, 0.35
    res = gallery.search(mid, threshold=0.6, margin=0.2)[0]
    assert res.kind is MatchKind.AMBIGUOUS
    assert gallery.search(mid, threshold=0.6, margin=0.0)[0].kind is MatchKind.MATCH


def test_empty_gallery_and_sizes() -> None:
    empty = Gallery(np.zeros((0, 128), np.float32), [])
    assert len(empty) == 0 and empty.num_people == 0
    m = empty.search(np.zeros((2, 128), np.float32), threshold=0.6)
    assert [x.kind for x in m] == [MatchKind.UNKNOWN, MatchKind.UNKNOWN]
    with pytest.raises(ValueError):
        Gallery(np.zeros((2, 128), np.float32), [1])


def test_centre_scoring_uses_the_mean_of_a_persons_templates() -> None:
    rng = np.random.default_rng(3)
    templates = _unit(rng, 60)
    labels = (np.arange(60) // 6).tolist()
    gallery = Gallery(templates, labels, scoring="centre", unit=True)
    assert len(gallery) == 60 and gallery.num_people == 10
    queries = _unit(rng, 4)
    got = gallery.person_distances(queries).numpy()
    for qi, q in enumerate(queries):
        for pi, person in enumerate(gallery.people):
            c = templates[np.array(labels) == person].mean(0)
            c /= np.linalg.norm(c)
            assert got[qi, pi] == pytest.approx(float(np.linalg.norm(q - c)), abs=1e-4)


def test_built_gallery_decides_at_its_operating_point() -> None:
    from kiosk.config import VisionSettings
    from kiosk.vision.matcher import build_gallery

    rng = np.random.default_rng(4)
    templates = _unit(rng, 60)
    small = build_gallery(templates[:3], [1, 2, 3], VisionSettings())
    large = build_gallery(templates, list(range(60)), VisionSettings())
    assert small.operating_point is not None and large.operating_point is not None
    # more people, more chances for a look-alike: a stricter threshold (below 24 people,
    # the 24-person one)
    assert large.operating_point.threshold < small.operating_point.threshold
    assert small.operating_point.sized_for == 24 and small.operating_point.people == 3
    m = small.search(templates[:1])[0]
    assert m.threshold == pytest.approx(small.operating_point.threshold)
    explicit = build_gallery(templates, list(range(60)), VisionSettings(threshold=0.9))
    assert explicit.search(templates[:1])[0].threshold == pytest.approx(0.9)
