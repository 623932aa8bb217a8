"""Staff imported in one go: a CSV (one row a person) and a folder of photos.

The CSV has a header row with the columns ``name, badge, group, valid_from, valid_until,
consent`` (any order; ``group``, ``valid_from`` and ``valid_until`` may be empty; dates
as ``2026-05-04`` or ``2026-05-04T09:30``, local time; ``consent`` yes/no). Each person's
photos are in ``PHOTOS/<badge>/``.

First :func:`plan_import` reads the CSV and says, per row, what will happen and why a
row cannot be imported (no face analysis yet: it is quick). Then :func:`run_import`
checks each row's photos with the enrollment gate and stores each person in one
transaction (a row is stored whole or not at all), row by row, stopping between rows when
cancelled. A photo already stored for that person (by its content) is skipped, so a
second run changes nothing. Each row's outcome is in the operators' actions: the
enrollment's own ``enroll`` action (source ``import``) for a stored row, an
``import-refused`` action for a refused one, and one ``import`` action for the run.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kiosk.errors import InputError, KioskError
from kiosk.services.accounts import Actor
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.people import NewPerson, check_name_badge, check_validity, clean_group
from kiosk.services.photo_check import IMAGE_SUFFIXES, CheckedFace, file_sha256
from kiosk.storage import limits
from kiosk.storage.records import Role

COLUMNS = ("name", "badge", "group", "valid_from", "valid_until", "consent")
YES = {"yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}
MAX_ROWS = 100_000
MAX_CSV_BYTES = 50 * 1024 * 1024


class Action:
    """What the plan says will happen to a row."""

    ENROLL = "enroll"  # a new person, from the photos that pass the gate
    ADD = "add photos"  # the person is enrolled; photos not stored yet are added
    NOTHING = "nothing to do"  # already imported: every photo is stored
    REFUSED = "refused"


@dataclass(frozen=True)
class PlannedRow:
    """One row of the CSV and what will happen to it (``reason``: why it is refused, or
    what will be done)."""

    line: int  # the line in the CSV file (the header is line 1)
    name: str
    badge: str
    action: str
    reason: str
    group: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    photos: tuple[Path, ...] = ()
    person_id: int | None = None

    @property
    def refused(self) -> bool:
        return self.action == Action.REFUSED


@dataclass(frozen=True)
class ImportPlan:
    csv_path: Path
    photos_dir: Path
    rows: tuple[PlannedRow, ...]

    @property
    def refused(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.refused]

    @property
    def to_do(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.action in (Action.ENROLL, Action.ADD)]


@dataclass(frozen=True)
class RowOutcome:
    """What the import did with one row."""

    row: PlannedRow
    stored: int  # templates added
    refused: str | None  # why nothing was stored (None: stored, or nothing to do)
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.refused is not None:
            return f"refused: {self.refused}"
        if self.row.action == Action.NOTHING or self.stored == 0:
            return "nothing to do: already imported"
        verb = "enrolled" if self.row.action == Action.ENROLL else "added"
        more = f" ({'; '.join(self.warnings)})" if self.warnings else ""
        return f"{verb} with {self.stored} photo(s){more}"


@dataclass
class ImportReport:
    outcomes: list[RowOutcome] = field(default_factory=list)
    cancelled: bool = False

    @property
    def refused(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.refused is not None]

    @property
    def stored(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.refused is None and o.stored > 0]


# -- the plan ------------------------------------------------------------------------------


def _parse_date(text: str, column: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{column} {limits.printable(text, 40)!r} is not a date: use e.g. 2026-05-04"
        ) from None
    try:
        value = (value if value.tzinfo else value.astimezone()).astimezone(UTC)
    except (OverflowError, ValueError):
        raise InputError(f"{column} {limits.printable(text, 40)!r} is out of range") from None
    return value


def _read_rows(csv_path: Path) -> list[tuple[int, dict[str, str]]]:
    """The CSV's rows as (line, column -> text); one line when the file cannot be used."""
    if not csv_path.is_file():
        raise InputError(f"{csv_path} is not a file: give the CSV with one row per person")
    if csv_path.stat().st_size > MAX_CSV_BYTES:
        raise InputError(f"{csv_path} is larger than {MAX_CSV_BYTES >> 20} MB: split it")
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{csv_path} is not UTF-8 text: save the CSV as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{csv_path} cannot be read ({exc.strerror})") from None
    if "\0" in text:
        raise InputError(f"{csv_path} is not a text file: give a CSV")
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{csv_path} is empty: the first row names the columns") from None
    except csv.Error as exc:
        raise InputError(f"{csv_path} is not a CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{csv_path}: the header row lacks {', '.join(missing)} (it needs {', '.join(COLUMNS)})"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise InputError(f"{csv_path} has more than {MAX_ROWS} rows: split it")
            padded = values + [""] * (len(header) - len(values))
            rows.append((reader.line_num, dict(zip(header, padded, strict=False))))
    except csv.Error as exc:
        raise InputError(f"{csv_path}, line {reader.line_num}: not a CSV row ({exc})") from None
    return rows


def _photos_of(photos_dir: Path, badge: str) -> tuple[Path, ...]:
    folder = photos_dir / badge
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    )


def plan_import(enrollment: EnrollmentService, csv_path: Path, photos_dir: Path) -> ImportPlan:
    """Read the CSV and say per row what will happen (nothing is written)."""
    if not photos_dir.is_dir():
        raise InputError(
            f"{photos_dir} is not a folder: give the folder with one subfolder per badge"
        )
    rows = _read_rows(csv_path)
    groups = set(enrollment.known_groups())
    seen: dict[str, int] = {}
    planned = [_plan_row(enrollment, photos_dir, groups, seen, line, v) for line, v in rows]
    return ImportPlan(csv_path, photos_dir, tuple(planned))


