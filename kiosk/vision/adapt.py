"""Training a site-adapted head (``kiosk.vision.head``) on the enrolled people.

The head is trained on the frozen embeddings of the site's enrollment photos with a
contrastive loss (Hadsell, Chopra and LeCun 2006) with two margins:

- positive pairs, two views of one person (two photos, or a photo and an augmentation of
  it), are pulled within ``pos_margin``;
- negative pairs, two people, are pushed beyond ``margin``; only the ``hard`` closest
  negatives of each anchor count (hard-negative mining), and each batch is made of
  people next to each other in the head's current space (so the hard pairs of the whole
  site meet in one batch).

The residual head starts as the identity and weight decay pulls it back there. Training
stops early when the loss of held-out photos of the enrolled people (one photo of every
person with three or more, searched against the centres of everyone's other photos) has
not improved for ``patience`` epochs; the head is then trained again on all the photos
for the best number of epochs (0: the identity, the head learned nothing that held).

An optional SimSiam term (Chen and He 2021: two augmented views of an unlabelled photo, a
predictor, a stop-gradient) can add photos without labels.

:func:`site_curve` measures what the door needs to choose a threshold with a head: the
site's people are split into folds, a head is trained without each fold's people, and
their photos are compared with everyone else's centres (impostor comparisons: strangers
the head never saw) and with their own other photos (genuine comparisons).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kiosk.domain.faces import FloatArray, ImageArray
from kiosk.domain.operating import DistanceCurve
from kiosk.vision.head import EMBEDDING_SIZE, KINDS, Head

#: how many of the smallest impostor distances a head's curve keeps (the tail a door's
#: threshold lives in), and the grid that counts the rest
TAIL = 4000
GRID = tuple(round(t, 2) for t in np.arange(0.0, 2.0001, 0.02))

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


class Cancelled(Exception):
    """Training was asked to stop (the console's stop button, or its window closing)."""


@dataclass(frozen=True)
class AdaptConfig:
    """How a head is trained. The defaults were chosen on splits of the development sets
    that the reported figures do not use (``tools/adapt_eval.py --seed``)."""

    kind: str = "linear"  # linear | mlp
    hidden: int = 256  # the mlp's hidden width
    margin: float = 1.4  # negatives pushed beyond this distance
    pos_margin: float = 0.3  # positives pulled within this distance
    hard: int = 8  # the closest negatives of each anchor that count
    lr: float = 1e-3
    weight_decay: float = 1e-2  # towards the identity
    max_epochs: int = 200
    patience: int = 25
    batch_people: int = 32
    per_person: int = 4  # views of each person in a batch
    simsiam_weight: float = 0.0  # > 0: the SimSiam term on unlabelled views
    refit: bool = True  # train again on every photo for the best number of epochs
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"head kind must be one of {KINDS}, not {self.kind!r}")


@dataclass
class Views:
    """The training photos of a gallery: ``base`` (N, 128) raw embeddings with their
    person ``labels``; ``extra`` (N, K, 128) embeddings of K augmentations of each (K may
    be 0). ``unlabelled`` (U, V, 128): V >= 2 views of photos without labels (SimSiam)."""

    base: FloatArray
    labels: np.ndarray
    extra: FloatArray
    unlabelled: FloatArray | None = None

    def __post_init__(self) -> None:
        self.base = np.asarray(self.base, np.float32).reshape(-1, EMBEDDING_SIZE)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        if self.extra is None or np.size(self.extra) == 0:
            self.extra = np.zeros((len(self.base), 0, EMBEDDING_SIZE), np.float32)
        self.extra = np.asarray(self.extra, np.float32).reshape(len(self.base), -1, EMBEDDING_SIZE)
        if len(self.labels) != len(self.base):
            raise ValueError("one label per photo")

    def subset(self, rows: np.ndarray) -> Views:
        return Views(self.base[rows], self.labels[rows], self.extra[rows], self.unlabelled)

    @property
    def people(self) -> int:
        return len(np.unique(self.labels))


