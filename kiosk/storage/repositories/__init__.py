"""Repositories over one SQLAlchemy session: they take and return plain objects.

They never commit; the unit of work (:mod:`kiosk.storage.store`) does, once per use case.
One module per table or chain: ``people``, ``groups`` (access groups and their rules),
``templates``, ``events`` (the access log), ``admins``, ``audit`` (the operators'
actions), ``meta``; ``chain_head`` locks and advances the head of a hash chain.
"""

from kiosk.storage.repositories.admins import ACCOUNT_ACTIONS, AdminRepository
from kiosk.storage.repositories.audit import AuditRepository
from kiosk.storage.repositories.chain_head import OnExtend
from kiosk.storage.repositories.clock import utcnow
from kiosk.storage.repositories.events import (
    EventRepository,
    event_listing,
    filter_events,
    logged_event,
)
from kiosk.storage.repositories.groups import GroupRepository, ScheduleRepository
from kiosk.storage.repositories.meta import MetaRepository
from kiosk.storage.repositories.people import PeopleRepository
from kiosk.storage.repositories.templates import TemplateRepository, template_seal

__all__ = [
    "ACCOUNT_ACTIONS",
    "AdminRepository",
    "AuditRepository",
    "EventRepository",
    "GroupRepository",
    "MetaRepository",
    "OnExtend",
    "PeopleRepository",
    "ScheduleRepository",
    "TemplateRepository",
    "event_listing",
    "filter_events",
    "logged_event",
    "template_seal",
    "utcnow",
]
