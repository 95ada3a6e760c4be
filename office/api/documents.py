"""Personal data of a call over HTTP: kiosk uploads (identity, documents, verifications) and the
staff reads (resident panel, document list, document bytes). Contract C1/C2; docs/cases.md.

Kiosk routes admit only the kiosk of the call while the call is live. Staff reads admit agents and
supervisors; the record-level check (office, need) refuses others with an audit entry.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from office.api.common import IdPath, PrefixRouter, StrictModel
from office.auth import Allow, Principal, ctx_of
from office.cases.documents import DocumentMeta, call_documents, read_document, store_document
from office.cases.identity import record_verification, store_identity
from office.cases.residents import OpenCase, lookup_resident, resident_panel
from office.errors import ApiError
from office.models import Role

__all__ = ["router"]

router = PrefixRouter(prefix="/api", tags=["personal data"])

KioskCaller = Annotated[Principal, Depends(Allow(kiosk=True))]
CaseStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR))]
CallIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]

#: Uploads may be larger than the API's general body limit; the settings' document limit is
#: enforced while reading (413), this is only the transport ceiling.
UPLOAD_CEILING = 64 * 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class IdentityIn(StrictModel):
    """The ID card's unmasked fields, as read at the kiosk."""

    name: str = Field(min_length=1, max_length=100)
    sex: str = Field(default="", max_length=8)
    nation: str = Field(default="", max_length=32)
    birth_date: date
    address: str = Field(default="", max_length=200)
    id_number: str = Field(pattern=r"^[0-9A-Za-z]{6,32}$")
    issuer: str = Field(default="", max_length=100)
    valid_from: str = Field(default="", max_length=16)
    valid_to: str = Field(default="", max_length=16)
    card_type: str = Field(default="", max_length=32)


class MaskedIdentity(BaseModel):
    """An identity as staff may see it."""

    name: str
    id_number: str
    sex: str
    nation: str
    birth_date: str = Field(description="the birth year only")
    age: int | None
    address: str
    issuer: str
    valid_from: str
    valid_to: str
    card_type: str


class IdentityOut(BaseModel):
    """An opaque reference to the stored identity and its masked fields."""

    resident_ref: str
    masked: MaskedIdentity


class VerificationIn(StrictModel):
    """A verification result (numbers only: the fingerprint never leaves the kiosk)."""

    kind: Literal["fingerprint"]
    matched: bool
    score: int = Field(ge=0, le=100_000)


class VerificationOut(BaseModel):
    """A verification result of a call."""

    kind: str
    matched: bool
    score: int
    at: datetime


class DocumentOut(BaseModel):
    """A stored document (no bytes)."""

    document_id: int
    kind: str
    mime: str
    width: int
    height: int
    bytes: int
    sha256: str
    created_at: datetime
    request_id: str
    case_id: int | None


class OpenCaseOut(BaseModel):
    """An open case of the resident."""

    id: int
    number: str
    service_id: int
    service_name: str
    state: str
    due_date: date | None
    overdue: bool


class ResidentOut(BaseModel):
    """The resident panel of a call: masked identity (null before the card is read)."""

    call_id: str
    resident_ref: str | None
    identity: MaskedIdentity | None
    verifications: list[VerificationOut]
    open_cases: list[OpenCaseOut]


class LookupIn(StrictModel):
    """Look a resident up by ID number (through the keyed hash only)."""

    id_number: str = Field(pattern=r"^[0-9A-Za-z]{6,32}$")


class LookupOut(BaseModel):
    """The resident's open cases in your office."""

    open_cases: list[OpenCaseOut]


def _doc_out(m: DocumentMeta) -> DocumentOut:
    return DocumentOut(
        document_id=m.document_id,
        kind=m.kind,
        mime=m.mime,
        width=m.width,
        height=m.height,
        bytes=m.bytes,
        sha256=m.sha256,
        created_at=m.created_at,
        request_id=m.request_id,
        case_id=m.case_id,
    )


def _case_out(c: OpenCase) -> OpenCaseOut:
    return OpenCaseOut(
        id=c.id,
        number=c.number,
        service_id=c.service_id,
        service_name=c.service_name,
        state=c.state,
        due_date=c.due_date,
        overdue=c.overdue,
    )


_CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such live call for this kiosk"},
    409: {"description": "the call has ended"},
}