class ResidualHead(nn.Module):
    """z = normalise(x + f(x)); f is zero at the start, so the head starts as the identity."""

    def __init__(self, kind: str = "linear", hidden: int = 256) -> None:
        super().__init__()
        self.kind = kind
        if kind == "linear":
            self.f: nn.Module = nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)
            nn.init.zeros_(self.f.weight)
            nn.init.zeros_(self.f.bias)
        else:
            last = nn.Linear(hidden, EMBEDDING_SIZE)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.f = nn.Sequential(nn.Linear(EMBEDDING_SIZE, hidden), nn.ReLU(), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x + self.f(x), dim=-1)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        def arr(t: torch.Tensor) -> np.ndarray:
            return np.asarray(t.detach().cpu().numpy(), dtype=np.float32).copy()

        f = self.f
        if isinstance(f, nn.Linear):
            return {"w": arr(f.weight), "b": arr(f.bias)}
        assert isinstance(f, nn.Sequential)
        first, last = f[0], f[2]
        assert isinstance(first, nn.Linear) and isinstance(last, nn.Linear)
        return {
            "w1": arr(first.weight),
            "b1": arr(first.bias),
            "w2": arr(last.weight),
            "b2": arr(last.bias),
        }


def contrastive_loss(
    z: torch.Tensor, labels: torch.Tensor, margin: float, pos_margin: float, hard: int
) -> torch.Tensor:
    """The two-margin contrastive loss of a batch, the negatives mined: every positive
    pair of an anchor, and its ``hard`` closest negatives."""
    d = torch.cdist(z, z).clamp_min(1e-9)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    pos_mask = same & ~eye
    pos = (F.relu(d - pos_margin) ** 2 * pos_mask).sum(1) / pos_mask.sum(1).clamp_min(1)
    neg_d = d.masked_fill(same, float("inf"))
    k = max(1, min(hard, int((~same).sum(1).min().item()) if len(z) else 1))
    hardest = neg_d.topk(k, dim=1, largest=False).values
    valid = torch.isfinite(hardest)
    neg = (F.relu(margin - hardest.masked_fill(~valid, margin)) ** 2).sum(1) / valid.sum(
        1
    ).clamp_min(1)
    has = pos_mask.any(1) | valid.any(1)
    return (pos + neg)[has].mean() if bool(has.any()) else z.sum() * 0.0


def centre_loss(
    queries: torch.Tensor,
    query_labels: torch.Tensor,
    centres: torch.Tensor,
    centre_labels: torch.Tensor,
    margin: float,
    pos_margin: float,
    hard: int,
) -> torch.Tensor:
    """The same loss for photos against people's centres (the held-out criterion)."""
    d = torch.cdist(queries, centres)
    same = query_labels[:, None] == centre_labels[None, :]
    pos = (F.relu(d - pos_margin) ** 2 * same).sum(1) / same.sum(1).clamp_min(1)
    neg_d = d.masked_fill(same, float("inf"))
    k = max(1, min(hard, centres.shape[0] - 1))
    hardest = neg_d.topk(k, dim=1, largest=False).values
    valid = torch.isfinite(hardest)
    neg = (F.relu(margin - hardest.masked_fill(~valid, margin)) ** 2).sum(1) / valid.sum(
        1
    ).clamp_min(1)
    return (pos + neg).mean()


def simsiam_loss(
    head: nn.Module, predictor: nn.Module, v1: torch.Tensor, v2: torch.Tensor
) -> torch.Tensor:
    """SimSiam's symmetric negative cosine with a stop-gradient on the target side."""
    z1, z2 = head(v1), head(v2)
    p1, p2 = predictor(z1), predictor(z2)
    return (
        -(
            F.cosine_similarity(p1, z2.detach(), dim=-1).mean()
            + F.cosine_similarity(p2, z1.detach(), dim=-1).mean()
        )
        / 2
    )


