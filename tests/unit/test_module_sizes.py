"""Small modules with one job: no module in kiosk/ over 500 lines, none in tools/ over 600
(tools/liveness included)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def too_long(folder: Path, limit: int, skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(skip):
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{rel}: {lines} lines")
    return found


def test_no_module_in_kiosk_is_over_500_lines() -> None:
    assert too_long(ROOT / "kiosk", 500) == []


def test_no_module_in_tools_is_over_600_lines() -> None:
    assert too_long(ROOT / "tools", 600) == []
