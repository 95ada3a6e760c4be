"""The service catalog: public reads (kiosks show the one-time notice), admin changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from office import catalog
from office.api.common import AdminOnly, PrefixRouter, Public
from office.auth import ctx_of
from office.catalog import MaterialSpec, ServiceSpec
from office.errors import ApiError
from office.models import Service, ServiceCategory

router = PrefixRouter(prefix="/api/catalog", tags=["catalog"])

#: Identifiers are INTEGER columns: larger values are refused with 422 before reaching the database.
MAX_DB_ID = 2**31 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


class CategoryOut(BaseModel):
    """A service category."""

    id: int
    code: str
    name: str
    name_en: str


class ServiceOut(ServiceSpec):
    """A service as currently defined, with its version."""

    id: int
    version: int
    active: bool
    updated_at: datetime


class RevisionOut(BaseModel):
    """A frozen past definition of a service."""

    service_id: int
    version: int
    created_at: datetime
    definition: dict[str, Any]


_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such service"}}


def _out(service: Service, category_code: str) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        version=service.version,
        active=service.active,
        updated_at=service.updated_at,
        code=service.code,
        category=category_code,
        name=service.name,
        name_en=service.name_en,
        description=service.description,
        description_en=service.description_en,
        queue_prefix=service.queue_prefix,
        time_limit_days=service.time_limit_days,
        expected_minutes=service.expected_minutes,
        needs_id_card=service.needs_id_card,
        needs_fingerprint=service.needs_fingerprint,
        needs_appointment=service.needs_appointment,
        skill=service.skill,
        legal_basis=service.legal_basis,
        fees=service.fees,
        materials=[
            MaterialSpec(
                name=m.name,
                name_en=m.name_en,
                count=m.count,
                form=m.form,
                issuer=m.issuer,
                notes=m.notes,
                notes_en=m.notes_en,
            )
            for m in service.materials
        ],
    )


def _codes(request: Request) -> dict[int, str]:
    with ctx_of(request).read_db() as s:
        return {r[0]: r[1] for r in s.execute(select(ServiceCategory.id, ServiceCategory.code)).all()}


@router.get("/categories", response_model=list[CategoryOut], summary="The seven service categories")
def list_categories(request: Request, _: Public) -> list[CategoryOut]:
    with ctx_of(request).read_db() as s:
        rows = s.scalars(select(ServiceCategory).order_by(ServiceCategory.sort_order))
        return [CategoryOut(id=c.id, code=c.code, name=c.name, name_en=c.name_en) for c in rows]


@router.get("/services", response_model=list[ServiceOut], summary="Services on offer (with materials)")
def list_services(
    request: Request,
    _: Public,
    category: str | None = Query(default=None, max_length=32),
    include_inactive: bool = False,
) -> list[ServiceOut]:
    codes = _codes(request)
    with ctx_of(request).read_db() as s:
        rows = catalog.list_services(s, category=category, include_inactive=include_inactive)
        return [_out(sv, codes.get(sv.category_id, "")) for sv in rows]


@router.get("/services/{service_id}", response_model=ServiceOut, summary="One service", responses=_NOT_FOUND)
def get_service(service_id: DbId, request: Request, _: Public) -> ServiceOut:
    codes = _codes(request)
    with ctx_of(request).read_db() as s:
        sv = s.get(Service, service_id, options=[selectinload(Service.materials)])
        if sv is None:
            raise ApiError(404, "service_not_found", "no such service")
        return _out(sv, codes.get(sv.category_id, ""))


class MaterialOut(MaterialSpec):
    """A required material with its id (what a case ticks: ``material_id``)."""

    id: int
    position: int


@router.get(
    "/services/{service_id}/materials",
    response_model=list[MaterialOut],
    summary="A service's required materials with their ids, in order (for case forms)",
    responses=_NOT_FOUND,
)
def list_materials(service_id: DbId, request: Request, _: Public) -> list[MaterialOut]:
    with ctx_of(request).read_db() as s:
        sv = s.get(Service, service_id, options=[selectinload(Service.materials)])
        if sv is None:
            raise ApiError(404, "service_not_found", "no such service")
        return [
            MaterialOut(
                id=m.id,
                position=m.position,
                name=m.name,
                name_en=m.name_en,
                count=m.count,
                form=m.form,
                issuer=m.issuer,
                notes=m.notes,
                notes_en=m.notes_en,
            )
            for m in sorted(sv.materials, key=lambda m: m.position)
        ]


@router.get(
    "/services/{service_id}/revisions/{version}",
    response_model=RevisionOut,
    summary="A service as it was at one version (what a past ticket or case saw)",
    responses={404: {"description": "no such revision"}},
)
def get_revision(service_id: DbId, version: DbId, request: Request, _: Public) -> RevisionOut:
    with ctx_of(request).read_db() as s:
        rev = catalog.revision(s, service_id, version)
        return RevisionOut(
            service_id=rev.service_id, version=rev.version, created_at=rev.created_at, definition=rev.snapshot
        )


@router.post(
    "/services",
    response_model=ServiceOut,
    status_code=201,
    summary="Create a service",
    responses={409: {"description": "code taken"}, 422: {"description": "invalid definition"}},
)
def create_service(body: ServiceSpec, request: Request, p: AdminOnly) -> ServiceOut:
    sv = catalog.create_service(ctx_of(request), body, p.actor)
    return _out(sv, body.category)


@router.put(
    "/services/{service_id}",
    response_model=ServiceOut,
    summary="Replace a service's definition (a new version; past tickets keep theirs)",
    responses={**_NOT_FOUND, 422: {"description": "invalid definition"}},
)
def update_service(service_id: DbId, body: ServiceSpec, request: Request, p: AdminOnly) -> ServiceOut:
    sv = catalog.update_service(ctx_of(request), service_id, body, p.actor)
    return _out(sv, body.category)


@router.post(
    "/services/{service_id}/deactivate",
    response_model=ServiceOut,
    summary="Stop offering a service",
    responses=_NOT_FOUND,
)
def deactivate(service_id: DbId, request: Request, p: AdminOnly) -> ServiceOut:
    sv = catalog.set_active(ctx_of(request), service_id, False, p.actor)
    return _out(sv, _codes(request).get(sv.category_id, ""))


@router.post(
    "/services/{service_id}/activate",
    response_model=ServiceOut,
    summary="Offer a service again",
    responses=_NOT_FOUND,
)
def activate(service_id: DbId, request: Request, p: AdminOnly) -> ServiceOut:
    sv = catalog.set_active(ctx_of(request), service_id, True, p.actor)
    return _out(sv, _codes(request).get(sv.category_id, ""))
