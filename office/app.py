"""The office application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui
from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

import agent_console
from office import live, signaling_ws
from office.api import ROUTERS
from office.api.common import Public
from office.auth import api_routes, route_access
from office.background import Scheduler, default_jobs
from office.booking.notify import make_notifier
from office.clock import Clock
from office.context import OfficeContext
from office.errors import COMMON_ERROR_RESPONSES, install_error_handlers
from office.http import RequestContextMiddleware
from office.live import EventBridge
from office.settings import Settings

__all__ = ["UndeclaredAccess", "create_app"]

log = logging.getLogger("office.app")
_STATIC = Path(__file__).parent / "static"


class UndeclaredAccess(RuntimeError):
    """A route was registered without an access declaration (the default is deny)."""


def create_app(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the office app from validated settings; ``clock`` and ``engine`` are test seams."""
    ctx = OfficeContext.build(settings, clock=clock, engine=engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        owns_signaling = await signaling_ws.start_signaling(ctx)
        bridge = EventBridge.for_settings(ctx) if owns_signaling else None
        if bridge is not None:
            await bridge.start()
        scheduler = Scheduler(ctx, default_jobs(notifier) if settings.background_jobs else [])
        scheduler.start()
        log.info("office started", extra={"environment": settings.environment.value})
        try:
            yield
        finally:
            await scheduler.stop()
            if bridge is not None:
                await bridge.stop()
            if owns_signaling:
                await signaling_ws.stop_signaling(ctx)
            if engine is None:
                ctx.engine.dispose()
            log.info("office stopped")

    app = FastAPI(
        title="doorstep office",
        version="0.1.0",
        description="Street-office server for remote video-assisted service kiosks (远程视频帮办).",
        lifespan=lifespan,
        docs_url=None,  # served below from packaged assets: no CDN at run time
        redoc_url=None,
    )
    app.state.ctx = ctx
    token = settings.sms_gateway_token
    notifier = make_notifier(settings.sms_gateway_url, token=token.get_secret_value() if token else None)
    app.state.booking_notifier = notifier
    install_error_handlers(app)
    for router in ROUTERS:
        # Bodies over the limit get 413 whether declared or streamed; an upload route may declare a
        # larger ``max_body_size`` of its own, which wins.
        app.include_router(router, responses=COMMON_ERROR_RESPONSES, max_body_size=settings.max_body_bytes)

    app.include_router(live.router)
    app.include_router(signaling_ws.router)

    @app.get("/", include_in_schema=False)
    def root(_: Public) -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.get("/docs", include_in_schema=False)
    def docs(_: Public) -> FileResponse:
        return FileResponse(_STATIC / "docs.html")

    app.mount(
        "/docs-assets", StaticFiles(directory=Path(swagger_ui.__file__).parent / "static"), name="docs-assets"
    )
    app.mount("/docs-static", StaticFiles(directory=_STATIC), name="docs-static")
    app.mount("/console", StaticFiles(directory=agent_console.STATIC_DIR, html=True), name="console")
    _assert_access_declared(app)
    app.add_middleware(RequestContextMiddleware, metrics=ctx.metrics)
    return app


def _assert_access_declared(app: FastAPI) -> None:
    missing = [r.path for r in api_routes(app) if route_access(r.route) is None]
    if missing:
        raise UndeclaredAccess(f"routes without an access declaration: {missing}")
