"""Shared API pieces: strict request models and typed access aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from office.auth import Allow, Principal
from office.models import Role

__all__ = [
    "MAX_ID",
    "AdminOnly",
    "AnyStaff",
    "IdPath",
    "IdQuery",
    "KioskOnly",
    "OfficeStaff",
    "Public",
    "StrictModel",
    "TechOrAdmin",
]


#: Largest identifier the databases store (signed 64-bit); larger numbers are refused with 422.
MAX_ID = 2**63 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class StrictModel(BaseModel):
    """Request bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Public = Annotated[Principal, Depends(Allow(public=True))]
AdminOnly = Annotated[Principal, Depends(Allow(Role.ADMIN))]
TechOrAdmin = Annotated[Principal, Depends(Allow(Role.TECHNICIAN, Role.ADMIN))]
AnyStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.TECHNICIAN, Role.ADMIN))]
OfficeStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
KioskOnly = Annotated[Principal, Depends(Allow(kiosk=True))]
