"""Asking before typed work is thrown away (a dialog closed with Esc or Cancel)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def unsaved_words(name: str, photos: int) -> str:
    """What would be lost, in words ("" when nothing)."""
    parts = []
    if name:
        parts.append(f"the name “{name}”")
    if photos:
        parts.append(f"{photos} checked photo{'s' if photos != 1 else ''}")
    return " and ".join(parts)


def may_discard(parent: QWidget, name: str, photos: int) -> bool:
    """True when nothing typed would be lost, or the admin chose to discard it."""
    lost = unsaved_words(name, photos)
    if not lost:
        return True
    answer = QMessageBox.question(
        parent,
        "Discard this enrollment?",
        f"Close without saving? {lost[0].upper()}{lost[1:]} will be lost; nothing was saved.",
        QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Discard
