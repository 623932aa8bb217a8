"""The security page's site-adaptation box with real photos and the real pipeline: the
train button runs in the background with a progress bar, stores the head and shows the
site's figures with and without it; the switch writes the config file; stop stores
nothing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.config import Settings
from kiosk.services.accounts import Actor
from kiosk.services.admin import AdminServices
from kiosk.services.people import NewPerson
from kiosk.ui.admin.security import SecurityPage

PEOPLE = ("amy", "howard", "leonard", "penny")


@pytest.fixture
def enrolled(vision_services: AdminServices, admin: Actor, faces_dir: Path) -> AdminServices:
    enrollment = vision_services.enrollment
    for i, name in enumerate(PEOPLE):
        photos = sorted((faces_dir / "faceapi_bbt" / name).glob("*.png"))
        kept = [f for f in (enrollment.check_photo(p) for p in photos) if f.accepted]
        assert len(kept) >= 3, name
        enrollment.save(admin, kept, new=NewPerson(name, f"B{i}", consent=True))
    return vision_services


def test_train_button_stores_a_head_and_the_switch_writes_the_config(
    qtbot: QtBot, enrolled: AdminServices, admin: Actor, settings: Settings
) -> None:
    page = SecurityPage(enrolled.security_level, admin)
    qtbot.addWidget(page)
    panel = page.adaptation
    assert panel is not None
    qtbot.waitUntil(lambda: panel.state is not None, timeout=30_000)
    assert "No site head trained" in panel.status.text()
    assert not panel.switch_button.isEnabled()  # nothing to switch on yet

    seen: list[int] = []
    panel.bar.valueChanged.connect(seen.append)
    panel.train_button.click()
    assert not panel.train_button.isEnabled() and panel.stop_button.isVisibleTo(page)
    qtbot.waitUntil(lambda: "stored" in panel.message.text(), timeout=300_000)
    assert seen and seen == sorted(seen) and max(seen) == 100
    assert panel.bar.isHidden() and panel.train_button.isEnabled()
    figures = panel.figures.text()
    assert "strangers let in" in figures and "with the head" in figures and "at most" in figures
    qtbot.waitUntil(lambda: "switched off" in panel.status.text(), timeout=30_000)
    assert panel.switch_button.isEnabled() and panel.switch_button.text() == "Switch on"

    panel.switch_button.click()
    written = tomllib.loads((settings.home / "kiosk.toml").read_text())
    assert written["vision"]["adaptation"] is True
    assert Settings.load().vision.adaptation is True
    assert "Restart the kiosks" in panel.message.text()
    qtbot.waitUntil(lambda: "restart the kiosks" in panel.status.text(), timeout=30_000)
    assert panel.switch_button.text() == "Switch off"
    details = [d for _, _, d in enrolled.security_level.history(admin)]
    assert any("site adaptation on" in d for d in details)
    page.close_threads()


def test_stop_stores_nothing(qtbot: QtBot, enrolled: AdminServices, admin: Actor) -> None:
    page = SecurityPage(enrolled.security_level, admin)
    qtbot.addWidget(page)
    panel = page.adaptation
    assert panel is not None
    panel.train_button.click()
    panel.stop_button.click()
    assert "nothing was stored" in panel.message.text()
    assert panel.train_button.isEnabled()
    adaptation = enrolled.security_level.adaptation
    assert adaptation is not None and adaptation.stored() is None
    page.close_threads()
