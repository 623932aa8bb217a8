"""The admin console: sign-in, people and enrollment, access rules, security level and
the audit-log viewer. Windows only; the use cases are in
:mod:`kiosk.services.admin_console` and the services it builds on."""
