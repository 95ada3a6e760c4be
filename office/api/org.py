"""Offices and stations."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from office import audit
from office.api.common import MAX_ID, AdminOnly, AnyStaff, IdQuery, PrefixRouter, StrictModel
from office.auth import ctx_of
from office.errors import ApiError
from office.models import Office, Station

router = PrefixRouter(prefix="/api", tags=["organisation"])


class OfficeOut(BaseModel):
    """A street office."""

    id: int
    code: str
    name: str
    name_en: str
    timezone: str


class OfficeCreate(StrictModel):
    """A new street office."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError("unknown IANA time zone") from err
        return value


class StationOut(BaseModel):
    """A community service station."""

    id: int
    office_id: int
    code: str
    name: str
    name_en: str


class StationCreate(StrictModel):
    """A new station of an office."""

    office_id: int = Field(ge=1, le=MAX_ID)
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)


def _office_out(o: Office) -> OfficeOut:
    return OfficeOut(id=o.id, code=o.code, name=o.name, name_en=o.name_en, timezone=o.timezone)


def _station_out(st: Station) -> StationOut:
    return StationOut(id=st.id, office_id=st.office_id, code=st.code, name=st.name, name_en=st.name_en)


@router.get("/offices", response_model=list[OfficeOut], summary="List street offices")
def list_offices(request: Request, _: AnyStaff) -> list[OfficeOut]:
    with ctx_of(request).read_db() as s:
        return [_office_out(o) for o in s.scalars(select(Office).order_by(Office.id))]


@router.post(
    "/offices",
    response_model=OfficeOut,
    status_code=201,
    summary="Create a street office",
    responses={409: {"description": "code taken"}},
)
def create_office(body: OfficeCreate, request: Request, p: AdminOnly) -> OfficeOut:
    with ctx_of(request).db() as s, s.begin():
        if s.scalar(select(Office.id).where(Office.code == body.code)) is not None:
            raise ApiError(409, "office_code_taken", "an office with that code exists")
        office = Office(code=body.code, name=body.name, name_en=body.name_en, timezone=body.timezone)
        s.add(office)
        s.flush()
        audit.record(s, p.actor, "office.created", target_type="office", target_id=office.id)
    return _office_out(office)


@router.get("/stations", response_model=list[StationOut], summary="List stations")
def list_stations(request: Request, _: AnyStaff, office_id: IdQuery = None) -> list[StationOut]:
    with ctx_of(request).read_db() as s:
        q = select(Station).order_by(Station.id)
        if office_id is not None:
            q = q.where(Station.office_id == office_id)
        return [_station_out(st) for st in s.scalars(q)]


@router.post(
    "/stations",
    response_model=StationOut,
    status_code=201,
    summary="Create a station",
    responses={404: {"description": "no such office"}, 409: {"description": "code taken"}},
)
def create_station(body: StationCreate, request: Request, p: AdminOnly) -> StationOut:
    with ctx_of(request).db() as s, s.begin():
        if s.get(Office, body.office_id) is None:
            raise ApiError(404, "office_not_found", "no such office")
        dup = s.scalar(
            select(Station.id).where(Station.office_id == body.office_id, Station.code == body.code)
        )
        if dup is not None:
            raise ApiError(409, "station_code_taken", "a station with that code exists in the office")
        st = Station(office_id=body.office_id, code=body.code, name=body.name, name_en=body.name_en)
        s.add(st)
        s.flush()
        audit.record(s, p.actor, "station.created", target_type="station", target_id=st.id)
    return _station_out(st)
