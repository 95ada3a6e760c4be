"""Captured documents: stored encrypted at rest, listed per call, served only to staff with a need.

The ciphertext (AES-GCM via :class:`office.crypto.PersonalDataCipher`) is bound to the document's
office and id as associated data, so a row's bytes cannot be swapped into another row. Rows hold the
bytes in the database for now; :attr:`office.settings.Settings.document_max_bytes` caps each one.
Every successful read and every refusal is audited (who, which document; never the bytes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from office import audit
from office.auth import Principal
from office.calls.service import load_call
from office.cases.access import refuse, require_need
from office.cases.identity import kiosk_call
from office.cases.uploads import UploadRejected, validate_upload
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Case, Document

__all__ = ["DocumentMeta", "call_documents", "meta_of", "read_document", "store_document"]

log = logging.getLogger("office.documents")

#: Document kinds a kiosk may upload.
KINDS = ("page", "straightened")


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """A document without its bytes."""

    document_id: int
    office_id: int
    call_id: str | None
    case_id: int | None
    kind: str
    mime: str
    width: int
    height: int
    bytes: int
    sha256: str
    request_id: str
    created_at: datetime


def meta_of(d: Document) -> DocumentMeta:
    """The metadata of a document row."""
    return DocumentMeta(
        document_id=d.id,
        office_id=d.office_id,
        call_id=d.call_id,
        case_id=d.case_id,
        kind=d.kind,
        mime=d.mime,
        width=d.width,
        height=d.height,
        bytes=d.size_bytes,
        sha256=d.sha256,
        request_id=d.request_id,
        created_at=d.created_at,
    )


def _context(office_id: int, document_id: int) -> bytes:
    return f"document:{office_id}:{document_id}".encode()


def store_document(
    ctx: OfficeContext,
    p: Principal,
    call_id: str,
    data: bytes,
    content_type: str | None,
    kind: str,
    request_id: str,
) -> DocumentMeta:
    """Validate and store a still uploaded by the kiosk of ``call_id``; nothing is stored on refusal."""
    kiosk = p.require_kiosk()
    if kind not in KINDS:
        raise ApiError(422, "invalid_kind", "X-Document-Kind must be page or straightened")
    with ctx.read_db() as s:
        kiosk_call(s, kiosk, call_id)  # 404/409 before the (costlier) image checks
    try:
        checked = validate_upload(data, content_type, max_bytes=ctx.settings.document_max_bytes)
    except UploadRejected as err:
        log.info(
            "document upload refused",
            extra={"code": err.code, "bytes": len(data), "kiosk": kiosk.id, "call": call_id},
        )
        raise ApiError(err.status, err.code, err.message) from None
    with ctx.db() as s, s.begin():
        call = kiosk_call(s, kiosk, call_id)
        doc = Document(
            office_id=call.office_id,
            call_id=call.id,
            kiosk_id=kiosk.id,
            kind=kind,
            mime=checked.mime,
            size_bytes=checked.size,
            sha256=checked.sha256,
            width=checked.width,
            height=checked.height,
            request_id=request_id,
            ciphertext=b"\x00",
            created_at=ctx.clock.now(),
        )
        s.add(doc)
        s.flush()
        s.execute(
            update(Document)
            .where(Document.id == doc.id)
            .values(ciphertext=ctx.cipher.encrypt_bytes(data, context=_context(doc.office_id, doc.id)))
            .execution_options(synchronize_session=False)
        )
        audit.record(
            s,
            p.actor,
            "document.stored",
            target_type="document",
            target_id=doc.id,
            call_id=call.id,
            bytes=checked.size,
        )
        meta = meta_of(doc)
    return meta


def call_documents(ctx: OfficeContext, p: Principal, call_id: str) -> list[DocumentMeta]:
    """Documents captured during a call (metadata only), for staff with a need."""
    user = p.require_user()
    with ctx.read_db() as s:
        call = load_call(s, call_id)
        office_id, agent_id = call.office_id, call.agent_id
        case_agents = {
            a
            for row in s.execute(
                select(Case.owner_agent_id, Case.assigned_agent_id).where(Case.call_id == call.id)
            )
            for a in row
        }
    require_need(
        ctx,
        p,
        user,
        office_id=office_id,
        agents={agent_id, *case_agents},
        action="documents.list",
        target_type="call",
        target_id=call_id,
    )
    with ctx.read_db() as s:
        docs = s.scalars(select(Document).where(Document.call_id == call_id).order_by(Document.id))
        return [meta_of(d) for d in docs]


def read_document(ctx: OfficeContext, p: Principal, document_id: int) -> tuple[bytes, DocumentMeta]:
    """Decrypt a document for staff with a need; the read (or the refusal) is audited."""
    user = p.require_user()
    with ctx.read_db() as s:
        doc = s.get(Document, document_id)
        if doc is None:
            raise refuse(ctx, p, "document.read", "document", document_id, "other_office")
        agents: set[int | None] = set()
        if doc.call_id is not None:
            agents.add(load_call(s, doc.call_id).agent_id)
        if doc.case_id is not None:
            case = s.get(Case, doc.case_id)
            if case is not None:
                agents |= {case.owner_agent_id, case.assigned_agent_id}
        meta, blob = meta_of(doc), doc.ciphertext
    require_need(
        ctx,
        p,
        user,
        office_id=meta.office_id,
        agents=agents,
        action="document.read",
        target_type="document",
        target_id=document_id,
    )
    data = ctx.cipher.decrypt_bytes(blob, context=_context(meta.office_id, meta.document_id))
    with ctx.db() as s, s.begin():
        audit.record(
            s, p.actor, "document.read", target_type="document", target_id=document_id, bytes=meta.bytes
        )
    return data, meta
