"""One settings object, built once in ``main()`` and passed down (no global lookups).

Sources, later ones winning: built-in defaults, the TOML file ``<home>/kiosk.toml`` (or
``KIOSK_CONFIG``), then ``KIOSK_*`` environment variables. ``KIOSK_HOME`` chooses the
folder that holds all state (database, key, config, retained snapshots); by default it is
the platform's user data folder.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kiosk.config.sections import (
    DECISION_MODES,
    FUSION_METHODS,
    LEVELS,
    LIVENESS_MODES,
    NETWORKS,
    SCORINGS,
    THRESHOLD_RANGES,
    CaptureSettings,
    DecisionSettings,
    DoorSettings,
    EventsSettings,
    LivenessSettings,
    ScreenSettings,
    VisionSettings,
    check_threshold,
    default_home,
)
from kiosk.errors import ConfigError

#: the sections are defined in kiosk.config.sections and read from here
__all__ = [
    "THRESHOLD_RANGES",
    "CaptureSettings",
    "DECISION_MODES",
    "DecisionSettings",
    "DoorSettings",
    "EventsSettings",
    "FUSION_METHODS",
    "LEVELS",
    "LIVENESS_MODES",
    "LivenessSettings",
    "NETWORKS",
    "SCORINGS",
    "ScreenSettings",
    "Settings",
    "VisionSettings",
    "check_threshold",
    "default_home",
]


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    database_url: str | None = None  # None: SQLite file <home>/kiosk.db
    key_file: Path | None = None  # None: <home>/kiosk.key
    #: the encryption key itself (urlsafe base64 of 32 bytes), instead of the key file;
    #: set it with KIOSK_ENCRYPTION_KEY, never in the TOML file
    encryption_key: str | None = field(default=None, repr=False)
    kiosk_id: str = "kiosk-1"
    camera: str = "0"  # webcam index, video file, RTSP/HTTP URL or image folder
    snapshot_retention_days: int = 30
    keep_snapshots: bool = True
    #: aligned enrollment crops (kept to recompute templates for a new model) are purged
    #: after this many days; 0 keeps them until the person is erased
    crop_retention_days: int = 0
    vision: VisionSettings = field(default_factory=VisionSettings)
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    decision: DecisionSettings = field(default_factory=DecisionSettings)
    door: DoorSettings = field(default_factory=DoorSettings)
    events: EventsSettings = field(default_factory=EventsSettings)
    screen: ScreenSettings = field(default_factory=ScreenSettings)
    liveness: LivenessSettings = field(default_factory=LivenessSettings)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "kiosk.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def effective_key_file(self) -> Path:
        return self.key_file or self.home / "kiosk.key"

    #: where each value that is not a built-in default came from: ("vision.threshold",
    #: "environment KIOSK_THRESHOLD"), ("liveness.mode", "file /path/kiosk.toml"), ...
    sources: tuple[tuple[str, str], ...] = ()

    def source_of(self, key: str) -> str:
        """Where the setting ``key`` ("vision.threshold", "liveness.mode", "kiosk_id")
        came from: "default", "file PATH" or "environment NAME"."""
        return dict(self.sources).get(key, "default")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from defaults, the TOML file and ``KIOSK_*`` variables."""
        env = os.environ if env is None else env
        home = Path(env["KIOSK_HOME"]).expanduser() if env.get("KIOSK_HOME") else default_home()
        config_path = Path(env.get("KIOSK_CONFIG", str(home / "kiosk.toml")))
        data: dict[str, Any] = {}
        if config_path.is_file():
            try:
                data = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read the config file {config_path}: {exc}") from exc
        from_file = f"file {config_path}"
        origin: dict[str, str] = {}
        sections: dict[str, Any] = {}
        for name, section_cls in _SECTIONS.items():
            section_data = data.pop(name, {})
            if not isinstance(section_data, dict):
                raise ConfigError(f"{config_path}: [{name}] must be a table")
            origin.update({f"{name}.{key}": from_file for key in section_data})
            names = [f"KIOSK_{name.upper()}_{{}}"]
            if name == "vision":
                names.append("KIOSK_{}")  # KIOSK_THRESHOLD, KIOSK_LEVEL, KIOSK_NETWORK
            for f in fields(section_cls):
                for pattern in names:
                    var = pattern.format(f.name.upper())
                    value = env.get(var)
                    if value is not None and (value != "" or pattern == names[0]):
                        section_data[f.name] = value
                        origin[f"{name}.{f.name}"] = f"environment {var}"
                        break
            sections[name] = _build(section_cls, section_data, _where(origin, name))
        origin.update({key: from_file for key in data})
        # Environment: KIOSK_<FIELD> for top-level fields.
        for f in fields(cls):
            if f.name in ("home", "sources") or f.name in _SECTIONS:
                continue
            value = env.get(f"KIOSK_{f.name.upper()}")
            if value is not None:
                data[f.name] = value
                origin[f.name] = f"environment KIOSK_{f.name.upper()}"
        if "sources" in data:
            raise ConfigError(f"{config_path}: unknown setting(s): sources")
        settings = _build(cls, {**data, "home": home, **sections}, str(config_path))
        return dataclasses.replace(settings, sources=tuple(sorted(origin.items())))


