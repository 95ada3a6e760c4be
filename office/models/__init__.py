"""SQLAlchemy models owned by the office. Importing this package registers every table."""

from office.models.appointments import Appointment, AppointmentNotice, AppointmentState, SlotCapacity
from office.models.audit import AuditEvent
from office.models.base import Base, UTCDateTime, utcnow
from office.models.calls import Call, CallEvent, CallStatus
from office.models.cases import (
    CallIdentity,
    Case,
    CaseCounter,
    CaseEvent,
    CaseMaterial,
    CaseOutcome,
    CaseState,
    Document,
    Verification,
)
from office.models.catalog import MaterialForm, Service, ServiceCategory, ServiceMaterial, ServiceRevision
from office.models.fleet import KioskDiagRequest, KioskHealth, KioskHealthEvent
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
from office.models.ratings import FollowUp, FollowUpEvent, Rating
from office.models.schedule import BookingPolicyRow, CalendarOverride, OfficeSchedule, RotaShift
from office.models.stats import (
    ALL,
    StatsAgentDay,
    StatsAgentDayValue,
    StatsDay,
    StatsDayValue,
    StatsRollup,
    StatsRollupMark,
)
from office.models.users import Role, User, WebSession

__all__ = [
    "ALL",
    "AgentSkill",
    "AgentState",
    "AgentStatus",
    "Appointment",
    "AppointmentNotice",
    "AppointmentState",
    "AuditEvent",
    "Base",
    "BookingPolicyRow",
    "CalendarOverride",
    "Call",
    "CallEvent",
    "CallIdentity",
    "CallStatus",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "CaseMaterial",
    "CaseOutcome",
    "CaseState",
    "Document",
    "FollowUp",
    "FollowUpEvent",
    "Kiosk",
    "KioskDiagRequest",
    "KioskHealth",
    "KioskHealthEvent",
    "MaterialForm",
    "Office",
    "OfficeSchedule",
    "Priority",
    "QueueSettings",
    "Rating",
    "Role",
    "RotaShift",
    "Service",
    "ServiceCategory",
    "ServiceMaterial",
    "ServiceRevision",
    "SlotCapacity",
    "Station",
    "StatsAgentDay",
    "StatsAgentDayValue",
    "StatsDay",
    "StatsDayValue",
    "StatsRollup",
    "StatsRollupMark",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketState",
    "UTCDateTime",
    "User",
    "Verification",
    "WebSession",
    "utcnow",
]
