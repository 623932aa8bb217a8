"""``kiosk admin-console``: the windows for admins and auditors (``kiosk.ui.admin``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kiosk.config import Settings


def cmd_admin_console(args: argparse.Namespace, settings: Settings) -> int:
    from PySide6.QtWidgets import QApplication

    from kiosk.services.admin_console import AdminConsole
    from kiosk.storage.store import open_store
    from kiosk.ui.admin.console import AdminConsoleWindow

    store = open_store(settings)
    try:

        def load_pipeline() -> Any:
            from kiosk.vision.pipeline import FacePipeline

            return FacePipeline.load(settings.vision)

        app = QApplication.instance() or QApplication(sys.argv[:1])
        console = AdminConsole(store, settings, load_pipeline)
        window = AdminConsoleWindow(console, idle_minutes=args.idle_minutes)
        window.show()
        code = int(app.exec())
        window.shutdown()
        return code
    finally:
        store.close()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "admin-console",
        help="open the admin console: people, enrollment, access rules, security, access log",
    )
    p.add_argument(
        "--idle-minutes",
        type=float,
        default=5.0,
        metavar="MIN",
        help="sign out after this many minutes without activity (default 5)",
    )
    p.set_defaults(handler=cmd_admin_console)
