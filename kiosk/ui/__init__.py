"""PySide6 only here: the kiosk screen, its dialogs and its Qt workers."""
