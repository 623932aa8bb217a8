"""The sections of the settings (``[vision]``, ``[capture]``, ``[decision]``, ``[door]``,
``[events]``, ``[screen]``, ``[liveness]``): plain dataclasses that check their own values.
The settings object and its loading are :mod:`kiosk.config`'s."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import ConfigError

#: The embedding networks (``[vision] network``) and the range an explicit distance
#: threshold must fall in for each (their distances have different scales: SFace's
#: embeddings are on the unit sphere, distances 0..2; dlib's are not).
NETWORKS = ("sface", "dlib")
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {"sface": (0.60, 1.30), "dlib": (0.20, 1.00)}
#: How a person is scored against a face: the centre of their templates or the nearest.
SCORINGS = ("centre", "nearest")
#: The security levels (``kiosk.domain.operating``): each names the chance per attempt
#: that a stranger is let in, and the threshold follows the number of people enrolled.
LEVELS = ("normal", "secure", "most-secure")


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("kiosk", appauthor=False))


@dataclass(frozen=True)
class VisionSettings:
    """How faces are found and compared."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    #: the embedding network: "sface" (OpenCV Zoo's SFace) or "dlib" (dlib's ResNet);
    #: see kiosk.vision.networks
    network: str = "sface"
    min_face_size: int = 40  # pixels; MTCNN's smallest face in photos (embed, enroll)
    #: the kiosk's smallest face, in pixels of the camera frame: a face 16 cm wide at
    #: 1.5 m is about 55 px wide (65 px MTCNN box) in a 640-px-wide 65-degree webcam frame
    kiosk_min_face_size: int = 60
    min_face_probability: float = 0.9
    max_image_side: int = 1600  # larger images are downscaled before detection
    #: the security level; the distance threshold follows it and the gallery's size
    level: str = "normal"
    #: an explicit distance threshold instead of the level's (range-checked per network)
    threshold: float | None = None
    scoring: str = "centre"  # centre | nearest: how a person is scored
    #: a face is ambiguous when the second-best *other* person is within this margin
    ambiguity_margin: float = 0.03
    #: average the embeddings of a chip and its mirror image; unset: the network's own
    #: default (measured: dlib gains from it, SFace does not; docs/recognition.md, "The
    #: pipeline")
    flip_average: bool | None = None
    #: GPU only: "fp16" runs the network in half precision with channels_last memory
    #: (keep it only where `python -m tools.bench --device cuda` shows it faster and
    #: within 1e-3 of fp32); the CPU always runs fp32.
    precision: str = "fp32"
    #: search through the site-adapted head trained on the enrolled people (``kiosk
    #: adapt``), when there is one for the gallery as it is; off by default: on the
    #: development sets it did not beat the plain network (docs/measurements/adaptation.md)
    adaptation: bool = False

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ConfigError(
                f"vision network must be one of {', '.join(NETWORKS)}, not {self.network!r}"
            )
        if self.level not in LEVELS:
            raise ConfigError(
                f"security level must be one of {', '.join(LEVELS)}, not {self.level!r}"
            )
        if self.scoring not in SCORINGS:
            raise ConfigError(
                f"vision scoring must be one of {', '.join(SCORINGS)}, not {self.scoring!r}"
            )
        if self.threshold is not None:
            check_threshold(self.network, self.threshold)
        if not 0.0 <= self.ambiguity_margin <= 0.5:
            raise ConfigError("vision ambiguity_margin must be between 0 and 0.5")


def check_threshold(network: str, value: float) -> float:
    """The one range check every threshold passes (configuration file, environment,
    command line, console): a ``ConfigError`` with the allowed range otherwise."""
    lo, hi = THRESHOLD_RANGES[network]
    if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(
            f"threshold {value!r} is outside {lo:.2f}-{hi:.2f} for the {network} network "
            "(a larger threshold lets strangers in)"
        )
    return float(value)


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


#: How the frames of one face add up to one identity (``[decision] method``; see
#: ``kiosk.domain.policy``): ``fused`` searches the quality-weighted mean of their
#: embeddings, ``mean`` the plain mean, ``vote`` takes the person more than half name.
FUSION_METHODS = ("fused", "mean", "vote")

#: How the kiosk knows who is at the door (``[decision] mode``): ``face`` searches every
#: enrolled person (1:N); ``badge+face`` waits for a badge read by a card reader that
#: types its number (a keyboard wedge) or typed on the screen's keypad, and checks the
#: face against that person alone (1:1), as commercial terminals' "card + face" mode.
DECISION_MODES = ("face", "badge+face")


