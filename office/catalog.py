"""Service catalog management: create, revise, (de)activate services; frozen revisions.

Every create or change bumps the service's ``version`` and writes a :class:`ServiceRevision`
snapshot (materials included) in the same transaction. Tickets and cases keep the version they were
made under, so a later edit never rewrites their history; :func:`revision` returns the definition a
past ticket saw. Services are never deleted, only deactivated.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from office import audit
from office.audit import Actor
from office.context import OfficeContext
from office.errors import ApiError
from office.models import MaterialForm, Service, ServiceCategory, ServiceMaterial, ServiceRevision

__all__ = [
    "CATEGORIES",
    "MaterialSpec",
    "ServiceSpec",
    "create_in",
    "create_service",
    "ensure_categories",
    "list_services",
    "revision",
    "set_active",
    "snapshot",
    "update_service",
]

#: The seven categories: code, zh-CN name, English name.
CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("party", "党群服务", "Party and community groups"),
    ("government", "政务服务", "Government services"),
    ("life", "生活服务", "Daily-life services"),
    ("legal", "法律服务", "Legal services"),
    ("health", "健康服务", "Health services"),
    ("culture", "文化服务", "Culture services"),
    ("community", "社区管理", "Community administration"),
)


class MaterialSpec(BaseModel):
    """One required material for the one-time notice (一次性告知)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    count: int = Field(default=1, ge=1, le=99)
    form: str = Field(default=MaterialForm.ORIGINAL, pattern="^(original|copy|original_and_copy)$")
    issuer: str = Field(default="", max_length=200)
    notes: str = Field(default="", max_length=1000)
    notes_en: str = Field(default="", max_length=1000)


class ServiceSpec(BaseModel):
    """A whole service definition (create, or replace on update)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9\-]+$")
    category: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    description_en: str = Field(default="", max_length=2000)
    queue_prefix: str = Field(pattern="^[A-Z]$")
    time_limit_days: int = Field(ge=0, le=365)
    expected_minutes: int = Field(ge=1, le=480)
    needs_id_card: bool = True
    needs_fingerprint: bool = False
    needs_appointment: bool = False
    skill: str = Field(default="", max_length=32, pattern=r"^[a-z0-9_]*$")
    legal_basis: str = Field(default="", max_length=2000)
    fees: str = Field(default="免费", max_length=200)
    materials: list[MaterialSpec] = Field(default_factory=list, max_length=50)


def ensure_categories(s: Session) -> dict[str, int]:
    """Create the seven categories when missing; code → id."""
    existing = {c.code: c.id for c in s.scalars(select(ServiceCategory))}
    for order, (code, name, name_en) in enumerate(CATEGORIES):
        if code not in existing:
            cat = ServiceCategory(code=code, name=name, name_en=name_en, sort_order=order)
            s.add(cat)
            s.flush()
            existing[code] = cat.id
    return existing


def snapshot(service: Service, category_code: str) -> dict[str, Any]:
    """The JSON snapshot stored with a revision (everything a ticket or case needs to show)."""
    return {
        "code": service.code,
        "category": category_code,
        "name": service.name,
        "name_en": service.name_en,
        "description": service.description,
        "description_en": service.description_en,
        "queue_prefix": service.queue_prefix,
        "time_limit_days": service.time_limit_days,
        "expected_minutes": service.expected_minutes,
        "needs_id_card": service.needs_id_card,
        "needs_fingerprint": service.needs_fingerprint,
        "needs_appointment": service.needs_appointment,
        "skill": service.skill,
        "legal_basis": service.legal_basis,
        "fees": service.fees,
        "active": service.active,
        "materials": [
            {
                "name": m.name,
                "name_en": m.name_en,
                "count": m.count,
                "form": m.form,
                "issuer": m.issuer,
                "notes": m.notes,
                "notes_en": m.notes_en,
            }
            for m in service.materials
        ],
    }


def _category_id(s: Session, code: str) -> int:
    cid = s.scalar(select(ServiceCategory.id).where(ServiceCategory.code == code))
    if cid is None:
        raise ApiError(422, "unknown_category", f"no category {code!r}")
    return cid


def _apply(service: Service, spec: ServiceSpec, category_id: int) -> None:
    for name in (
        "name",
        "name_en",
        "description",
        "description_en",
        "queue_prefix",
        "time_limit_days",
        "expected_minutes",
        "needs_id_card",
        "needs_fingerprint",
        "needs_appointment",
        "skill",
        "legal_basis",
        "fees",
    ):
        setattr(service, name, getattr(spec, name))
    service.category_id = category_id
    service.materials = [ServiceMaterial(position=i, **m.model_dump()) for i, m in enumerate(spec.materials)]


def _revise(s: Session, service: Service, category_code: str, actor: Actor) -> None:
    s.flush()
    s.add(
        ServiceRevision(
            service_id=service.id,
            version=service.version,
            snapshot=snapshot(service, category_code),
            created_at=service.updated_at,
            created_by=f"{actor.type}:{actor.id}",
        )
    )


def create_in(s: Session, spec: ServiceSpec, actor: Actor, now: Any) -> Service:
    """Create a service inside the caller's transaction (used by the seed too)."""
    service = Service(code=spec.code, version=1, active=True, created_at=now, updated_at=now)
    _apply(service, spec, _category_id(s, spec.category))
    s.add(service)
    _revise(s, service, spec.category, actor)
    return service


