"""Site adaptation: a head trained on the enrolled people, stored, and used at match time
only while it belongs to the gallery it was trained on.

    service = AdaptationService(store, settings, load_embedder)
    result = service.train(actor, progress=..., stop=...)   # stores the head (not in use)
    security_level.set_adaptation(actor, True)              # [vision] adaptation = true
    head = service.head_for_gallery(embeddings, labels)     # None: plain matching

Where the head lives, and why: in the database (the ``meta`` table), encrypted and
authenticated with the database's key (AES-256-GCM, its purpose bound into the tag),
like the templates. In the database because every kiosk of a site reads the same gallery
from there, so they must read the same head; encrypted because it is derived from the
faces of the enrolled people; authenticated because a head is a security part: one made
by whoever can write to the database file (a head that maps every face to one point)
would let anyone in, and without the key it fails to decrypt and is refused.

A head is refused (matching goes on without it, with a message for the admin) when it
belongs to another network, or when the gallery is no longer the one it was trained on
(an enrollment, an erasure, a removed template): retrain it, nobody is captured again.
Falling back to the plain network, whose threshold comes from the development curve, keeps
the door at its measured figures instead of closing it to everyone after an enrollment.

What training and the stored head report is in :mod:`kiosk.services.adaptation_report`;
:class:`kiosk.services.gallery_heads.GalleryHeads` picks the head for each gallery a kiosk
builds.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import cv2
import numpy as np

from kiosk.config import Settings, VisionSettings
from kiosk.domain.faces import FloatArray, ImageArray, ModelInfo
from kiosk.domain.stats import Rate
from kiosk.errors import InputError, KioskError
from kiosk.services.accounts import Actor
from kiosk.services.adaptation_report import AdaptProgress, AdaptResult, HeadState, SiteComparison
from kiosk.storage.records import Role
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point
from kiosk.vision.head import Head, HeadError, training_hash
from kiosk.vision.networks import network

log = logging.getLogger(__name__)


META_KEY = "adaptation_head"
#: bound into the encryption tag: a template or crop cannot pass for a head
PURPOSE = b"kiosk/adaptation-head/v1"
#: augmented views made of each stored crop (random crops, light, blur, JPEG); none by
#: default: on the development sets a head trained with them did no better than one
#: trained without (docs/measurements/adaptation.md)
VIEWS_PER_PHOTO = 0
#: the largest gallery a head is trained on: training and its leave-people-out
#: measurement grow with the number of people
MAX_TEMPLATES = 20_000


class Embeds(Protocol):
    """What training needs of the face pipeline: the embedding of aligned chips."""

    @property
    def model_info(self) -> ModelInfo: ...

    def embed(self, chips: Sequence[ImageArray]) -> FloatArray: ...


def _strangers(own: np.ndarray, best: np.ndarray, second: np.ndarray, t: float, m: float) -> Rate:
    hit = (best <= t) & ~((second <= t) & (second - best < m))
    return Rate(int(hit.sum()), len(best))


def _missed(own: np.ndarray, best: np.ndarray, t: float, m: float) -> Rate:
    mated = np.isfinite(own)
    right = (own <= t) & (own < best) & ~((best <= t) & (best - own < m))
    return Rate(int((~right[mated]).sum()), int(mated.sum()))


class AdaptationService:
    """Train, store, check and remove the site's head (``kiosk adapt``, the console's
    security page, the kiosk's gallery)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        load_embedder: Callable[[], Embeds] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._load_embedder = load_embedder

    @property
    def checksum(self) -> str:
        return network(self.settings.vision.network).sha256

    # -- the stored head -----------------------------------------------------------------

    def stored(self) -> Head | None:
        """The stored head; a ``HeadError`` when it cannot be read (altered, another
        key, damaged): it is never used then."""
        with self.store.unit_of_work() as uow:
            text = uow.meta.get(META_KEY)
        if not text:
            return None
        try:
            blob = base64.b64decode(text.encode("ascii"), validate=True)
            return Head.from_bytes(self.store.cipher.decrypt(blob, PURPOSE))
        except KioskError as exc:
            if isinstance(exc, HeadError):
                raise
            raise HeadError(f"the stored site head cannot be read ({exc}); retrain it") from None
        except ValueError:
            raise HeadError("the stored site head is damaged; retrain it") from None

    def _save(self, head: Head | None, actor: Actor, action: str, **details: object) -> None:
        value = (
            ""
            if head is None
            else base64.b64encode(self.store.cipher.encrypt(head.to_bytes(), PURPOSE)).decode()
        )
        with self.store.unit_of_work(write=True) as uow:
            uow.meta.set(META_KEY, value)
            uow.audit.record(actor.username, action, "site head", **details)
            uow.commit()

    def problem(self, head: Head, embeddings: FloatArray, labels: Sequence[int]) -> str | None:
        """Why ``head`` cannot be used with this gallery (None: it can)."""
        if head.network_checksum != self.checksum:
            return (
                "it was trained for another embedding network than the one in use; "
                "retrain it (kiosk adapt, or Train on the security page)"
            )
        if training_hash(embeddings, labels) != head.training_hash:
            people = len(set(int(x) for x in labels))
            return (
                f"the enrolled people changed since it was trained (then {head.people:,} "
                f"people / {head.templates:,} photos, now {people:,} / {len(labels):,}); "
                "retrain it (kiosk adapt, or Train on the security page)"
            )
        return None

    def state(self) -> HeadState:
        v = self.settings.vision
        with self.store.unit_of_work() as uow:
            embeddings, labels = uow.templates.gallery(self.checksum)
        people = len(set(labels))
        source = self.settings.source_of("vision.adaptation")
        try:
            head = self.stored()
        except HeadError as exc:
            return HeadState(None, v.adaptation, source, people, len(labels), str(exc))
        problem = None if head is None else self.problem(head, embeddings, labels)
        return HeadState(head, v.adaptation, source, people, len(labels), problem)

    def head_for_gallery(self, embeddings: FloatArray, labels: Sequence[int]) -> Head | None:
        """The head to search this gallery through: None when adaptation is off, when
        there is none, or when it is refused (logged as a warning, with the reason)."""
        if not self.settings.vision.adaptation:
            return None
        try:
            head = self.stored()
        except HeadError as exc:
            log.warning("site head refused, matching without it: %s", exc)
            return None
        if head is None:
            log.warning("site adaptation is on but no head was trained: matching without one")
            return None
        problem = self.problem(head, embeddings, labels)
        if problem is not None:
            log.warning("site head %s refused, matching without it: %s", head.version, problem)
            return None
        return head

    def in_force(self) -> Head | None:
        """The head the kiosks use with the gallery as it is now (None: plain)."""
        if not self.settings.vision.adaptation:
            return None
        with self.store.unit_of_work() as uow:
            embeddings, labels = uow.templates.gallery(self.checksum)
        return self.head_for_gallery(embeddings, labels)

    def remove(self, actor: Actor) -> bool:
        """Delete the stored head (the kiosks match without one at their next refresh)."""
        actor.require(Role.ADMIN)
        try:
            had = self.stored() is not None
        except HeadError:
            had = True
        if had:
            self._save(None, actor, "adapt-remove")
        return had

    # -- training ------------------------------------------------------------------------

    def train(
        self,
        actor: Actor,
        *,
        progress: Callable[[AdaptProgress], None] | None = None,
        stop: threading.Event | None = None,
        views_per_photo: int = VIEWS_PER_PHOTO,
        folds: int = 5,
        kind: str | None = None,
    ) -> AdaptResult | None:
        """Train a head on every enrolled photo of the network in use, measure it on the
        site's people (leave-people-out) and store it; the switch is not changed. None
        when ``stop`` was set. Raises ``InputError`` when there is too little to train on."""
        from kiosk.vision.adapt import (
            AdaptConfig,
            Cancelled,
            Views,
            augmented_views,
            config_dict,
            fit,
            make_head,
            site_curve,
        )
        from kiosk.vision.embedder import resolve_device

        actor.require(Role.ADMIN)
        v = self.settings.vision
        if not network(v.network).normalized:
            raise InputError(
                f"site adaptation needs a network whose embeddings are on the unit sphere "
                f"(sface); [vision] network is {v.network}"
            )
        started = time.perf_counter()
        report = progress or (lambda p: None)
        # the whole job in percent: crops 0-10, augmentation 10-40, folds 40-90, final 90-100
        spans = {"reading": (0, 10), "augment": (10, 40), "measure": (40, 90), "train": (90, 100)}

        def tell(stage: str, words: str, done: int, total: int) -> None:
            lo, hi = spans[stage]
            report(AdaptProgress(words, done, total, lo + (hi - lo) * done // max(total, 1)))

        tell("reading", "reading the enrolled photos", 0, 1)
        with self.store.unit_of_work() as uow:
            count = uow.templates.count(self.checksum)
        if count > MAX_TEMPLATES:
            raise InputError(
                f"site adaptation trains on at most {MAX_TEMPLATES:,} enrolled photos; this "
                f"site has {count:,} (the plain network needs no training)"
            )
        embeddings, labels, chips = self._training_set()
        per_person = Counter(labels)
        people = len(per_person)
        if people < 3 or sum(1 for n in per_person.values() if n >= 3) < 2:
            raise InputError(
                "too few enrolled photos to train on: at least 3 people, two of them with 3 "
                "photos or more"
            )
        tell("reading", "reading the enrolled photos", 1, 1)
        config = AdaptConfig(kind=kind or AdaptConfig.kind)
        device = resolve_device(v.device)
        lab = np.asarray(labels, np.int64)
        try:
            extra = np.zeros((len(lab), 0, 128), np.float32)
            with_crops = [i for i, c in enumerate(chips) if c is not None]
            if views_per_photo > 0 and len(with_crops) == len(chips):
                embedder = self._embedder()
                extra = augmented_views(
                    [c for c in chips if c is not None],
                    embedder.embed,
                    views_per_photo,
                    seed=config.seed,
                    progress=lambda s, d, t: tell("augment", "augmenting the photos", d, t),
                    stop=stop,
                )
            elif views_per_photo > 0:
                # some photos have no stored crop any more (purged): no augmentation at
                # all rather than a head trained on some people's augmentations only
                log.info("site head: %d photos without a crop: no augmentation", len(chips))
            views = Views(embeddings, lab, extra)
            measure = site_curve(
                views,
                config,
                folds=folds,
                device=device,
                progress=lambda d, t: tell(
                    "measure",
                    f"measuring on this site's people (part {min(d + 1, t)} of {t})",
                    d,
                    t,
                ),
                stop=stop,
            )
            trained, fit_report = fit(
                views,
                config,
                device=device,
                progress=lambda d, t: tell("train", "training the head", d, t),
                stop=stop,
            )
        except Cancelled:
            return None
        model = f"{network(v.network).model_name} {network(v.network).version}"
        curve = measure.head.curve(f"{v.network}+head", model)
        head = make_head(
            trained.cpu(),
            network_checksum=self.checksum,
            training_hash=training_hash(embeddings, labels),
            people=people,
            templates=len(labels),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            curve=curve,
            site={
                "own": measure.head.own,
                "best_other": measure.head.best_other,
                "second_other": measure.head.second_other,
                "impostor_sample": _sample(measure.head.impostor),
            },
            report={
                "config": config_dict(config),
                "training": fit_report,
                "augmented_views_per_photo": views_per_photo if extra.shape[1] else 0,
                "folds": measure.folds,
            },
        )
        comparison = self.compare(head, measure.plain, v)
        self._save(
            head,
            actor,
            "adapt",
            version=head.version,
            people=people,
            templates=len(labels),
            best_epoch=fit_report.get("best_epoch"),
            strangers_with_head=comparison.head_strangers.text(),
            strangers_without=comparison.plain_strangers.text(),
        )
        with self.store.unit_of_work() as uow:
            now_emb, now_lab = uow.templates.gallery(self.checksum)
        tell("train", "done", 1, 1)
        return AdaptResult(
            head,
            comparison,
            round(time.perf_counter() - started, 1),
            len([c for c in chips if c is not None]) if extra.shape[1] else 0,
            self.problem(head, now_emb, now_lab) is None,
        )

    def compare(self, head: Head, plain: Any, vision: VisionSettings) -> SiteComparison:
        """The site's leave-people-out figures with ``head`` at its threshold and without
        it (``plain``: the same photos measured with no head) at the plain threshold."""
        m = vision.ambiguity_margin
        point = head.operating_point(vision, head.people)
        plain_t = operating_point(replace(vision, scoring="centre"), head.people).threshold
        s = head.site
        return SiteComparison(
            head_point=point,
            plain_threshold=plain_t,
            head_strangers=_strangers(
                s["own"], s["best_other"], s["second_other"], point.threshold, m
            ),
            plain_strangers=_strangers(plain.own, plain.best_other, plain.second_other, plain_t, m),
            head_missed=_missed(s["own"], s["best_other"], point.threshold, m),
            plain_missed=_missed(plain.own, plain.best_other, plain_t, m),
        )

    def _embedder(self) -> Embeds:
        if self._load_embedder is None:
            raise InputError("the face pipeline is not available here")
        embedder = self._load_embedder()
        if embedder.model_info.checksum != self.checksum:
            raise InputError("the loaded embedding network is not the configured one")
        return embedder

    def _training_set(self) -> tuple[FloatArray, list[int], list[ImageArray | None]]:
        """Every template of the network in use (as the kiosk's gallery reads them), its
        person, and its stored crop (the aligned chip kept at enrollment) when there is
        one. One read transaction, so the rows and the crops agree."""
        size = network(self.settings.vision.network).chip_size
        with self.store.unit_of_work() as uow:
            embeddings, labels = uow.templates.gallery(self.checksum)
            chips: list[ImageArray | None] = []
            rows_of: dict[int, list[int]] = {}
            for row, person in enumerate(labels):
                rows_of.setdefault(person, []).append(row)
            by_row: dict[int, ImageArray | None] = {}
            for person, rows in rows_of.items():
                # the rows the gallery read: this network's, and not damaged (skipped)
                infos = [
                    t
                    for t in uow.templates.for_person(person)
                    if t.model_checksum == self.checksum and not t.damaged
                ]
                if len(infos) != len(rows):  # pragma: no cover - one transaction
                    raise InputError("the enrolled photos changed while reading them; try again")
                for row, info in zip(rows, infos, strict=True):
                    jpeg = uow.templates.crop(info.id) if info.has_crop else None
                    by_row[row] = None if jpeg is None else _chip(jpeg, size)
            chips = [by_row[i] for i in range(len(labels))]
        return embeddings, labels, chips


def _chip(jpeg: bytes, size: int) -> ImageArray | None:
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (size, size):
        return None
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _sample(values: np.ndarray, most: int = 20_000, seed: int = 0) -> np.ndarray:
    values = np.asarray(values, np.float32)
    if len(values) > most:
        values = np.random.default_rng(seed).choice(values, most, replace=False)
    return values
