"""Shared API pieces: strict request models and typed access aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict
from starlette.routing import Match
from starlette.types import Scope

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
    "PrefixRouter",
    "Public",
    "StrictModel",
    "TechOrAdmin",
]


#: Largest identifier the databases store (signed 64-bit); larger numbers are refused with 422.
MAX_ID = 2**63 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class PrefixRouter(APIRouter):
    """An :class:`APIRouter` that skips its routes at once for paths none of them can match.

    The app tries its routers in order and FastAPI matches every route of every router before the
    right one (a few µs each, and the chosen router twice): ``/api/queue/call-next`` cost ~190 µs of
    matching. A route's path regex matches only paths starting with the route's static head (its
    path up to the first ``{``), so a path starting with none of this router's heads is answered
    "no match" without trying them; every other path is matched exactly as before.
    """

    _heads: tuple[str, ...] | None = None
    _heads_of = -1  # the number of routes the heads were computed for

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._heads_of != len(self.routes):
            paths = [getattr(route, "path", None) for route in self.routes]
            self._heads = None if None in paths else tuple({str(p).split("{", 1)[0] for p in paths})
            self._heads_of = len(self.routes)
        heads = self._heads
        # Behind a root path: no shortcut (the full match below strips it).
        if heads is not None and not scope.get("root_path") and not scope["path"].startswith(heads):
            return Match.NONE, {}
        return super().matches(scope)


class StrictModel(BaseModel):
    """Request bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Public = Annotated[Principal, Depends(Allow(public=True))]
AdminOnly = Annotated[Principal, Depends(Allow(Role.ADMIN))]
TechOrAdmin = Annotated[Principal, Depends(Allow(Role.TECHNICIAN, Role.ADMIN))]
AnyStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.TECHNICIAN, Role.ADMIN))]
OfficeStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
KioskOnly = Annotated[Principal, Depends(Allow(kiosk=True))]
