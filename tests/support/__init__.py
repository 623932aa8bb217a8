"""Helpers shared by several test folders (imported as ``tests.support.*``; pytest puts
the repository root on the path because every test folder is a package)."""
