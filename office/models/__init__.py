"""SQLAlchemy models owned by the office. Importing this package registers every table."""

from office.models.audit import AuditEvent
from office.models.base import Base, UTCDateTime, utcnow
from office.models.catalog import MaterialForm, Service, ServiceCategory, ServiceMaterial, ServiceRevision
from office.models.org import Kiosk, Office, Station
from office.models.queue import (
    AgentSkill,
    AgentState,
    AgentStatus,
    Priority,
    QueueSettings,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketState,
)
from office.models.users import Role, User, WebSession

__all__ = [
    "AgentSkill",
    "AgentState",
    "AgentStatus",
    "AuditEvent",
    "Base",
    "Kiosk",
    "MaterialForm",
    "Office",
    "Priority",
    "QueueSettings",
    "Role",
    "Service",
    "ServiceCategory",
    "ServiceMaterial",
    "ServiceRevision",
    "Station",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketState",
    "UTCDateTime",
    "User",
    "WebSession",
    "utcnow",
]