@router.post(
    "/kiosk/calls/{call_id}/identity",
    response_model=IdentityOut,
    status_code=201,
    summary="The kiosk stores the ID card read during its call (hash + ciphertext)",
    responses=_CALL_ERRORS,
)
def upload_identity(call_id: CallIdPath, body: IdentityIn, request: Request, p: KioskCaller) -> IdentityOut:
    stored = store_identity(ctx_of(request), p, call_id, body.model_dump(mode="json"))
    return IdentityOut(resident_ref=stored.ref, masked=MaskedIdentity(**stored.masked))


@router.post(
    "/kiosk/calls/{call_id}/verifications",
    response_model=VerificationOut,
    status_code=201,
    summary="The kiosk records a verification result of its call",
    responses=_CALL_ERRORS,
)
def upload_verification(
    call_id: CallIdPath, body: VerificationIn, request: Request, p: KioskCaller
) -> VerificationOut:
    v = record_verification(ctx_of(request), p, call_id, body.kind, body.matched, body.score)
    return VerificationOut(kind=v.kind, matched=v.matched, score=v.score, at=v.at)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "document_too_large", f"documents are limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "document_too_large", f"documents are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/kiosk/calls/{call_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    summary="The kiosk uploads a captured still (JPEG, PNG or PDF body); stored encrypted",
    responses={
        **_CALL_ERRORS,
        413: {"description": "over the document size limit"},
        415: {"description": "not JPEG/PNG/PDF, or Content-Type does not match the bytes"},
        422: {"description": "decompression bomb, undecodable image, or bad X-Document-Kind"},
    },
    max_body_size=UPLOAD_CEILING,
)
async def upload_document(
    call_id: CallIdPath,
    request: Request,
    p: KioskCaller,
    x_document_kind: Annotated[str, Header(max_length=16)] = "page",
    x_request_id: Annotated[str | None, Header(max_length=64)] = None,
) -> DocumentOut:
    ctx = ctx_of(request)
    data = await _read_limited(request, ctx.settings.document_max_bytes)
    hw_request = x_request_id if x_request_id and _REQUEST_ID.match(x_request_id) else ""
    meta = await run_in_threadpool(
        store_document,
        ctx,
        p,
        call_id,
        data,
        request.headers.get("content-type"),
        x_document_kind,
        hw_request,
    )
    return _doc_out(meta)


@router.get(
    "/calls/{call_id}/resident",
    response_model=ResidentOut,
    summary="The resident panel of a call: masked identity, verifications, open cases (audited)",
    responses={
        403: {"description": "no need to see it"},
        404: {"description": "no such call in your office"},
    },
)
def get_resident(call_id: CallIdPath, request: Request, p: CaseStaff) -> ResidentOut:
    panel = resident_panel(ctx_of(request), p, call_id)
    return ResidentOut(
        call_id=panel.call_id,
        resident_ref=panel.resident_ref,
        identity=MaskedIdentity(**panel.identity) if panel.identity else None,
        verifications=[
            VerificationOut(kind=v.kind, matched=v.matched, score=v.score, at=v.at)
            for v in panel.verifications
        ],
        open_cases=[_case_out(c) for c in panel.open_cases],
    )


@router.get(
    "/calls/{call_id}/documents",
    response_model=list[DocumentOut],
    summary="Documents captured during a call (metadata)",
    responses={
        403: {"description": "no need to see them"},
        404: {"description": "no such call in your office"},
    },
)
def list_call_documents(call_id: CallIdPath, request: Request, p: CaseStaff) -> list[DocumentOut]:
    return [_doc_out(m) for m in call_documents(ctx_of(request), p, call_id)]


@router.get(
    "/documents/{document_id}",
    summary="A document's bytes (decrypted; audited; never cached)",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}},
        403: {"description": "no need to see it"},
        404: {"description": "no such document in your office"},
    },
)
def get_document(document_id: IdPath, request: Request, p: CaseStaff) -> Response:
    data, meta = read_document(ctx_of(request), p, document_id)
    return Response(
        content=data,
        media_type=meta.mime,
        # Cache-Control: no-store is set on every API response by the middleware.
        headers={"Content-Disposition": f'inline; filename="document-{meta.document_id}"'},
    )


@router.post(
    "/residents/lookup",
    response_model=LookupOut,
    summary="Open cases of a resident by ID number (keyed hash; audited)",
)
def lookup(body: LookupIn, request: Request, p: CaseStaff) -> LookupOut:
    return LookupOut(open_cases=[_case_out(c) for c in lookup_resident(ctx_of(request), p, body.id_number)])
