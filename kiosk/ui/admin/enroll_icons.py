"""The enrollment dialog's photo icons: a rejected photo greyed with a red frame, a photo
in doubt framed in amber, and a plain square where a file cannot be shown."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImageReader, QPainter, QPen, QPixmap

ICON = 96


def rejected_icon() -> QPixmap:
    pix = QPixmap(ICON, ICON)
    pix.fill(QColor("#f3d6d6"))
    return pix


def framed(pix: QPixmap, colour: str) -> QPixmap:
    """``pix`` with a coloured frame (amber: a photo in doubt)."""
    framed = QPixmap(pix)
    painter = QPainter(framed)
    painter.setPen(QPen(QColor(colour), 5))
    painter.drawRect(framed.rect().adjusted(2, 2, -3, -3))
    painter.end()
    return framed


def file_icon(path: str) -> QPixmap | None:
    """A small, greyed copy of a rejected photo file, so the admin sees which it was."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > 4 * ICON:
        reader.setScaledSize(size.scaled(2 * ICON, 2 * ICON, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None
    pix = QPixmap.fromImage(image).scaled(
        ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    painter = QPainter(pix)
    painter.fillRect(pix.rect(), QColor(255, 255, 255, 120))
    painter.setPen(QPen(QColor("#a4161a"), 3))
    painter.drawRect(pix.rect().adjusted(1, 1, -2, -2))
    painter.end()
    return pix
