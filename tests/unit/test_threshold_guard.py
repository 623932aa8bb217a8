"""One threshold, guarded: every source passes the same range check, and what the kiosk
runs with is recorded with where it came from; a change outside the console is flagged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, Settings, check_threshold
from kiosk.services.accounts import Actor
from kiosk.services.security_level import SecurityLevelService
from kiosk.services.settings_record import record_effective_settings
from kiosk.storage.records import Role
from kiosk.storage.store import open_store

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["1.5", "1.9", "0.1", "-1", "nan"])
def test_environment_threshold_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"environment KIOSK_THRESHOLD: threshold .* outside"):
        Settings.load({"KIOSK_HOME": str(tmp_path), "KIOSK_THRESHOLD": value})


def test_file_threshold_out_of_range_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text("[vision]\nthreshold = 1.9\n")
    with pytest.raises(ConfigError, match=r"kiosk.toml: threshold 1.9 is outside 0.60-1.30"):
        Settings.load({"KIOSK_HOME": str(tmp_path)})
    # the range follows the network: 0.9 is fine for SFace, not for dlib's scale
    assert check_threshold("sface", 0.9) == 0.9
    with pytest.raises(ConfigError, match="0.20-1.00 for the dlib network"):
        Settings.load(
            {"KIOSK_HOME": str(tmp_path), "KIOSK_VISION_NETWORK": "dlib", "KIOSK_THRESHOLD": "1.2"}
        )


def test_command_line_refuses_it_with_one_line(tmp_path: Path, faces_dir: Path) -> None:
    env = {**os.environ, "KIOSK_HOME": str(tmp_path / "home"), "KIOSK_THRESHOLD": "1.5"}
    env.pop("KIOSK_DATABASE_URL", None)
    photo = faces_dir / "deepface/George/img38.jpg"
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "identify", str(photo)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "outside 0.60-1.30" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "home" / "kiosk.db").exists()  # nothing written on bad input


def test_sources_and_changes_outside_the_console_are_recorded(tmp_path: Path) -> None:
    env = {"KIOSK_HOME": str(tmp_path)}
    settings = Settings.load(env)
    assert settings.source_of("vision.level") == "default"
    store = open_store(settings)
    try:
        assert record_effective_settings(store, settings, people=3) is None
        # the same settings again: nothing to flag
        assert record_effective_settings(store, settings, people=3) is None
        # someone sets the threshold in the environment (not through the console)
        changed = Settings.load({**env, "KIOSK_THRESHOLD": "1.2"})
        assert changed.source_of("vision.threshold") == "environment KIOSK_THRESHOLD"
        note = record_effective_settings(store, changed, people=3)
        assert note is not None and "KIOSK_THRESHOLD" in note and "vision.threshold" in note
        service = SecurityLevelService(store, changed)
        assert service.outside_change() is not None
        assert "KIOSK_THRESHOLD" in service.overridden_by_environment()
        # an admin sets the level through the service: the next start is not flagged
        admin = Actor("root", Role.ADMIN)
        service.set_level(admin, "secure")
        after = Settings.load(env)
        assert after.vision.level == "secure" and after.source_of("vision.level").startswith("file")
        assert record_effective_settings(store, after, people=3) is None
        assert SecurityLevelService(store, after).outside_change() is None
    finally:
        store.close()
