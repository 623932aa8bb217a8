"""Training one head: batches of neighbouring people, early stopping on held-out photos,
then a refit on every photo."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from kiosk.domain.faces import FloatArray
from kiosk.vision.adapt.config import AdaptConfig, Cancelled, Views
from kiosk.vision.adapt.losses import centre_loss, contrastive_loss, simsiam_loss, unit_centres
from kiosk.vision.adapt.residual import ResidualHead
from kiosk.vision.head import EMBEDDING_SIZE


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