def _where(origin: Mapping[str, str], section: str) -> str:
    """The sources of one section's values, for an error message."""
    found = sorted({v for k, v in origin.items() if k.startswith(section + ".")})
    return " / ".join(found) or "defaults"


#: The nested tables of the config file (``[name]``, ``KIOSK_<NAME>_<FIELD>``).
_SECTIONS: dict[str, type] = {
    "vision": VisionSettings,
    "capture": CaptureSettings,
    "decision": DecisionSettings,
    "door": DoorSettings,
    "events": EventsSettings,
    "screen": ScreenSettings,
    "liveness": LivenessSettings,
}


#: settings whose default is None (unset) and whose value, once set, is a number
_OPTIONAL_NUMBERS = ("threshold",)
#: settings whose default is None (the network's choice) and whose value is true or false
_OPTIONAL_BOOLS = ("flip_average",)


def _coerce(name: str, value: Any, default: Any, source: str) -> Any:
    """Convert a TOML or environment value to the type of the field's default, and check
    what every number must be: finite (no NaN, no infinity), and no time or period below
    zero. A boolean is only for a true-or-false setting (``threshold = true`` is not 1.0)."""
    result = _converted(name, value, default, source)
    numeric = isinstance(result, int | float) and not isinstance(result, bool)
    # (the threshold's own range check names NaN as outside its range)
    if numeric and not math.isfinite(result) and name not in _OPTIONAL_NUMBERS:
        raise ConfigError(f"{source}: {name} must be a finite number, not {value!r}")
    if numeric and name.endswith(_TIMES) and result < 0:
        raise ConfigError(f"{source}: {name} cannot be negative ({value!r})")
    return result


#: settings that are a time or a period (seconds, days): never negative
_TIMES = ("_seconds", "_days", "_minutes")


def _converted(name: str, value: Any, default: Any, source: str) -> Any:
    is_number = name in _OPTIONAL_NUMBERS or (
        isinstance(default, int | float) and not isinstance(default, bool)
    )
    if isinstance(value, bool) and is_number:
        raise ConfigError(f"{source}: {name} must be a number, not {str(value).lower()}")
    wants_bool = isinstance(default, bool) or (default is None and name in _OPTIONAL_BOOLS)
    if wants_bool and not isinstance(value, bool | str):
        raise ConfigError(f"{source}: {name} must be true or false, not {value!r}")
    if isinstance(default, tuple) and isinstance(value, str | list | tuple):
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            numbers = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be a list of numbers") from None
        if len(numbers) != len(default):
            raise ConfigError(f"{source}: {name} must have {len(default)} numbers")
        return numbers
    if default is None and name in _OPTIONAL_BOOLS:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("", "none", "default"):
            return None
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{source}: {name} must be true or false, not {value!r}")
    if default is None and name in _OPTIONAL_NUMBERS:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "level"):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be a number") from None
    if isinstance(value, str):
        if isinstance(default, bool):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{source}: {name} must be true or false, not {value!r}")
        if isinstance(default, int):
            try:
                return int(value)
            except ValueError:
                raise ConfigError(f"{source}: {name} must be a whole number") from None
        if isinstance(default, float):
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"{source}: {name} must be a number") from None
        if name in ("key_file", "home"):
            return Path(value).expanduser()
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _build(cls: Any, data: Mapping[str, Any], source: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s): {', '.join(unknown)}")
    defaults = cls()
    values = {
        name: _coerce(name, value, getattr(defaults, name), source) for name, value in data.items()
    }
    try:
        return dataclasses.replace(defaults, **values)
    except ConfigError as exc:
        if str(exc).startswith(source):
            raise
        raise ConfigError(f"{source}: {exc}") from None
