"""HTTP API routers. Each route declares its access with one :class:`office.auth.Allow` dependency."""

from office.api import (
    appointments,
    audit_log,
    auth,
    board,
    calls,
    cases,
    catalog,
    documents,
    fleet,
    followups,
    health,
    kiosks,
    org,
    queue,
    ratings,
    schedule,
    stats,
    users,
)

__all__ = ["ROUTERS"]

ROUTERS = (
    health.router,
    auth.router,
    users.router,
    org.router,
    kiosks.router,
    audit_log.router,
    catalog.router,
    queue.router,
    board.router,
    schedule.router,
    appointments.router,
    calls.router,
    ratings.router,
    followups.router,
    fleet.router,
    cases.router,
    documents.router,
    stats.router,
)
