"""Issue 25, item 6: every setting that changes what the door accepts is recorded at each
start with its source, and flagged at every start while it lets more in than the default
(not once); numbers are finite, times not negative, booleans only for booleans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.config import ConfigError, Settings
from kiosk.services.settings_record import record_effective_settings
from kiosk.storage.store import open_store


@pytest.mark.parametrize(
    ("env", "toml", "says"),
    [
        ({"KIOSK_VISION_MIN_FACE_PROBABILITY": "nan"}, "", "finite"),
        ({"KIOSK_DECISION_COOLDOWN_SECONDS": "nan"}, "", "finite"),
        ({"KIOSK_VISION_AMBIGUITY_MARGIN": "inf"}, "", "finite"),
        ({}, "[vision]\nthreshold = true\n", "must be a number"),
        ({}, "[door]\nopen_seconds = -5\n", "negative"),
        ({"KIOSK_SNAPSHOT_RETENTION_DAYS": "-1"}, "", "negative"),
        ({}, "[screen]\nsounds = 1\n", "true or false"),
        ({}, "[liveness]\nborder_check = 0\n", "true or false"),
    ],
)
def test_bad_numbers_and_booleans_are_refused(
    tmp_path: Path, env: dict[str, str], toml: str, says: str
) -> None:
    if toml:
        (tmp_path / "kiosk.toml").write_text(toml)
    with pytest.raises(ConfigError, match=says):
        Settings.load({"KIOSK_HOME": str(tmp_path), **env})


def _weaker(store: object) -> list[dict[str, object]]:
    with store.unit_of_work() as uow:  # type: ignore[attr-defined]
        return [json.loads(a.details) for a in uow.audit.list(action="settings-weaker")]


def test_weaker_settings_are_recorded_with_their_source_at_every_start(tmp_path: Path) -> None:
    env = {
        "KIOSK_HOME": str(tmp_path),
        "KIOSK_LIVENESS_COUNT": "1",
        "KIOSK_LIVENESS_BORDER_CHECK": "false",
        "KIOSK_DECISION_METHOD": "mean",
        "KIOSK_THRESHOLD": "1.29",  # inside the range, far above the level's
    }
    settings = Settings.load(env)
    store = open_store(settings)
    try:
        for start in (1, 2, 3):  # not once: at every start while it stays so
            record_effective_settings(store, settings, people=3)
            flagged = _weaker(store)
            assert len(flagged) == start
            weak = flagged[0]["settings"]
            assert isinstance(weak, dict)
            assert weak["liveness.count"]["by"] == "environment KIOSK_LIVENESS_COUNT"
            assert weak["liveness.count"]["value"] == 1
            assert set(weak) >= {
                "liveness.count",
                "liveness.border_check",
                "decision.method",
                "vision.threshold",
            }
        with store.unit_of_work() as uow:
            started = json.loads(uow.audit.list(action="kiosk-settings", limit=1)[0].details)
        assert started["values"]["liveness.min_parallax"] == settings.liveness.min_parallax
        assert started["sources"]["liveness.count"] == "environment KIOSK_LIVENESS_COUNT"
        # the defaults are not flagged
        record_effective_settings(store, Settings.load({"KIOSK_HOME": str(tmp_path)}), people=3)
        assert len(_weaker(store)) == 3
    finally:
        store.close()


def test_a_kiosk_started_with_liveness_off_is_recorded_once_in_words(tmp_path: Path) -> None:
    """Issue 26: `kiosk --liveness off` was recorded as "liveness.mode active -> off by
    default", again at every start (each start was compared with whichever kiosk of the
    database started last, and the option was taken for the default)."""
    import argparse

    from kiosk.cli.windows import LIVENESS_OPTION, _apply
    from kiosk.services.settings_record import readable_action

    base = Settings.load({"KIOSK_HOME": str(tmp_path)})
    args = argparse.Namespace(
        door=None, door_url=None, status=False, no_sound=False, liveness="off",
        kiosk_id="north", camera=None,
    )  # fmt: skip
    north_off = _apply(args, base)
    south = _apply(
        argparse.Namespace(**{**vars(args), "liveness": None, "kiosk_id": "south"}), base
    )
    assert north_off.source_of("liveness.mode") == LIVENESS_OPTION
    store = open_store(base)
    try:
        north_active = _apply(argparse.Namespace(**{**vars(args), "liveness": None}), base)
        record_effective_settings(store, north_active, people=3)
        for _ in range(3):  # north with the option, south without, taking turns
            record_effective_settings(store, north_off, people=3)
            record_effective_settings(store, south, people=3)
        with store.unit_of_work() as uow:
            outside = uow.audit.list(action="settings-changed-outside")
        assert len(outside) == 1 and outside[0].target == "north"  # once: when it changed
        words = readable_action(outside[0])
        assert words == (
            "changed outside the console at kiosk north: liveness.mode: active → off "
            "(the kiosk command's --liveness option)"
        )
    finally:
        store.close()
