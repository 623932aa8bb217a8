"""One settings object, built once in ``main()`` and passed down (no global lookups).

Sources, later ones winning: built-in defaults, the TOML file ``<home>/kiosk.toml`` (or
``KIOSK_CONFIG``), then ``KIOSK_*`` environment variables. ``KIOSK_HOME`` chooses the
folder that holds all state (database, key, config, retained snapshots); by default it is
the platform's user data folder.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError

#: Distance (euclidean, between the 128-d embeddings) under which two faces are the same
#: person. Chosen on ../shared/faces/lfw_dev (see README "Accuracy").
DEFAULT_THRESHOLD = 0.6


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("kiosk", appauthor=False))


@dataclass(frozen=True)
class VisionSettings:
    """How faces are found and compared."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    min_face_size: int = 40  # pixels; MTCNN's smallest face
    min_face_probability: float = 0.9
    max_image_side: int = 1600  # larger images are downscaled before detection
    threshold: float = DEFAULT_THRESHOLD
    #: a face is ambiguous when the second-best *other* person is within this margin
    ambiguity_margin: float = 0.03
    flip_average: bool = True  # average the embeddings of a chip and its mirror image


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    database_url: str | None = None  # None: SQLite file <home>/kiosk.db
    key_file: Path | None = None  # None: <home>/kiosk.key
    kiosk_id: str = "kiosk-1"
    camera: str = "0"  # webcam index, video file, RTSP/HTTP URL or image folder
    snapshot_retention_days: int = 30
    keep_snapshots: bool = True
    vision: VisionSettings = field(default_factory=VisionSettings)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "kiosk.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def effective_key_file(self) -> Path:
        return self.key_file or self.home / "kiosk.key"

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
        vision_data = data.pop("vision", {})
        if not isinstance(vision_data, dict):
            raise ConfigError(f"{config_path}: [vision] must be a table")
        # Environment: KIOSK_<FIELD> for top-level fields, KIOSK_VISION_<FIELD> for vision.
        for f in fields(cls):
            if f.name in ("home", "vision"):
                continue
            value = env.get(f"KIOSK_{f.name.upper()}")
            if value is not None:
                data[f.name] = value
        for f in fields(VisionSettings):
            value = env.get(f"KIOSK_VISION_{f.name.upper()}")
            if value is not None:
                vision_data[f.name] = value
        if env.get("KIOSK_THRESHOLD"):
            vision_data["threshold"] = env["KIOSK_THRESHOLD"]
        vision = _build(VisionSettings, vision_data, str(config_path))
        return _build(cls, {**data, "home": home, "vision": vision}, str(config_path))


def _coerce(name: str, value: Any, default: Any, source: str) -> Any:
    """Convert a TOML or environment value to the type of the field's default."""
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
    return dataclasses.replace(defaults, **values)