@dataclass(frozen=True)
class DecisionSettings:
    """When and how the kiosk decides (``[decision]``): see ``kiosk.domain.policy``.

    One decision per attempt (a face from its arrival until it leaves): on the frames of
    that face, added up by ``method``, within ``decision_seconds`` of its first frame when the
    machine recognises fast enough, on ``min_frames`` to ``max_frames`` frames."""

    #: vote | fused | mean (FUSION_METHODS). The vote: at the operating point (chosen on
    #: single photos) a stranger must pass on most frames, so FPIR per attempt stays at
    #: most the per-frame one; a fused embedding lies nearer everyone's templates, and let
    #: in 4 of 649 stranger sequences where the vote let in none (python -m
    #: tools.decision_eval, SFace, docs/measurements/decision.md)
    method: str = "vote"
    decision_seconds: float = 1.5
    min_frames: int = 2
    max_frames: int = 5
    #: a face that stays in front of the kiosk after its decision is decided again after
    #: this long (never after it was denied as a spoof: that holds until it leaves)
    cooldown_seconds: float = 10.0
    #: a face is decided on only when its centre is in this part of the frame
    #: (left, top, right, bottom as fractions of width and height)
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    mode: str = "face"  # face | badge+face
    #: badge + face: how long after the badge the face may come
    badge_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ConfigError(
                f"decision method must be one of {', '.join(FUSION_METHODS)}, not {self.method!r}"
            )
        if self.mode not in DECISION_MODES:
            raise ConfigError(
                f"decision mode must be one of {', '.join(DECISION_MODES)}, not {self.mode!r}"
            )
        if not 1 <= self.min_frames <= self.max_frames:
            raise ConfigError("decision min_frames must be at least 1 and at most max_frames")
        if self.decision_seconds <= 0 or self.cooldown_seconds < 0 or self.badge_seconds <= 0:
            raise ConfigError(
                "decision_seconds and badge_seconds must be above 0, cooldown_seconds not below 0"
            )


@dataclass(frozen=True)
class DoorSettings:
    """The door (``[door]``): ``log`` (default), ``webhook``, ``serial`` or ``osdp``."""

    kind: str = "log"
    open_seconds: float = 5.0
    url: str = ""  # webhook: POSTed a JSON body
    timeout_seconds: float = 2.0
    serial_device: str = ""  # serial relay, e.g. /dev/ttyUSB0
    serial_open: str = "A00101A2"  # hex bytes written to open (an LCUS-1 relay's "on")
    serial_close: str = "A00100A1"  # hex bytes written after open_seconds
    #: sign the webhook's body (X-Kiosk-Signature: sha256=HMAC) with a secret derived from
    #: the encryption key; `kiosk admin door-secret` prints it for the controller
    sign: bool = False
    #: osdp: the kiosk is an OSDP reader on this serial line (an RS-485 adapter) and
    #: sends the badge number as a card read; the panel's LED answer opens or not
    osdp_device: str = ""
    osdp_address: int = 1  # the reader's address on the bus, 0..126, as set in the panel
    osdp_baud: int = 9600
    osdp_format: str = "wiegand26"  # wiegand26 (H10301, badge 0..65535) | raw
    osdp_facility: int = 0  # wiegand26: the facility (site) code, 0..255
    osdp_bits: int = 32  # raw: the number of bits
    #: Secure Channel (AES-128): its key is the file osdp.key beside the encryption key
    osdp_secure: bool = True

    def __post_init__(self) -> None:
        if not self.open_seconds > 0 or not self.timeout_seconds > 0:
            raise ConfigError("door open_seconds and timeout_seconds must be above 0")
        if self.osdp_format not in ("wiegand26", "raw"):
            raise ConfigError(
                f"door osdp_format must be wiegand26 or raw, not {self.osdp_format!r}"
            )
        if not 0 <= self.osdp_address <= 126 or not 0 <= self.osdp_facility <= 255:
            raise ConfigError("door osdp_address must be 0..126 and osdp_facility 0..255")
        if not 1 <= self.osdp_bits <= 128:
            raise ConfigError("door osdp_bits must be 1..128")


@dataclass(frozen=True)
class EventsSettings:
    """Events to the building's message bus (``[events]``): every decision and every
    change of the kiosk's state as one JSON message (``kiosk.services.events``). Off
    unless ``mqtt`` names a broker. No face image is ever sent."""

    #: mqtt://host[:port] or mqtts://host[:port] (TLS); empty: no events
    mqtt: str = ""
    topic: str = "kiosk"  # topics are <topic>/<kiosk_id>/...
    username: str = ""
    #: the password is never in this file: KIOSK_MQTT_PASSWORD, or this file's first line
    password_file: str = ""
    ca_file: str = ""  # mqtts: the broker's CA (empty: the system's)
    #: messages that wait while the broker is away; beyond, the oldest are dropped and
    #: counted, and staff see the count
    queue_size: int = 1000
    discovery: bool = True  # Home Assistant MQTT discovery
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        if self.mqtt and not self.mqtt.startswith(("mqtt://", "mqtts://")):
            raise ConfigError(f"events mqtt must start with mqtt:// or mqtts://, not {self.mqtt!r}")
        if self.queue_size < 1:
            raise ConfigError("events queue_size must be at least 1")
        for name in ("topic", "discovery_prefix"):
            value = getattr(self, name)
            if not value or any(c in value for c in "#+") or value.startswith("/"):
                raise ConfigError(f"events {name} must be a plain MQTT topic, not {value!r}")


@dataclass(frozen=True)
class ScreenSettings:
    """The kiosk screen (``[screen]``)."""

    result_seconds: float = 4.0  # a decision's time on screen once its face has gone
    sounds: bool = True
    show_status: bool = False  # the status line at start (toggled with S)


