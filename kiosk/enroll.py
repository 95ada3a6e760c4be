"""Enrollment: exchange the one-time code a technician types for a device token, stored 0600.

``enroll(settings, code)`` calls the office, checks the token works (``/api/kiosk/me``) and only
then writes it to ``state_dir/device_token``. The code and the token never reach the logs.
"""

from __future__ import annotations

import logging

import httpx

from kiosk.config import KioskSettings, TokenStore
from kiosk.office_client import KioskIdentity, OfficeClient

__all__ = ["enroll"]

logger = logging.getLogger(__name__)


async def enroll(
    settings: KioskSettings, code: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> KioskIdentity:
    """Enroll this kiosk with ``code``; returns who the office says we are. Raises ``OfficeError``."""
    async with OfficeClient(settings.office_url, transport=transport) as anonymous:
        issued = await anonymous.enroll(code.strip())
    async with OfficeClient(settings.office_url, issued.token, transport=transport) as client:
        identity = await client.me()
    TokenStore(settings.state_dir).save(issued.token)
    logger.info("enrolled as kiosk %s at station %s", identity.kiosk_id, identity.station_id)
    return identity
