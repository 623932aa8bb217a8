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
#: person. Chosen on ../shared/faces/lfw_dev and the identification sets (README,
#: "Accuracy"): the lowest value with lfw_dev accuracy >= 99 %; higher values admit
#: more strangers in 1:N search.
DEFAULT_THRESHOLD = 0.61


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
    #: GPU only: "fp16" runs the network in half precision with channels_last memory
    #: (keep it only where `python -m kiosk.bench --device cuda` shows it faster and
    #: within 1e-3 of fp32); the CPU always runs fp32.
    precision: str = "fp32"


@dataclass(frozen=True)
class CaptureSettings:
    """What is asked of the camera (``[capture]``); the obtained values are shown."""

    width: int = 640
    height: int = 480
    fps: float = 30.0
    #: longest wait between two attempts to reopen a lost camera (back-off doubles up to it)
    retry_max_seconds: float = 8.0
    #: no new frame for this long and the camera counts as offline
    stall_seconds: float = 3.0
    loop_files: bool = True  # a video file or image folder starts again at its end


@dataclass(frozen=True)
class DecisionSettings:
    """When the kiosk decides (``[decision]``): see ``kiosk.domain.policy``."""

    votes_needed: int = 3
    vote_window: int = 5
    vote_seconds: float = 2.0
    cooldown_seconds: float = 10.0
    #: a face is decided on only when its centre is in this part of the frame
    #: (left, top, right, bottom as fractions of width and height)
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class DoorSettings:
    """The door (``[door]``): ``log`` (default), ``webhook`` or ``serial``."""

    kind: str = "log"
    open_seconds: float = 5.0
    url: str = ""  # webhook: POSTed a JSON body
    timeout_seconds: float = 2.0
    serial_device: str = ""  # serial relay, e.g. /dev/ttyUSB0
    serial_open: str = "A00101A2"  # hex bytes written to open (an LCUS-1 relay's "on")
    serial_close: str = "A00100A1"  # hex bytes written after open_seconds


@dataclass(frozen=True)
class ScreenSettings:
    """The kiosk screen (``[screen]``)."""

    result_seconds: float = 4.0  # a decision stays on screen this long, then idle
    sounds: bool = True
    show_status: bool = False  # the status line at start (toggled with S)


#: The liveness check's modes: ``off`` (every face is taken as live), ``passive`` (no
#: prompt: a face framed by a picture's edges is denied) and ``active`` (after a match the
#: screen asks for random head moves, and the border check runs too; see
#: ``kiosk.liveness``).
LIVENESS_MODES = ("off", "passive", "active")


@dataclass(frozen=True)
class LivenessSettings:
    """The liveness check (``[liveness]``): a photo or a screen must not open the door."""

    mode: str = "off"  # off | passive | active
    #: the moves drawn at random for each attempt (comma-separated: left, right, up, down)
    moves: str = "left,right"
    count: int = 2  # how many moves one challenge asks for
    time_limit_seconds: float = 6.0  # from the first prompt to the last move done
    #: the nose's offset from the plane of eyes and mouth that counts as a head turn, in
    #: eye-to-mouth distances (see kiosk.liveness.geometry)
    min_parallax: float = 0.12
    mirrored_camera: bool = False  # the camera image is mirrored (swaps left and right)
    #: deny as a spoof when the straight edges of a picture (paper, phone, tablet) frame
    #: the face on enough frames of the attempt (see kiosk.liveness.cues); switch off
    #: where the room behind the kiosk frames faces by itself (measured: no live frame
    #: of the shared clips and photos was framed)
    border_check: bool = True

    def __post_init__(self) -> None:
        if self.mode not in LIVENESS_MODES:
            raise ConfigError(
                f"liveness mode must be one of {', '.join(LIVENESS_MODES)}, not {self.mode!r}"
            )
        unknown = set(self.move_names) - {"left", "right", "up", "down"}
        if unknown or not self.move_names:
            raise ConfigError(f"liveness moves must be left, right, up or down: {self.moves!r}")
        if self.count < 1 or self.time_limit_seconds <= 0 or self.min_parallax <= 0:
            raise ConfigError("liveness count, time limit and min_parallax must be above 0")
        if self.mode == "passive" and not self.border_check:
            raise ConfigError(
                "liveness mode passive is the border check: it cannot be switched off there "
                "(use mode off, or active)"
            )

    @property
    def move_names(self) -> tuple[str, ...]:
        return tuple(m.strip().lower() for m in self.moves.split(",") if m.strip())


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
        sections: dict[str, Any] = {}
        for name, section_cls in _SECTIONS.items():
            if name == "vision":
                continue
            section_data = data.pop(name, {})
            if not isinstance(section_data, dict):
                raise ConfigError(f"{config_path}: [{name}] must be a table")
            for f in fields(section_cls):
                value = env.get(f"KIOSK_{name.upper()}_{f.name.upper()}")
                if value is not None:
                    section_data[f.name] = value
            sections[name] = _build(section_cls, section_data, str(config_path))
        # Environment: KIOSK_<FIELD> for top-level fields, KIOSK_VISION_<FIELD> for vision.
        for f in fields(cls):
            if f.name == "home" or f.name in _SECTIONS:
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
        return _build(cls, {**data, "home": home, "vision": vision, **sections}, str(config_path))


#: The nested tables of the config file (``[name]``, ``KIOSK_<NAME>_<FIELD>``).
_SECTIONS: dict[str, type] = {
    "vision": VisionSettings,
    "capture": CaptureSettings,
    "decision": DecisionSettings,
    "door": DoorSettings,
    "screen": ScreenSettings,
    "liveness": LivenessSettings,
}


def _coerce(name: str, value: Any, default: Any, source: str) -> Any:
    """Convert a TOML or environment value to the type of the field's default."""
    if isinstance(default, tuple) and isinstance(value, str | list | tuple):
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            numbers = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be a list of numbers") from None
        if len(numbers) != len(default):
            raise ConfigError(f"{source}: {name} must have {len(default)} numbers")
        return numbers
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
