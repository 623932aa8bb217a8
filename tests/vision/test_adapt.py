"""The site head's training on real photos (real MTCNN, real SFace, ORL faces: the set on
which the plain network separates people worst), and the head's stored form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from kiosk.domain.operating import DistanceCurve
from kiosk.vision.adapt import (
    AdaptConfig,
    ResidualHead,
    Views,
    augmented_views,
    centre_loss,
    contrastive_loss,
    fit,
    make_head,
    train,
)
from kiosk.vision.head import Head, HeadError, training_hash
from kiosk.vision.imageio import read_image
from kiosk.vision.pipeline import FacePipeline, main_face_index

PEOPLE = 10
TRAIN_PHOTOS = 5  # of ORL's 10 per person; the other 5 are held out


@pytest.fixture(scope="module")
def orl(faces_dir: Path, pipeline: FacePipeline) -> dict[str, np.ndarray]:
    """Main-face embeddings and chips of the first photos of ORL's first people."""
    emb, chips, labels, photo = [], [], [], []
    for person in range(1, PEOPLE + 1):
        for i in range(1, 11):
            rgb = read_image(faces_dir / "orl" / f"s{person}" / f"{i}.pgm", 1600).rgb
            faces = pipeline.detect(rgb)
            idx = main_face_index(faces, rgb.shape[1], rgb.shape[0])
            if idx is None:
                continue
            result = pipeline.analyze(rgb, [faces[idx]])[0]
            emb.append(result.embedding)
            chips.append(result.chip)
            labels.append(person)
            photo.append(i)
    return {
        "emb": np.stack(emb),
        "chips": np.stack(chips),
        "labels": np.array(labels),
        "photo": np.array(photo),
    }


def _loss(head: torch.nn.Module | None, views: Views, config: AdaptConfig) -> float:
    x = torch.from_numpy(np.concatenate([views.base, views.extra.reshape(-1, 128)]))
    y = torch.from_numpy(
        np.concatenate([views.labels, np.repeat(views.labels, views.extra.shape[1])])
    )
    with torch.no_grad():
        z = x if head is None else head(x)
        return float(contrastive_loss(z, y, config.margin, config.pos_margin, 10_000))


def _margins(head: torch.nn.Module | None, train_x, train_y, held_x, held_y) -> np.ndarray:  # type: ignore[no-untyped-def]
    """For each held-out photo: distance to the nearest other person's centre minus the
    distance to its own person's centre (centres of the training photos)."""
    with torch.no_grad():
        tx, hx = torch.from_numpy(train_x), torch.from_numpy(held_x)
        if head is not None:
            tx, hx = head(tx), head(hx)
    people = np.unique(train_y)
    centres = np.stack([tx.numpy()[train_y == p].mean(0) for p in people])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    d = np.linalg.norm(hx.numpy()[:, None] - centres[None], axis=2)
    own = d[np.arange(len(held_y)), np.searchsorted(people, held_y)]
    d[np.arange(len(held_y)), np.searchsorted(people, held_y)] = np.inf
    return d.min(1) - own


def test_training_lowers_the_loss_and_separates_held_out_photos(
    orl: dict[str, np.ndarray], pipeline: FacePipeline
) -> None:
    is_train = orl["photo"] <= TRAIN_PHOTOS
    chips = [c for c in orl["chips"][is_train]]
    extra = augmented_views(chips, pipeline.embed, 2, seed=0)
    views = Views(orl["emb"][is_train], orl["labels"][is_train], extra)
    config = AdaptConfig(max_epochs=60)

    before = _loss(None, views, config)
    run = train(views, config, epochs=60)
    after = _loss(run.head, views, config)
    assert run.train_loss[-1] < run.train_loss[0]
    assert after < 0.8 * before, (before, after)

    # photos the head never saw: each is further from the nearest other person, relative
    # to its own person, than without the head; the worst one most of all
    args = (views.base, views.labels, orl["emb"][~is_train], orl["labels"][~is_train])
    plain, adapted = _margins(None, *args), _margins(run.head, *args)
    assert adapted.mean() > plain.mean(), (plain.mean(), adapted.mean())
    worst = int(np.argmin(plain))
    assert adapted[worst] > plain[worst], (plain[worst], adapted[worst])


def test_early_stopping_keeps_the_held_out_best(orl: dict[str, np.ndarray]) -> None:
    is_train = orl["photo"] <= TRAIN_PHOTOS
    views = Views(orl["emb"][is_train], orl["labels"][is_train], None)  # type: ignore[arg-type]
    config = AdaptConfig(max_epochs=40, patience=5, refit=False)
    head, report = fit(views, config)
    assert report["held_out_photos"] == PEOPLE  # one photo of every person
    assert 0 <= report["best_epoch"] <= report["stopped_at"] <= 40
    assert report["val_loss_best"] <= report["val_loss_start"]


def test_a_new_head_is_the_identity_and_losses_are_zero_when_separated() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    head = ResidualHead("mlp").eval()
    with torch.no_grad():
        assert torch.allclose(head(torch.from_numpy(x)), torch.from_numpy(x), atol=1e-6)
    # two tight people far apart: nothing to learn
    a, b = np.eye(128, dtype=np.float32)[0], np.eye(128, dtype=np.float32)[1]
    z = torch.from_numpy(np.stack([a, a, b, b]))
    y = torch.tensor([0, 0, 1, 1])
    assert float(contrastive_loss(z, y, 1.2, 0.5, 8)) == 0.0
    assert float(centre_loss(z, y, z[[0, 2]], torch.tensor([0, 1]), 1.2, 0.5, 8)) == 0.0
    # one photo of each person close to the other: the loss sees it
    z2 = torch.from_numpy(np.stack([a, (a + b) / np.sqrt(2), b, b]).astype(np.float32))
    assert float(contrastive_loss(z2, y, 1.2, 0.5, 8)) > 0.0


def _curve() -> DistanceCurve:
    return DistanceCurve("sface+head", "centre", "test", 1000, (0.9, 1.0, 1.1), (0.3, 0.5))


def test_stored_head_projects_as_trained_and_refuses_damage(orl: dict[str, np.ndarray]) -> None:
    views = Views(orl["emb"], orl["labels"], None)  # type: ignore[arg-type]
    for kind in ("linear", "mlp"):
        run = train(views, AdaptConfig(kind=kind), epochs=5)
        head = make_head(
            run.head,
            network_checksum="c" * 64,
            training_hash=training_hash(views.base, views.labels),
            people=PEOPLE,
            templates=len(views.labels),
            created_at="2026-12-01T12:00:00+00:00",
            curve=_curve(),
            report={"kind": kind},
            site={"own": np.array([0.3, np.inf], np.float32)},
        )
        again = Head.from_bytes(head.to_bytes())
        with torch.no_grad():
            expected = run.head(torch.from_numpy(views.base)).numpy()
        np.testing.assert_allclose(again.project(views.base), expected, atol=1e-5)
        assert again.curve == head.curve and again.report == {"kind": kind}
        assert np.isinf(again.site["own"][1])
    with pytest.raises(HeadError, match="damaged"):
        Head.from_bytes(b"not a head")


def test_training_hash_is_the_gallery_whatever_its_order() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 128)).astype(np.float32)
    labels = list(rng.integers(1, 5, 20))
    order = rng.permutation(20)
    assert training_hash(x, labels) == training_hash(x[order], [labels[i] for i in order])
    assert training_hash(x, labels) != training_hash(x[:-1], labels[:-1])  # one photo fewer
    moved = list(labels)
    moved[0] = 99  # one photo given to another person
    assert training_hash(x, labels) != training_hash(x, moved)
