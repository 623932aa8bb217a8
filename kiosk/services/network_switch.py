"""Switching the embedding network: templates are only compared with templates of the
same network, so after ``[vision] network`` changes, each person needs templates of the
new one. They are made again from the aligned crops kept at enrollment where there are
some; the people without crops are listed: they need new photos.

Runs by itself at kiosk start (``kiosk.ui.kiosk_app``) and as ``templates reembed``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.domain.faces import ImageArray, ModelInfo
from kiosk.services.coverage import Coverage, coverage_of
from kiosk.services.photo_check import FaceAnalyzer, chip_jpeg
from kiosk.storage.store import Store

log = logging.getLogger(__name__)

#: a stored crop is a tight aligned chip: a border around it lets the detector see the
#: whole head again (a fraction of the crop's side on each edge)
CROP_BORDER = 0.3


@dataclass(frozen=True)
class SwitchReport:
    model: str
    people: int  # people who got templates of this network
    templates: int  # templates made
    failed: int  # crops in which no face was found again
    need_photos: list[int]  # people still without a template of this network


def coverage(store: Store, model: ModelInfo) -> Coverage:
    return coverage_of(store, model.checksum)


def _decode(jpeg: bytes) -> ImageArray | None:
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    pad = max(8, int(round(CROP_BORDER * max(bgr.shape[:2]))))
    bgr = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def reembed(
    store: Store,
    analyzer: FaceAnalyzer,
    *,
    admin: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> SwitchReport:
    """Make templates of ``analyzer``'s network from the crops of every person who has
    none of it yet. Each person is one transaction; the action is recorded. ``stop``
    (the kiosk closing) ends it between two people: the rest are made at the next start."""
    model = analyzer.model_info
    todo = coverage(store, model)
    made = people = failed = 0
    for n, person_id in enumerate(todo.from_crops):
        if stop is not None and stop.is_set():
            log.info(
                "re-embedding stopped: %d people left for the next start", len(todo.from_crops) - n
            )
            break
        if progress is not None:
            progress(n, len(todo.from_crops))
        with store.unit_of_work(write=True) as uow:
            added = 0
            for info in uow.templates.with_crops_of_other_models(person_id, model.checksum):
                jpeg = uow.templates.crop(info.id)
                rgb = None if jpeg is None else _decode(jpeg)
                results = [] if rgb is None else analyzer.analyze(rgb)
                if not results:
                    failed += 1
                    continue
                best = max(results, key=lambda r: r.face.box.area)
                uow.templates.add(
                    person_id,
                    best.embedding,
                    model,
                    quality=info.quality,
                    source=f"template {info.id} ({info.model_name}) re-embedded",
                    crop_jpeg=chip_jpeg(best.chip),
                )
                added += 1
            if added:
                uow.audit.record(
                    admin,
                    "reembed",
                    str(person_id),
                    model=f"{model.name} {model.version}",
                    templates=added,
                )
                uow.commit()
                made += added
                people += 1
    after = coverage(store, model)
    if made or after.need_photos:
        log.info(
            "network %s: %d template(s) of %d people made from stored crops; %d people need "
            "new photos",
            model.name,
            made,
            people,
            len(after.need_photos),
        )
    return SwitchReport(f"{model.name} {model.version}", people, made, failed, after.need_photos)
