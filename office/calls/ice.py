"""ICE servers for a party: STUN URLs, and TURN with coturn's short-lived REST credentials.

coturn's ``use-auth-secret`` scheme (the "TURN REST API"): the username is
``<expiry unix time>:<party id>`` and the credential is ``base64(HMAC-SHA1(secret, username))``;
coturn recomputes it from the shared ``static-auth-secret`` and refuses it after the expiry. The
secret never leaves the office. Nothing configured → an empty list (host candidates only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from office.settings import Settings

__all__ = ["IceServer", "ice_servers", "turn_credential"]


@dataclass(frozen=True)
class IceServer:
    """One ``RTCIceServer``: URLs and, for TURN, a username and credential."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


def turn_credential(secret: str, username: str) -> str:
    """coturn's REST credential for ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_servers(settings: Settings, party_id: str, now: datetime) -> list[IceServer]:
    """The ICE servers ``party_id`` should use now (TURN credentials valid ``turn_ttl_s``)."""
    servers: list[IceServer] = []
    if settings.stun_urls:
        servers.append(IceServer(tuple(settings.stun_urls)))
    if settings.turn_urls and settings.turn_secret is not None:
        expiry = int(now.timestamp()) + settings.turn_ttl_s
        username = f"{expiry}:{party_id}"
        credential = turn_credential(settings.turn_secret.get_secret_value(), username)
        servers.append(IceServer(tuple(settings.turn_urls), username, credential))
    return servers