def create_service(ctx: OfficeContext, spec: ServiceSpec, actor: Actor) -> Service:
    """Create a service (version 1)."""
    try:
        with ctx.db() as s, s.begin():
            if s.scalar(select(Service.id).where(Service.code == spec.code)) is not None:
                raise ApiError(409, "service_code_taken", f"a service {spec.code} exists")
            service = create_in(s, spec, actor, ctx.clock.now())
            audit.record(
                s, actor, "service.created", target_type="service", target_id=service.id, code=spec.code
            )
    except IntegrityError:
        raise ApiError(409, "service_code_taken", f"a service {spec.code} exists") from None
    return service


def update_service(ctx: OfficeContext, service_id: int, spec: ServiceSpec, actor: Actor) -> Service:
    """Replace a service's definition; its version goes up and the old revision stays."""
    with ctx.db() as s, s.begin():
        service = s.get(Service, service_id)
        if service is None:
            raise ApiError(404, "service_not_found", "no such service")
        if spec.code != service.code:
            raise ApiError(422, "code_immutable", "a service's code cannot change")
        service.materials.clear()
        s.flush()  # delete the old rows before inserting positions again
        _apply(service, spec, _category_id(s, spec.category))
        service.version += 1
        service.updated_at = ctx.clock.now()
        _revise(s, service, spec.category, actor)
        audit.record(
            s, actor, "service.updated", target_type="service", target_id=service.id, version=service.version
        )
    return service


def set_active(ctx: OfficeContext, service_id: int, active: bool, actor: Actor) -> Service:
    """Offer or withdraw a service (never deleted: past tickets and cases point at it)."""
    with ctx.db() as s, s.begin():
        service = s.get(Service, service_id)
        if service is None:
            raise ApiError(404, "service_not_found", "no such service")
        if service.active != active:
            service.active = active
            service.version += 1
            service.updated_at = ctx.clock.now()
            code = s.scalar(select(ServiceCategory.code).where(ServiceCategory.id == service.category_id))
            _revise(s, service, code or "", actor)
            audit.record(
                s,
                actor,
                "service.activated" if active else "service.deactivated",
                target_type="service",
                target_id=service.id,
            )
    return service


def list_services(
    s: Session, *, category: str | None = None, include_inactive: bool = False
) -> list[Service]:
    """Services by category order then code."""
    q = (
        select(Service)
        .join(ServiceCategory)
        .options(selectinload(Service.materials))
        .order_by(ServiceCategory.sort_order, Service.code)
    )
    if category:
        q = q.where(ServiceCategory.code == category)
    if not include_inactive:
        q = q.where(Service.active.is_(True))
    return list(s.scalars(q))


def revision(s: Session, service_id: int, version: int) -> ServiceRevision:
    """The frozen definition of ``service_id`` at ``version``."""
    rev = s.scalar(
        select(ServiceRevision).where(
            ServiceRevision.service_id == service_id, ServiceRevision.version == version
        )
    )
    if rev is None:
        raise ApiError(404, "revision_not_found", "no such service revision")
    return rev