#: The liveness check's modes: ``active`` (the default: after a match the screen asks for
#: two random head turns, and the border check runs too; see ``kiosk.liveness``), ``passive``
#: (no prompt: a face framed by a picture's edges is denied; a staff hint, not a check
#: that stops a photo held close) and ``off`` (every face is taken as live).
LIVENESS_MODES = ("off", "passive", "active")


@dataclass(frozen=True)
class LivenessSettings:
    """The liveness check (``[liveness]``): a photo or a screen must not open the door.

    On by default (``active``): a door that lets a printed photo in is worse than one
    that asks for a head turn. ``off`` is an explicit choice (``mode = "off"`` or
    ``kiosk --liveness off``), which the kiosk records with where it came from."""

    mode: str = "active"  # off | passive | active
    #: the moves drawn at random for each attempt (comma-separated: left, right, up, down)
    moves: str = "left,right"
    #: how many moves one challenge asks for: two, in a random order (measured: one turn
    #: is faked by about 1 % of made bent prints; see docs/measurements/liveness.md)
    count: int = 2
    #: how three-dimensional the turns must be together: their margins above the score
    #: that counts a move add up to this (log-odds; 1.5 above the highest single turn of
    #: 2,399 made attacks; see docs/measurements/liveness.md); with ``one_clear_turn``, one
    #: turn this far above ends the check. 0: off (``count`` moves, each at the threshold).
    clear_margin: float = 5.24
    #: let one clear turn (at the first try, the room around the head measured) end the
    #: check at the Normal level, when the passive model also scores the face confidently
    #: real (``passive_clear_above``) and the border cue is on:
    #: about half of deliberate turns end the check at once, 1.2 s sooner. Measured: 0 of
    #: 3,600 made attacks (seeds 81-82) at this default; without the passive condition
    #: one clear turn let 1 of 4,800 in (a phone scoring 0.82). Off: two turns everywhere.
    #: See docs/measurements/liveness.md.
    one_clear_turn: bool = True
    time_limit_seconds: float = 6.0  # from the first prompt to the last move done
    #: challenges one attempt may answer: after a failed one (a turn not counted, the
    #: time out) a new random challenge is asked at once, without stepping away; after
    #: the last, the person is asked to see staff. Each try has its own time limit. A
    #: second try only while the border cue or the passive model is on
    #: (``kiosk.liveness.check.tries_in_force``): a replay of the person's turns gets none.
    tries: int = 2
    #: how far a head must turn for the turn to be weighed, as the nose's offset from the
    #: plane of eyes and mouth in eye-to-mouth distances (see kiosk.liveness.geometry):
    #: 0.07 is a turn of about 12 to 15 degrees; whether it was three-dimensional is then
    #: decided by the measured combination of cues (kiosk.liveness.evidence)
    min_parallax: float = 0.07
    mirrored_camera: bool = False  # the camera image is mirrored (swaps left and right)
    #: deny as a spoof when the straight edges of a picture (paper, phone, tablet) frame
    #: the face on enough frames of the attempt (see kiosk.liveness.cues); switch off
    #: where the room behind the kiosk frames faces by itself (measured: no live frame
    #: of the shared clips and photos was framed)
    border_check: bool = True
    #: a pretrained passive anti-spoofing network (MiniFASNet, assets/minifasnet) as a
    #: second opinion: an attempt whose face it scores under ``passive_fake_below`` (mean
    #: of a few frames) is denied as a picture; a high score lets nobody in without a head
    #: turn (it is one more condition for one clear turn: ``passive_clear_above``).
    #: Measured: no window of a genuine clip under 0.43, the real attack clips at 0.00
    passive_model: bool = True
    passive_fake_below: float = 0.2
    #: one clear turn (``one_clear_turn``) ends the check only when the passive model
    #: scored the face at least this (mean of at least 3 frames: "confidently real");
    #: otherwise the second turn is asked. Without the passive model, never.
    passive_clear_above: float = 0.9

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
        if not 0 < self.passive_fake_below < 1:
            raise ConfigError(
                "liveness passive_fake_below must be between 0 and 1, not "
                f"{self.passive_fake_below}"
            )
        if not self.passive_fake_below < self.passive_clear_above <= 1:
            raise ConfigError(
                "liveness passive_clear_above must be above passive_fake_below "
                f"({self.passive_fake_below}) and at most 1, not {self.passive_clear_above}"
            )
        if not 1 <= self.tries <= 3:
            raise ConfigError(f"liveness tries must be 1 to 3, not {self.tries}")
        if not 0 <= self.clear_margin <= 50:
            raise ConfigError(
                f"liveness clear_margin must be 0 (off) to 50, not {self.clear_margin}"
            )
        if self.mode == "passive" and not self.border_check:
            raise ConfigError(
                "liveness mode passive is the border check: it cannot be switched off there "
                "(use mode off, or active)"
            )

    @property
    def move_names(self) -> tuple[str, ...]:
        return tuple(m.strip().lower() for m in self.moves.split(",") if m.strip())
