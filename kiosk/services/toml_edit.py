"""One value of the config file set or removed, the rest of the text (comments too) kept."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


def set_toml_value(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``[section] key = value`` set, the rest (comments too) unchanged."""
    lines = text.splitlines()
    current: str | None = None
    section_end: int | None = None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m:
            if current == section:
                section_end = i
                break
            current = m.group(1).strip()
            continue
        if current == section and key_re.match(line):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    if current == section:
        insert_at = section_end if section_end is not None else len(lines)
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
        lines.insert(insert_at, f"{key} = {value}")
        return "\n".join(lines) + "\n"
    if lines and lines[-1].strip():
        lines.append("")
    lines += [f"[{section}]", f"{key} = {value}"]
    return "\n".join(lines) + "\n"


def remove_toml_value(text: str, section: str, key: str) -> str:
    """``text`` without ``[section] key = ...`` (unchanged when it is not there)."""
    lines = text.splitlines()
    current: str | None = None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    out = []
    for line in lines:
        m = _SECTION.match(line)
        if m:
            current = m.group(1).strip()
        elif current == section and key_re.match(line):
            continue
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")
