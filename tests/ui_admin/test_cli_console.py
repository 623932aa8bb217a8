"""The ``admin-console`` subcommand is registered with the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.cli import build_parser
from kiosk.cli_console import cmd_admin_console

REPO = Path(__file__).resolve().parents[2]


def test_admin_console_command_is_registered() -> None:
    args = build_parser().parse_args(["admin-console", "--idle-minutes", "2"])
    assert args.handler is cmd_admin_console and args.idle_minutes == 2.0


def test_admin_console_help() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "admin-console", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "--idle-minutes" in done.stdout
