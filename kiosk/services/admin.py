"""The services the admin console's pages call, handed to the window as one value.

Built by the composition root (:func:`kiosk.app.admin_services`); the command line calls
the same service classes one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.camera.reader import CameraReader
from kiosk.config import Settings
from kiosk.services.access_rules import AccessRulesService
from kiosk.services.accounts import AccountService
from kiosk.services.admin_console import AdminConsole
from kiosk.services.enrollment import EnrollmentService
from kiosk.services.log_browser import LogBrowser
from kiosk.services.people import PeopleService
from kiosk.services.security_level import SecurityLevelService
from kiosk.services.today import TodayService

#: opens a camera source ("0", a video file, an rtsp:// URL, an image folder); the
#: reader is returned unstarted
CameraFactory = Callable[[str], CameraReader]


@dataclass(frozen=True)
class AdminServices:
    settings: Settings
    accounts: AccountService
    people: PeopleService
    enrollment: EnrollmentService
    rules: AccessRulesService
    log: LogBrowser
    #: the log window's export and chain check, until they move to the audit-log service
    security: AdminConsole
    open_camera: CameraFactory
    security_level: SecurityLevelService
    today: TodayService
