"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from office.api.common import PrefixRouter, Public
from office.auth import ctx_of
from office.db import DatabaseUnavailable, ping
from office.errors import ApiError

router = PrefixRouter(tags=["health"])


class Health(BaseModel):
    """Process or dependency status."""

    status: str


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz(_: Public) -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database is reachable",
    responses={503: {"description": "database unreachable"}},
)
def readyz(request: Request, _: Public) -> Health:
    try:
        ping(ctx_of(request).engine)
    except DatabaseUnavailable as err:
        raise ApiError(503, "not_ready", "database unreachable") from err
    return Health(status="ready")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request, _: Public) -> Response:
    return Response(generate_latest(ctx_of(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
