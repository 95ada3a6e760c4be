"""Kiosk enrollment: one-time codes exchanged for device tokens; revocation and rotation.

An admin registers a kiosk for a station and receives a one-time code (shown once, stored as a
SHA-256 digest, expiring). The kiosk exchanges the code for a device token (also shown once and
stored hashed). A new code can be issued to re-enroll a kiosk; the kiosk can rotate its own token;
an admin can revoke it, after which every request with its token is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from office import audit
from office.audit import Actor
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Kiosk, Station
from office.security import digest, new_enrollment_code, new_token

__all__ = ["EnrollmentCode", "IssuedToken", "enroll", "issue_code", "register", "revoke", "rotate"]


@dataclass(frozen=True)
class EnrollmentCode:
    """A freshly issued code (the only time its value is visible)."""

    kiosk: Kiosk
    code: str


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued device token (the only time its value is visible)."""

    kiosk: Kiosk
    token: str


def register(ctx: OfficeContext, *, station_id: int, name: str, actor: Actor) -> EnrollmentCode:
    """Create a kiosk record for a station and issue its first enrollment code."""
    with ctx.db() as s, s.begin():
        if s.get(Station, station_id) is None:
            raise ApiError(404, "station_not_found", "no such station")
        kiosk = Kiosk(station_id=station_id, name=name)
        s.add(kiosk)
        s.flush()
        code = _new_code(ctx, kiosk)
        audit.record(s, actor, "kiosk.registered", target_type="kiosk", target_id=kiosk.id)
    return EnrollmentCode(kiosk=kiosk, code=code)


def issue_code(ctx: OfficeContext, kiosk_id: int, *, actor: Actor) -> EnrollmentCode:
    """Issue a new one-time code for an existing kiosk (re-enrollment, e.g. after a disk swap)."""
    with ctx.db() as s, s.begin():
        kiosk = s.get(Kiosk, kiosk_id)
        if kiosk is None:
            raise ApiError(404, "kiosk_not_found", "no such kiosk")
        code = _new_code(ctx, kiosk)
        audit.record(s, actor, "kiosk.enrollment_code_issued", target_type="kiosk", target_id=kiosk.id)
    return EnrollmentCode(kiosk=kiosk, code=code)


def _new_code(ctx: OfficeContext, kiosk: Kiosk) -> str:
    code = new_enrollment_code()
    kiosk.enrollment_code_hash = digest(_normalise(code))
    kiosk.enrollment_expires_at = ctx.clock.now() + timedelta(seconds=ctx.settings.enrollment_code_ttl_s)
    return code


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def enroll(ctx: OfficeContext, code: str, *, ip: str) -> IssuedToken:
    """Exchange a one-time code for a device token. The code is consumed; a revoked kiosk is re-admitted."""
    now = ctx.clock.now()
    failure: ApiError | None = None
    issued: IssuedToken | None = None
    with ctx.db() as s, s.begin():
        kiosk = s.scalar(select(Kiosk).where(Kiosk.enrollment_code_hash == digest(_normalise(code))))
        if kiosk is None or kiosk.enrollment_expires_at is None or kiosk.enrollment_expires_at <= now:
            audit.record(
                s, Actor("anonymous", "", ip), "kiosk.enroll", success=False, reason="unknown_or_expired_code"
            )
            failure = ApiError(400, "invalid_enrollment_code", "enrollment code unknown, used or expired")
        else:
            token = new_token("dk")
            kiosk.enrollment_code_hash = None
            kiosk.enrollment_expires_at = None
            kiosk.token_hash = digest(token)
            kiosk.token_issued_at = now
            kiosk.enrolled_at = now
            kiosk.revoked_at = None
            audit.record(
                s, Actor("kiosk", kiosk.id, ip), "kiosk.enroll", target_type="kiosk", target_id=kiosk.id
            )
            issued = IssuedToken(kiosk=kiosk, token=token)
    if failure is not None:
        raise failure
    assert issued is not None
    return issued


def rotate(ctx: OfficeContext, kiosk_id: int, *, actor: Actor) -> IssuedToken:
    """Replace a kiosk's token; the old one stops working at once."""
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        kiosk = s.get(Kiosk, kiosk_id)
        if kiosk is None or kiosk.revoked_at is not None:
            raise ApiError(403, "kiosk_revoked", "kiosk is revoked")
        token = new_token("dk")
        kiosk.token_hash = digest(token)
        kiosk.token_issued_at = now
        audit.record(s, actor, "kiosk.token_rotated", target_type="kiosk", target_id=kiosk.id)
    return IssuedToken(kiosk=kiosk, token=token)


def revoke(ctx: OfficeContext, kiosk_id: int, *, actor: Actor) -> Kiosk:
    """Revoke a kiosk: its token and any outstanding enrollment code stop working."""
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        kiosk = s.get(Kiosk, kiosk_id)
        if kiosk is None:
            raise ApiError(404, "kiosk_not_found", "no such kiosk")
        if kiosk.revoked_at is None:
            kiosk.revoked_at = now
        kiosk.token_hash = None
        kiosk.enrollment_code_hash = None
        kiosk.enrollment_expires_at = None
        audit.record(s, actor, "kiosk.revoked", target_type="kiosk", target_id=kiosk.id)
    return kiosk
