"""Ratings (好差评) over HTTP: the kiosk's rating content and submission; supervisors' list and KPIs.

The evaluator's identity never appears here (see ``/api/followups/{id}/evaluator``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from office.api.common import MAX_ID, IdQuery, KioskOnly, PrefixRouter, StrictModel
from office.auth import Allow, AuthUser, Principal, ctx_of
from office.booking.schedules import load_calendar
from office.errors import ApiError
from office.models import Rating, Role
from office.ratings import CONTENT_VERSION, LEVELS, REASONS, RatingInput, create_rating, kpis
from office.ratings.service import period_bounds

__all__ = ["router"]

router = PrefixRouter(prefix="/api", tags=["ratings"])

RatingReaders = Annotated[Principal, Depends(Allow(Role.SUPERVISOR, Role.ADMIN))]
ContentReaders = Annotated[
    Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.TECHNICIAN, Role.ADMIN, kiosk=True))
]
_NO_OFFICE: dict[int | str, dict[str, Any]] = {404: {"description": "no such office (or not yours)"}}
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class ReasonOut(BaseModel):
    """One reason a resident may give for a 差评."""

    code: str
    zh: str
    en: str


class LevelOut(BaseModel):
    """One rating level (5 best)."""

    level: int
    zh: str
    en: str


class ContentOut(BaseModel):
    """The rating content the kiosk shows, with its version."""

    content_version: str
    levels: list[LevelOut]
    reasons: list[ReasonOut]


class RatingIn(StrictModel):
    """A resident's rating of one service instance (ticket)."""

    ticket_id: int = Field(ge=1, le=MAX_ID)
    call_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    )
    level: int = Field(ge=1, le=5)
    reasons: list[Code] = Field(default_factory=list, max_length=10)
    comment: str = Field(default="", max_length=200)
    content_version: str = Field(min_length=1, max_length=32)


class RatingCreated(BaseModel):
    """The stored rating; ``follow_up`` when a 差评 opened a follow-up."""

    rating_id: int
    follow_up: bool


class RatingOut(BaseModel):
    """A rating as supervisors see it (no evaluator identity)."""

    id: int
    office_id: int
    station_id: int | None
    kiosk_id: int | None
    ticket_id: int
    call_id: str | None
    case_id: int | None
    service_id: int
    agent_id: int | None
    level: int
    reasons: list[str]
    comment: str
    content_version: str
    is_default: bool
    created_at: datetime


class KpisOut(BaseModel):
    """The §2.4 KPIs over office-local days ``first``..``last`` (rates 0..1, null without data)."""

    office_id: int
    first: date
    last: date
    served: int
    ratings: int
    active_ratings: int
    default_ratings: int
    good: int
    bad: int
    followups: int
    followed_up: int
    rectified: int
    closed: int
    overdue_open: int
    follow_up_rate: float | None = Field(description="回访率: contacted 差评 / 差评")
    rectification_rate: float | None = Field(description="整改率: 差评 handled to feedback / 差评")
    active_rating_rate: float | None = Field(description="主动评价率: real ratings / served tickets")
    good_rate: float | None = Field(description="好评率: levels 4-5 / all ratings")


def _office_scope(user: AuthUser, office_id: int | None) -> int:
    if user.role is Role.ADMIN:
        if office_id is None:
            if user.office_id is None:
                raise ApiError(422, "office_required", "administrators name the office (office_id)")
            return user.office_id
        return office_id
    if user.office_id is None or (office_id is not None and office_id != user.office_id):
        raise ApiError(404, "office_not_found", "no such office")
    return user.office_id


@router.get("/kiosk/rating-reasons", response_model=list[ReasonOut], summary="Reasons offered for a 差评")
def rating_reasons(_: ContentReaders) -> list[ReasonOut]:
    return [ReasonOut(code=r.code, zh=r.zh, en=r.en) for r in REASONS]


@router.get(
    "/kiosk/rating-content", response_model=ContentOut, summary="Rating levels and reasons, versioned"
)
def rating_content(_: ContentReaders) -> ContentOut:
    return ContentOut(
        content_version=CONTENT_VERSION,
        levels=[LevelOut(level=n, zh=zh, en=en) for n, (zh, en) in LEVELS.items()],
        reasons=[ReasonOut(code=r.code, zh=r.zh, en=r.en) for r in REASONS],
    )


@router.post(
    "/kiosk/ratings",
    status_code=201,
    response_model=RatingCreated,
    summary="Record a resident's rating (one per ticket)",
    responses={
        404: {"description": "no such ticket at this station"},
        409: {"description": "already rated / not served"},
    },
)
def post_rating(body: RatingIn, request: Request, p: KioskOnly) -> RatingCreated:
    k = p.require_kiosk()
    rating, followup = create_rating(
        ctx_of(request),
        k.id,
        k.office_id,
        k.station_id,
        RatingInput(
            ticket_id=body.ticket_id,
            level=body.level,
            reasons=tuple(dict.fromkeys(body.reasons)),
            comment=body.comment,
            content_version=body.content_version,
            call_id=body.call_id,
        ),
    )
    return RatingCreated(rating_id=rating.id, follow_up=followup is not None)


@router.get(
    "/ratings",
    response_model=list[RatingOut],
    summary="Ratings of the office, newest first",
    responses=_NO_OFFICE,
)
def list_ratings(
    request: Request,
    p: RatingReaders,
    office_id: IdQuery = None,
    level_max: Annotated[int | None, Query(ge=1, le=5)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RatingOut]:
    office = _office_scope(p.require_user(), office_id)
    q = select(Rating).where(Rating.office_id == office)
    if level_max is not None:
        q = q.where(Rating.level <= level_max)
    with ctx_of(request).read_db() as s:
        rows = list(s.scalars(q.order_by(Rating.created_at.desc(), Rating.id.desc()).limit(limit)))
    return [RatingOut.model_validate(_row(r)) for r in rows]


def _row(r: Rating) -> dict[str, Any]:
    return {c.key: getattr(r, c.key) for c in Rating.__table__.columns}


@router.get(
    "/ratings/kpis", response_model=KpisOut, summary="好差评 KPIs over a period", responses=_NO_OFFICE
)
def rating_kpis(
    request: Request,
    p: RatingReaders,
    first: Annotated[date | None, Query(description="first office-local day (default: today)")] = None,
    last: Annotated[
        date | None, Query(description="last office-local day, inclusive (default: first)")
    ] = None,
    office_id: IdQuery = None,
    days: Annotated[
        int | None,
        Query(
            ge=1, le=367, description="without first: the last N office-local days, ending today (or last)"
        ),
    ] = None,
) -> KpisOut:
    ctx = ctx_of(request)
    office = _office_scope(p.require_user(), office_id)
    with ctx.read_db() as s:
        cal = load_calendar(s, office)
    today = cal.local_date(ctx.clock.now())
    if first is None and days is not None:
        day2 = last or today
        day1 = day2 - timedelta(days=days - 1)
    else:
        day1 = first or today
        day2 = last or day1
    if day2 < day1 or (day2 - day1).days > 366:
        raise ApiError(422, "invalid_period", "last must be on or after first, within a year")
    start, end = period_bounds(cal, day1, day2)
    k = kpis(ctx, office, start, end)
    return KpisOut(office_id=office, first=day1, last=day2, **asdict(k))
