"""HTTP API routers. Each route declares its access with one :class:`office.auth.Allow` dependency."""

from office.api import audit_log, auth, health, kiosks, org, users

__all__ = ["ROUTERS"]

ROUTERS = (health.router, auth.router, users.router, org.router, kiosks.router, audit_log.router)
