"""SQLAlchemy models owned by the office. Importing this package registers every table."""

from office.models.audit import AuditEvent
from office.models.base import Base, UTCDateTime, utcnow
from office.models.org import Kiosk, Office, Station
from office.models.users import Role, User, WebSession

__all__ = [
    "AuditEvent",
    "Base",
    "Kiosk",
    "Office",
    "Role",
    "Station",
    "UTCDateTime",
    "User",
    "WebSession",
    "utcnow",
]
