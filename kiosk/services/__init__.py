"""Use cases: the kiosk's recognition loop and doors, and the admin's people,
enrollment, access rules, accounts and audit log, shared by the console and the command
line. No Qt here (see the import-linter contracts in pyproject.toml)."""