def _plan_row(
    enrollment: EnrollmentService,
    photos_dir: Path,
    groups: set[str],
    seen: dict[str, int],
    line: int,
    values: dict[str, str],
) -> PlannedRow:
    name, badge = values.get("name", "").strip(), values.get("badge", "").strip()

    def refuse(reason: str) -> PlannedRow:
        shown_name, shown_badge = limits.printable(name, 100), limits.printable(badge, 60)
        return PlannedRow(line, shown_name, shown_badge, Action.REFUSED, reason)

    try:
        name, badge = check_name_badge(name, badge)
        group = clean_group(values.get("group"))
        limits.check_group(group)
        valid_from = _parse_date(values.get("valid_from", ""), "valid_from")
        valid_until = _parse_date(values.get("valid_until", ""), "valid_until")
        check_validity(valid_from, valid_until)
    except InputError as exc:
        return refuse(str(exc))
    consent = values.get("consent", "").strip().lower()
    if consent not in YES | NO:
        return refuse(f"consent {limits.printable(consent, 20)!r} is not yes or no")
    if consent not in YES:
        return refuse("no consent: a face is stored only with the person's consent")
    if group is not None and group not in groups:
        return refuse(f"there is no group {group!r}: create it first (Rules), or leave it empty")
    if badge in seen:
        return refuse(f"the badge {badge} is also on line {seen[badge]}")
    seen[badge] = line
    if "/" in badge or "\\" in badge or badge in (".", ".."):
        return refuse(f"the badge {badge!r} cannot name a photo folder")
    photos = _photos_of(photos_dir, badge)
    if not photos:
        return refuse(f"no photos in {photos_dir.name}/{badge}/")
    try:
        existing = enrollment.existing_person(name, badge)
    except InputError as exc:
        return refuse(str(exc))
    if existing is None:
        action, why = Action.ENROLL, f"enroll from {len(photos)} photo(s)"
    else:
        stored = enrollment.stored_contents(existing)
        new = [p for p in photos if file_sha256(p) not in stored]
        if new:
            action, why = Action.ADD, f"already enrolled: add {len(new)} new photo(s)"
        else:
            action, why = Action.NOTHING, "already imported"
    return PlannedRow(
        line,
        name,
        badge,
        action,
        why,
        group=group,
        valid_from=valid_from,
        valid_until=valid_until,
        photos=photos,
        person_id=existing,
    )


# -- the import ----------------------------------------------------------------------------


def run_import(
    enrollment: EnrollmentService,
    actor: Actor,
    plan: ImportPlan,
    *,
    cancel: threading.Event | None = None,
    on_row: Callable[[int, RowOutcome], None] | None = None,
) -> ImportReport:
    """Import the rows of ``plan`` in order (slow: every photo goes through the gate).

    ``on_row(index, outcome)`` is called after each row; ``cancel`` is looked at between
    rows (a row is stored whole or not at all)."""
    actor.require(Role.ADMIN)
    report = ImportReport()
    for index, row in enumerate(plan.rows):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        outcome = _import_row(enrollment, actor, row)
        report.outcomes.append(outcome)
        if outcome.refused is not None:
            enrollment.record_action(
                actor,
                "import-refused",
                f"badge {row.badge}",
                name=row.name,
                line=row.line,
                file=plan.csv_path.name,
                reason=outcome.refused,
            )
        if on_row is not None:
            on_row(index, outcome)
    enrollment.record_action(
        actor,
        "import",
        plan.csv_path.name,
        rows=len(plan.rows),
        done=len(report.outcomes),
        stored=len(report.stored),
        refused=len(report.refused),
        unchanged=len(report.outcomes) - len(report.stored) - len(report.refused),
        cancelled=report.cancelled,
    )
    return report


def _import_row(enrollment: EnrollmentService, actor: Actor, row: PlannedRow) -> RowOutcome:
    if row.refused:
        return RowOutcome(row, 0, row.reason)
    if row.action == Action.NOTHING:
        return RowOutcome(row, 0, None)
    stored = enrollment.stored_contents(row.person_id) if row.person_id is not None else set()
    faces: list[CheckedFace] = []
    for path in row.photos:
        if file_sha256(path) in stored:
            continue
        faces.append(enrollment.check_photo(path))
    accepted = [f for f in faces if f.accepted]
    if not accepted:
        if not faces:
            return RowOutcome(row, 0, None)
        why = "; ".join(f"{f.name}: {f.reason_text}" for f in faces)
        return RowOutcome(row, 0, f"no usable photo ({why})")
    new = None
    if row.person_id is None:
        new = NewPerson(
            row.name,
            row.badge,
            row.group,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            consent=True,
        )
    try:
        duplicates = enrollment.find_duplicates(faces, row.person_id)
        saved = enrollment.save(
            actor,
            faces,
            new=new,
            person_id=row.person_id,
            source="import",
            duplicates=duplicates,
        )
    except KioskError as exc:
        return RowOutcome(row, 0, str(exc))
    warnings = tuple(f"{f.name}: {w}" for f in accepted for w in f.warnings)
    warnings += tuple(f"looks like {d.name} (badge {d.badge})" for d in duplicates)
    return RowOutcome(row, saved.templates_added, None, warnings)
