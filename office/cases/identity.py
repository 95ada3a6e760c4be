"""Identities and verifications a kiosk uploads during a call, and the masked view staff get.

The kiosk sends the card's unmasked fields once, over its authenticated HTTPS connection. The office
keeps the keyed hash of the ID number (to find the resident's open cases later) and an AES-GCM
ciphertext of the whole identity bound to an opaque ``ref``; nothing else, and never in logs. Staff
see it masked (:func:`masked_identity`), and every read is audited without the values.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from office import audit
from office.auth import AuthKiosk, Principal
from office.calls.service import load_call
from office.context import OfficeContext
from office.crypto import mask_id_number, mask_name
from office.errors import ApiError
from office.models import Call, CallIdentity, CallStatus, Verification
from office.queue.resident import age_on

__all__ = [
    "IDENTITY_FIELDS",
    "StoredIdentity",
    "call_identity",
    "decrypt_identity",
    "kiosk_call",
    "mask_address",
    "masked_identity",
    "record_verification",
    "store_identity",
]

#: The card fields a kiosk uploads (contract C1).
IDENTITY_FIELDS = (
    "name",
    "sex",
    "nation",
    "birth_date",
    "address",
    "id_number",
    "issuer",
    "valid_from",
    "valid_to",
    "card_type",
)


@dataclass(frozen=True, slots=True)
class StoredIdentity:
    """The answer to an identity upload: the opaque reference and the masked fields."""

    ref: str
    masked: dict[str, Any]


def _context(ref: str) -> bytes:
    return f"identity:{ref}".encode()


def mask_address(value: str) -> str:
    """Keep the first six characters (province/city/district), mask the rest."""
    v = value.strip()
    if len(v) <= 6:
        return "*" * len(v)
    return v[:6] + "*" * min(8, len(v) - 6)


def masked_identity(identity: dict[str, Any], today: date) -> dict[str, Any]:
    """The identity as staff may see it: name ``张*``, ID ``3101**********1234``, birth year, age."""
    born_text = str(identity.get("birth_date") or "")
    age: int | None = None
    year = born_text[:4]
    try:
        age = age_on(date.fromisoformat(born_text), today)
    except ValueError:
        year = year if year.isdigit() else ""
    return {
        "name": mask_name(str(identity.get("name", ""))),
        "id_number": mask_id_number(str(identity.get("id_number", ""))),
        "sex": str(identity.get("sex", "")),
        "nation": str(identity.get("nation", "")),
        "birth_date": year,
        "age": age,
        "address": mask_address(str(identity.get("address", ""))),
        "issuer": str(identity.get("issuer", "")),
        "valid_from": str(identity.get("valid_from", "")),
        "valid_to": str(identity.get("valid_to", "")),
        "card_type": str(identity.get("card_type", "")),
    }


def kiosk_call(s: Session, kiosk: AuthKiosk, call_id: str) -> Call:
    """The live call of this kiosk, or 404 (another kiosk's call) / 409 (ended)."""
    call = load_call(s, call_id)
    if call.kiosk_id != kiosk.id:
        raise ApiError(404, "call_not_found", "no such call for this kiosk")
    if call.state == CallStatus.ENDED:
        raise ApiError(409, "call_ended", "the call has ended")
    return call


def store_identity(
    ctx: OfficeContext, p: Principal, call_id: str, identity: dict[str, Any]
) -> StoredIdentity:
    """Store an identity read at the kiosk of ``call_id``; audited without values."""
    kiosk = p.require_kiosk()
    ref = "res_" + secrets.token_urlsafe(18)
    plaintext = json.dumps(identity, ensure_ascii=False, sort_keys=True)
    with ctx.db() as s, s.begin():
        call = kiosk_call(s, kiosk, call_id)
        row = CallIdentity(
            ref=ref,
            call_id=call.id,
            office_id=call.office_id,
            ticket_id=call.ticket_id,
            kiosk_id=kiosk.id,
            resident_hash=ctx.cipher.lookup_hash(str(identity["id_number"])),
            identity_enc=ctx.cipher.encrypt(plaintext, context=_context(ref)),
            created_at=ctx.clock.now(),
        )
        s.add(row)
        audit.record(s, p.actor, "identity.stored", target_type="call", target_id=call.id, ref=ref)
    today = ctx.clock.now().astimezone(ctx.settings.zone).date()
    return StoredIdentity(ref, masked_identity(identity, today))


def decrypt_identity(ctx: OfficeContext, row: CallIdentity) -> dict[str, Any]:
    """The identity of a stored row (callers audit the read)."""
    data: dict[str, Any] = json.loads(ctx.cipher.decrypt(row.identity_enc, context=_context(row.ref)))
    return data


def call_identity(s: Session, call: Call) -> CallIdentity | None:
    """The latest identity read during ``call`` or, failing that, another call of its ticket."""
    q = select(CallIdentity).order_by(CallIdentity.id.desc()).limit(1)
    found = s.scalar(q.where(CallIdentity.call_id == call.id))
    if found is None:
        found = s.scalar(q.where(CallIdentity.ticket_id == call.ticket_id))
    return found


def record_verification(
    ctx: OfficeContext, p: Principal, call_id: str, kind: str, matched: bool, score: int
) -> Verification:
    """Record a verification result of the kiosk's live call."""
    kiosk = p.require_kiosk()
    with ctx.db() as s, s.begin():
        call = kiosk_call(s, kiosk, call_id)
        row = Verification(
            call_id=call.id,
            office_id=call.office_id,
            kind=kind,
            matched=matched,
            score=score,
            at=ctx.clock.now(),
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            p.actor,
            "verification.recorded",
            target_type="call",
            target_id=call.id,
            kind=kind,
            matched=matched,
        )
        s.expunge(row)
    return row
