"""The losses a head is trained on: two-margin contrastive (against photos and against
people's centres) and SimSiam's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