def unit_centres(z: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    people, index = torch.unique(labels, return_inverse=True)
    sums = torch.zeros(len(people), z.shape[1], device=z.device).index_add_(0, index, z)
    return F.normalize(sums, dim=1), people


@dataclass
class Trained:
    """One training run: the head, the epoch it stopped at and its loss history."""

    head: ResidualHead
    epochs: int
    best_epoch: int
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


def _batches(
    head: ResidualHead,
    base: torch.Tensor,
    labels: torch.Tensor,
    config: AdaptConfig,
    gen: torch.Generator,
) -> list[torch.Tensor]:
    """Batches of people (their labels, on the CPU), each a few random people and their
    nearest neighbours in the head's current space (hard negatives meet in one batch)."""
    people = torch.unique(labels).cpu()
    n = len(people)
    if n <= config.batch_people:
        return [people]
    with torch.no_grad():
        centres, order = unit_centres(head(base), labels)
        near = torch.cdist(centres, centres).fill_diagonal_(float("inf"))
        neighbours = near.topk(3, dim=1, largest=False).indices.cpu()
        order = order.cpu()
    seeds_per = max(1, config.batch_people // 4)
    seeds = torch.randperm(n, generator=gen)
    out = []
    for start in range(0, n, seeds_per):
        chosen = seeds[start : start + seeds_per]
        batch = torch.unique(torch.cat([chosen, neighbours[chosen].reshape(-1)]))
        out.append(order[batch])
    return out


def train(
    train_views: Views,
    config: AdaptConfig,
    *,
    val: tuple[FloatArray, np.ndarray] | None = None,
    epochs: int | None = None,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> Trained:
    """Train one head on ``train_views``. With ``val`` (held-out photos of the same
    people and their labels): stop when its loss has not improved for ``patience``
    epochs, and keep the best epoch's weights. Without: train ``epochs`` epochs."""
    device = torch.device(device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    head = ResidualHead(config.kind, config.hidden).to(device)
    predictor = nn.Sequential(
        nn.Linear(EMBEDDING_SIZE, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, EMBEDDING_SIZE)
    ).to(device)
    params = list(head.parameters())
    if config.simsiam_weight > 0 and train_views.unlabelled is not None:
        params += list(predictor.parameters())
    optim = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    base = torch.from_numpy(train_views.base).to(device)
    labels = torch.from_numpy(train_views.labels).to(device)
    # every view of every photo, the photo itself first, and the person of each
    all_views = torch.from_numpy(
        np.concatenate([train_views.base[:, None], train_views.extra], axis=1)
    ).to(device)
    n_views = all_views.shape[1]
    unl = (
        torch.from_numpy(np.asarray(train_views.unlabelled, np.float32)).to(device)
        if config.simsiam_weight > 0 and train_views.unlabelled is not None
        else None
    )
    # the bookkeeping of which rows to draw stays on the CPU; only the batch moves
    labels_cpu = torch.from_numpy(train_views.labels)
    rows_of = {int(p): torch.nonzero(labels_cpu == p).reshape(-1) for p in torch.unique(labels_cpu)}
    total = epochs if epochs is not None else config.max_epochs
    result = Trained(head, 0, 0)
    val_q = val_l = None
    if val is not None:
        val_q = torch.from_numpy(np.asarray(val[0], np.float32)).to(device)
        val_l = torch.from_numpy(np.asarray(val[1], np.int64)).to(device)

    def val_loss() -> float:
        assert val_q is not None and val_l is not None
        head.eval()
        with torch.no_grad():
            centres, people = unit_centres(head(base), labels)
            value = centre_loss(
                head(val_q), val_l, centres, people, config.margin, config.pos_margin, config.hard
            )
        head.train()
        return float(value)

    best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
    best = math.inf
    if val is not None:
        best = val_loss()
        result.val_loss.append(best)
    since_best = 0
    for epoch in range(1, total + 1):
        if stop is not None and stop.is_set():
            raise Cancelled()
        losses = []
        for people in _batches(head, base, labels, config, gen):
            picks = []
            for p in people.tolist():
                rows = rows_of[int(p)]
                r = rows[torch.randint(len(rows), (config.per_person,), generator=gen)]
                v = torch.randint(n_views, (config.per_person,), generator=gen)
                picks.append(r * n_views + v)
            flat = torch.cat(picks).to(device)
            x = all_views.reshape(-1, EMBEDDING_SIZE)[flat]
            y = labels[flat // n_views]
            loss = contrastive_loss(head(x), y, config.margin, config.pos_margin, config.hard)
            if unl is not None:
                pick = torch.randint(len(unl), (min(256, len(unl)),), generator=gen).to(device)
                a = torch.randint(unl.shape[1], (1,), generator=gen).item()
                b = (a + 1 + torch.randint(unl.shape[1] - 1, (1,), generator=gen).item()) % (
                    unl.shape[1]
                )
                loss = loss + config.simsiam_weight * simsiam_loss(
                    head, predictor, unl[pick, int(a)], unl[pick, int(b)]
                )
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))
        result.train_loss.append(float(np.mean(losses)))
        result.epochs = epoch
        if progress is not None:
            progress(epoch, total)
        if val is None:
            continue
        current = val_loss()
        result.val_loss.append(current)
        if current < best - 1e-6:
            best, since_best = current, 0
            result.best_epoch = epoch
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        else:
            since_best += 1
            if since_best >= config.patience:
                break
    if val is not None:
        head.load_state_dict(best_state)
    else:
        result.best_epoch = result.epochs
    head.eval()
    return result


def holdout(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows): one photo of every person with three or more is
    held out (two stay, so they still make a positive pair)."""
    held: list[int] = []
    for p in np.unique(labels):
        rows = np.flatnonzero(labels == p)
        if len(rows) >= 3:
            held.append(int(rng.choice(rows)))
    mask = np.zeros(len(labels), bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def fit(
    views: Views,
    config: AdaptConfig,
    *,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[ResidualHead, dict[str, Any]]:
    """Early stopping on held-out photos, then (``refit``) the same number of epochs on
    every photo. Returns the head and what happened (epochs, losses)."""
    rng = np.random.default_rng(config.seed)
    train_rows, val_rows = holdout(views.labels, rng)
    report: dict[str, Any] = {"held_out_photos": int(len(val_rows))}
    if len(val_rows) == 0 or views.people < 2:
        # nothing to stop on: no head (the identity) rather than an unchecked one
        report.update(best_epoch=0, stopped_at=0, reason="too few photos to hold any out")
        return ResidualHead(config.kind, config.hidden).eval(), report

    def half(done: int, total: int) -> None:
        if progress is not None:
            progress(done, 2 * total if config.refit else total)

    first = train(
        views.subset(train_rows),
        config,
        val=(views.base[val_rows], views.labels[val_rows]),
        device=device,
        progress=half,
        stop=stop,
    )
    report.update(
        best_epoch=first.best_epoch,
        stopped_at=first.epochs,
        val_loss_start=round(first.val_loss[0], 5),
        val_loss_best=round(min(first.val_loss), 5),
        train_loss_first=round(first.train_loss[0], 5) if first.train_loss else None,
        train_loss_last=round(first.train_loss[-1], 5) if first.train_loss else None,
    )
    if not config.refit or first.best_epoch == 0:
        return first.head, report

    def second_half(done: int, total: int) -> None:
        if progress is not None:
            progress(
                config.max_epochs + done * config.max_epochs // max(total, 1), 2 * config.max_epochs
            )

    again = train(
        views, config, epochs=first.best_epoch, device=device, progress=second_half, stop=stop
    )
    return again.head, report


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


def make_head(
    trained: ResidualHead,
    *,
    network_checksum: str,
    training_hash: str,
    people: int,
    templates: int,
    created_at: str,
    curve: DistanceCurve,
    report: dict[str, Any],
    site: dict[str, np.ndarray] | None = None,
) -> Head:
    return Head(
        kind=trained.kind,
        weights=trained.numpy_weights(),
        network_checksum=network_checksum,
        training_hash=training_hash,
        people=people,
        templates=templates,
        created_at=created_at,
        curve=curve,
        report=report,
        site=site or {},
    )


def config_dict(config: AdaptConfig) -> dict[str, Any]:
    return asdict(config)


# -- augmentation ------------------------------------------------------------------------


def augment_chip(chip: ImageArray, rng: np.random.Generator) -> ImageArray:
    """One random variation of an aligned chip, of the kinds a door's camera makes: a
    small crop and shift (alignment jitter), brightness and contrast, blur, JPEG. (A
    mirror image changes nothing when the network averages a chip with its mirror.)"""
    import cv2

    size = chip.shape[0]
    img: Any = np.asarray(chip, np.uint8)
    scale = rng.uniform(0.88, 1.0)
    side = scale * size
    dx, dy = rng.uniform(-0.04, 0.04, 2) * size
    cx, cy = size / 2 + dx, size / 2 + dy
    src = np.array(
        [
            [cx - side / 2, cy - side / 2],
            [cx + side / 2, cy - side / 2],
            [cx - side / 2, cy + side / 2],
        ],
        dtype=np.float32,
    )
    dst = np.array([[0, 0], [size, 0], [0, size]], dtype=np.float32)
    img = cv2.warpAffine(
        img,
        cv2.getAffineTransform(src, dst),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    gain, bias = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
    img = np.clip(img.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        ok, data = cv2.imencode(
            ".jpg", img, [int(cv2.IMWRITE_JPEG_QUALITY), int(rng.integers(25, 80))]
        )
        if ok:
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if decoded is not None and decoded.shape == img.shape:
                img = decoded
    return np.ascontiguousarray(img)


def augmented_views(
    chips: Sequence[ImageArray],
    embed: Callable[[Sequence[ImageArray]], FloatArray],
    per_photo: int,
    seed: int = 0,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> FloatArray:
    """(N, per_photo, 128): embeddings of ``per_photo`` augmentations of each chip."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(chips), per_photo, EMBEDDING_SIZE), np.float32)
    step = 32
    for start in range(0, len(chips), step):
        if stop is not None and stop.is_set():
            raise Cancelled()
        part = chips[start : start + step]
        batch = [augment_chip(c, rng) for c in part for _ in range(per_photo)]
        out[start : start + len(part)] = embed(batch).reshape(len(part), per_photo, -1)
        if progress is not None:
            progress("augmenting photos", start + len(part), len(chips))
    return out


def noise_views(
    base: FloatArray, labels: np.ndarray, per_photo: int, scale: float, seed: int = 0
) -> FloatArray:
    """Augmentation in embedding space: each photo moved at random along the directions
    in which photos of one person differ (the pooled within-person spread), by ``scale``
    of that spread, and put back on the unit sphere."""
    rng = np.random.default_rng(seed)
    x = np.asarray(base, np.float64)
    resid = []
    for p in np.unique(labels):
        rows = labels == p
        if rows.sum() >= 2:
            resid.append(x[rows] - x[rows].mean(0))
    if resid:
        r = np.concatenate(resid)
        cov = r.T @ r / max(len(r) - 1, 1)
    else:
        cov = np.eye(EMBEDDING_SIZE) * 0.002
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.maximum(vals, 0))
    noise = rng.standard_normal((len(x), per_photo, EMBEDDING_SIZE)) @ root.T * scale
    v = x[:, None, :] + noise
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return v.astype(np.float32)
