"""Site adaptation end to end with real photos, real models and a real database: a head
trained on the enrolled people is stored encrypted, used only while the gallery is the
one it was trained on (refused with a clear message after an enrollment, until it is
retrained), and switching it off gives back exactly the plain search and figures."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kiosk import cli
from kiosk.app import gallery_maker
from kiosk.config import Settings
from kiosk.services.access import AccessService
from kiosk.services.accounts import Actor
from kiosk.services.adaptation import META_KEY, AdaptationService
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.identify import Identifier
from kiosk.services.people import NewPerson
from kiosk.services.security_level import SecurityLevelService
from kiosk.storage.store import Store
from kiosk.vision.calibration import operating_point
from kiosk.vision.head import HeadError
from kiosk.vision.matcher import Gallery, ProjectedGallery, build_gallery
from kiosk.vision.networks import network
from kiosk.vision.pipeline import FacePipeline
from tests.services.conftest import PASSWORD

PEOPLE = ("amy", "bernadette", "howard", "leonard", "raj")
LATER = "sheldon"


def _enroll(
    store: Store,
    settings: Settings,
    pipeline: FacePipeline,
    admin: Actor,
    name: str,
    photos: list[Path],
) -> None:
    service = EnrollmentService(store, pipeline, settings)
    kept = [f for f in (service.check_photo(p) for p in photos) if f.accepted]
    assert len(kept) >= 3, name
    service.save(admin, kept, new=NewPerson(name, f"b-{name}", consent=True))


def _gallery(store: Store) -> tuple[np.ndarray, list[int]]:
    with store.unit_of_work() as uow:
        return uow.templates.gallery(network("sface").sha256)


@pytest.fixture()
def enrolled(
    store: Store, settings: Settings, pipeline: FacePipeline, admin: Actor, faces_dir: Path
) -> list[np.ndarray]:
    """Five people enrolled from photos 1-4; returns the embeddings of their photo 5 (where
    a face is found in it)."""
    held = []
    for name in PEOPLE:
        photos = sorted((faces_dir / "faceapi_bbt" / name).glob("*.png"))
        _enroll(store, settings, pipeline, admin, name, photos[:4])
        held.append(EnrollmentService(store, pipeline, settings).check_photo(photos[4]).embedding)
    found = [e for e in held if e is not None]
    assert len(found) >= 3
    return found


def _on(settings: Settings) -> Settings:
    return replace(settings, vision=replace(settings.vision, adaptation=True))


def test_head_in_use_refused_after_the_gallery_changes_until_retrained(
    store: Store,
    settings: Settings,
    pipeline: FacePipeline,
    admin: Actor,
    enrolled: list[np.ndarray],
    faces_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = []
    service = AdaptationService(store, settings, lambda: pipeline)
    result = service.train(admin, progress=steps.append, views_per_photo=2, folds=3)
    assert result is not None and result.matches_now
    head = result.head
    assert (head.people, head.kind) == (len(PEOPLE), "linear")
    assert result.augmented == head.templates  # every photo augmented from its stored crop
    assert steps[-1].percent == 100
    assert [s.percent for s in steps] == sorted(s.percent for s in steps)
    # stored encrypted: nothing of it readable in the database without the key
    with store.unit_of_work() as uow:
        blob = base64.b64decode(uow.meta.get(META_KEY) or "")
    assert b"training_hash" not in blob and head.training_hash.encode() not in blob
    # trained, but not switched on: matching is plain
    assert not service.state().in_force

    on = _on(settings)
    embeddings, labels = _gallery(store)
    searcher = gallery_maker(on, store)(embeddings, labels)
    assert isinstance(searcher, ProjectedGallery)
    assert searcher.operating_point == head.operating_point(on.vision, len(PEOPLE))
    matches = searcher.search(np.stack(enrolled), None, on.vision.ambiguity_margin)
    assert len(matches) == len(enrolled)
    # a badge holder's 1:1 gallery (one person's templates) goes through the same head as
    # the whole gallery, whose threshold it is searched at
    make = gallery_maker(on, store)
    assert isinstance(make(embeddings, labels), ProjectedGallery)
    one = np.asarray(labels) == labels[0]
    holder = make(embeddings[one], [labels[0]] * int(one.sum()))
    assert isinstance(holder, ProjectedGallery)
    assert holder.projection.version == head.version
    # `kiosk identify` against the enrolled people searches as the kiosk does
    rows = Identifier(AccessService(store, on), pipeline, on).identify(
        str(faces_dir / "faceapi_bbt" / "raj" / "raj5.png")
    )
    main = next(r for r in rows if r["main"])
    assert main["threshold"] == round(searcher.operating_point.threshold, 4)
    state = SecurityLevelService(store, on, AdaptationService(store, on)).state()
    assert state.head_version == head.version
    assert state.point == head.operating_point(on.vision, len(PEOPLE))

    # a new enrollment: the head is refused, with the reason, and matching is plain
    photos = sorted((faces_dir / "faceapi_bbt" / LATER).glob("*.png"))
    _enroll(store, settings, pipeline, admin, LATER, photos[:4])
    embeddings, labels = _gallery(store)
    caplog.set_level(logging.WARNING)
    searcher = make(embeddings, labels)  # the running kiosk's next refresh
    assert type(searcher) is Gallery
    assert "refused" in caplog.text and "changed since it was trained" in caplog.text
    assert labels[0] == labels[1]
    assert type(make(embeddings[:2], labels[:2])) is Gallery  # and so is a holder's
    state_now = AdaptationService(store, on).state()
    assert not state_now.in_force
    assert state_now.problem is not None and "retrain" in state_now.problem
    assert "then 5 people / " in state_now.problem and "now 6 / " in state_now.problem
    assert "refused" in state_now.describe()

    # retrained on the new gallery: in use again
    result = AdaptationService(store, on, lambda: pipeline).train(admin, views_per_photo=0)
    assert result is not None and result.head.people == len(PEOPLE) + 1
    assert isinstance(gallery_maker(on, store)(embeddings, labels), ProjectedGallery)


def test_switching_the_head_off_restores_the_plain_search_and_figures(
    store: Store,
    settings: Settings,
    pipeline: FacePipeline,
    admin: Actor,
    enrolled: list[np.ndarray],
) -> None:
    on = _on(settings)
    assert AdaptationService(store, on, lambda: pipeline).train(admin, views_per_photo=0)
    embeddings, labels = _gallery(store)
    queries = np.stack(enrolled)
    margin = settings.vision.ambiguity_margin
    with_head = gallery_maker(on, store)(embeddings, labels)
    assert isinstance(with_head, ProjectedGallery)

    # switched off through the guarded path: the file says so, the next start reads it
    security = SecurityLevelService(store, settings)
    security.set_adaptation(admin, True)
    path = security.set_adaptation(admin, False)
    assert "adaptation = false" in path.read_text()
    off = Settings.load({"KIOSK_HOME": str(settings.home)})
    assert off.vision.adaptation is False

    plain = build_gallery(embeddings, labels, off.vision)
    searcher = gallery_maker(off, store)(embeddings, labels)
    assert type(searcher) is Gallery
    got = searcher.search(queries, None, margin)
    want = plain.search(queries, None, margin)
    assert [(m.kind, m.label, m.distance, m.threshold) for m in got] == [
        (m.kind, m.label, m.distance, m.threshold) for m in want
    ]
    assert searcher.operating_point == operating_point(off.vision, len(PEOPLE))
    state = SecurityLevelService(store, off, AdaptationService(store, off)).state()
    assert state.head_version is None
    assert state.point == operating_point(off.vision, len(PEOPLE))
    figures = SecurityLevelService(store, off, AdaptationService(store, off)).site(admin)
    plain_figures = SecurityLevelService(store, off).site(admin)
    np.testing.assert_array_equal(figures.best_other, plain_figures.best_other)
    with store.unit_of_work() as uow:  # who switched it, recorded
        details = [a.details for a in uow.audit.list(action="threshold")]
    assert any("site adaptation off" in d for d in details)


def test_an_altered_head_is_refused(
    store: Store,
    settings: Settings,
    pipeline: FacePipeline,
    admin: Actor,
    enrolled: list[np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    on = _on(settings)
    service = AdaptationService(store, on, lambda: pipeline)
    assert service.train(admin, views_per_photo=0)
    with store.unit_of_work(write=True) as uow:
        blob = bytearray(base64.b64decode(uow.meta.get(META_KEY) or ""))
        blob[len(blob) // 2] ^= 1
        uow.meta.set(META_KEY, base64.b64encode(bytes(blob)).decode())
        uow.commit()
    with pytest.raises(HeadError, match="cannot be read"):
        service.stored()
    caplog.set_level(logging.WARNING)
    embeddings, labels = _gallery(store)
    assert type(gallery_maker(on, store)(embeddings, labels)) is Gallery
    assert "refused" in caplog.text
    assert service.remove(admin)
    assert service.stored() is None


def test_adapt_command(
    store: Store,
    settings: Settings,
    enrolled: list[np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KIOSK_HOME", str(settings.home))
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    monkeypatch.setenv("KIOSK_ADMIN", "root")
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", PASSWORD)
    assert cli.main(["adapt", "--status"]) == 0
    assert "No site head trained" in capsys.readouterr().out
    assert cli.main(["adapt", "--views", "0"]) == 0
    out = capsys.readouterr().out
    assert "site head linear-" in out and "stored (5 people" in out
    assert "(strangers let in): with the head" in out and "not in use" in out
    assert cli.main(["adapt", "--on"]) == 0
    assert "site adaptation on written to" in capsys.readouterr().out
    assert cli.main(["adapt", "--status"]) == 0
    assert "switched on" in capsys.readouterr().out  # the new start reads the file
    with pytest.raises(SystemExit) as exit_code:  # argparse: one line, exit 2
        cli.main(["adapt", "--views", "9"])
    assert exit_code.value.code == 2
    assert "--views: invalid choice" in capsys.readouterr().err
    monkeypatch.setenv("KIOSK_ADMIN_PASSWORD", "wrong")
    assert cli.main(["adapt", "--off"]) != 0
    assert "error:" in capsys.readouterr().err
