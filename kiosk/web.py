"""The resident UI's local server: the page, one WebSocket pushing the journey's state, media, voice.

``doorstep kiosk run`` serves :func:`create_app` on ``KIOSK_UI_HOST:KIOSK_UI_PORT`` (127.0.0.1:8100)
and the launcher (:mod:`kiosk.launcher`) opens it in Chromium's kiosk mode. Routes:

- ``GET /`` the page (``kiosk/ui/index.html``), ``/ui/…`` its scripts, styles and catalogs;
- ``WS /ws`` the page ↔ :class:`~kiosk.journey.Journey`: every new view is pushed
  (``{"type": "view", "view": …}``), the page sends operations (``{"op": "take_number"}``);
- ``GET /api/catalog`` categories and services (no personal data);
- ``GET /voice/{lang}/{key}.wav`` the spoken prompt (:mod:`kiosk.voice`);
- ``GET /media/agent.mjpeg`` the agent's video, ``/media/self.mjpeg`` the resident's own camera,
  ``/media/document.jpg`` the last document still of the call, ``/media/document-live.mjpeg`` the
  live document-camera view while the agent has it on (what the agent sees; :mod:`kiosk.ui_video`,
  :mod:`kiosk.document_live`);
- ``GET /healthz`` whether the UI is up, and what is degraded.

Every response carries ``Cache-Control: no-store`` (nothing a resident saw may stay in the
browser's cache) and a strict Content-Security-Policy (no inline script, no eval, same origin
only); the WebSocket refuses other origins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from kiosk.config import KioskSettings, TokenStore
from kiosk.journey import Journey
from kiosk.office_client import KioskIdentity, OfficeClient
from kiosk.runtime import KioskRuntime
from kiosk.session import DEFAULT_TIMEOUTS, State
from kiosk.ui_video import BOUNDARY, FrameTap
from kiosk.voice import VOICES, VoicePrompts

__all__ = ["UI_DIR", "create_app"]

logger = logging.getLogger(__name__)

UI_DIR = Path(__file__).parent / "ui"
"""The page's static files (shipped as package data)."""

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class _NoStore:
    """Adds ``Cache-Control: no-store`` and the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"cache-control", b"etag")
                ]
                headers += [
                    (b"cache-control", b"no-store"),
                    (b"pragma", b"no-cache"),
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    runtime: KioskRuntime | None,
    settings: KioskSettings,
    *,
    office: OfficeClient | None = None,
    identity: KioskIdentity | None = None,
    journey: Journey | None = None,
    agent_video: FrameTap | None = None,
    self_video: FrameTap | None = None,
    voice: VoicePrompts | None = None,
) -> Starlette:
    """The UI app for ``runtime`` (hooks registered here: calls, hardware requests, consent, health)."""
    own_office = office is None and journey is None
    if journey is None:
        if office is None:
            token = TokenStore(settings.state_dir).load()
            office = OfficeClient(settings.office_url, token)
        if runtime is None:
            raise ValueError("create_app needs a runtime or a journey")
        temp_dir = settings.state_dir / "tmp"
        temp_dir.mkdir(parents=True, exist_ok=True)
        journey = Journey(
            office,
            runtime.devices,
            identity=identity,
            agent_video=agent_video,
            temp_dir=temp_dir,
            retry_interval=settings.ui_retry_interval_s,
            poll_interval=settings.ui_poll_interval_s,
            timeouts={**DEFAULT_TIMEOUTS, **{State(k): v for k, v in settings.ui_timeouts.items()}},
        )
    if runtime is not None:
        _hook(runtime, journey, consent=settings.consent == "ui")
    voices = voice or VoicePrompts(settings.state_dir / "voice")
    j = journey

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await j.start()
        warm = asyncio.create_task(voices.warm(), name="voice-warm")
        try:
            yield
        finally:
            warm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warm
            await j.close()
            if own_office and office is not None:
                await office.aclose()

    async def index(_: Request) -> Response:
        return FileResponse(UI_DIR / "index.html", media_type="text/html; charset=utf-8")

    async def catalog(_: Request) -> Response:
        return JSONResponse(j.catalog)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "state": j.session.state.value, "degraded": j.view()["degraded"]})

    async def voice_wav(request: Request) -> Response:
        lang = request.path_params["lang"]
        key = request.path_params["key"]
        if lang not in VOICES:
            return Response(status_code=404)
        path = await voices.wav(key, lang)
        if path is None:
            return Response(status_code=404)
        return FileResponse(path, media_type="audio/wav")

    def mjpeg(tap: FrameTap | None) -> Response:
        if tap is None:
            return Response(status_code=404)
        return StreamingResponse(tap.mjpeg(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    async def agent_mjpeg(_: Request) -> Response:
        return mjpeg(agent_video)

    async def self_mjpeg(_: Request) -> Response:
        return mjpeg(self_video)

    async def document_live(_: Request) -> Response:
        return mjpeg(j.devices.document.view)

    async def document(_: Request) -> Response:
        data = j.document_jpeg
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/jpeg")

    async def ws(socket: WebSocket) -> None:
        origin = socket.headers.get("origin")
        host = socket.headers.get("host", "")
        if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
            await socket.close(code=1008)
            return
        await socket.accept()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)

        def listener(view: dict[str, Any]) -> None:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # only the newest views matter
            queue.put_nowait(view)

        async def pump() -> None:
            while True:
                view = await queue.get()
                await socket.send_text(json.dumps({"type": "view", "view": view}, ensure_ascii=False))

        j.listeners.add(listener)
        listener(j.view())
        pumping = asyncio.create_task(pump(), name="ui-ws-pump")
        try:
            while True:
                text = await socket.receive_text()
                if len(text) > 4096:
                    continue
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    await j.dispatch(message)
        except WebSocketDisconnect:
            pass
        finally:
            j.listeners.discard(listener)
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumping

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/api/catalog", catalog),
            Route("/voice/{lang}/{key}.wav", voice_wav),
            Route("/media/agent.mjpeg", agent_mjpeg),
            Route("/media/self.mjpeg", self_mjpeg),
            Route("/media/document.jpg", document),
            Route("/media/document-live.mjpeg", document_live),
            WebSocketRoute("/ws", ws),
            Mount("/ui", StaticFiles(directory=UI_DIR), name="ui"),
        ],
        lifespan=lifespan,
    )
    app.state.journey = j
    app.add_middleware(_NoStore)
    return app


def _hook(runtime: KioskRuntime, journey: Journey, *, consent: bool) -> None:
    """Plug the journey into the runtime's seams (calls, hardware requests, consent, health, media)."""
    runtime.on_call = journey.on_call
    runtime.on_hw = journey.on_hw
    if consent:  # KIOSK_CONSENT=ui: the resident answers on screen
        runtime.devices.consent = journey.consent
    report_health = runtime.report_health
    report_call = runtime.report_call

    async def health(report: dict[str, Any]) -> None:
        devices = report.get("devices")
        if isinstance(devices, dict):
            journey.set_device_health(devices)
        if report_health is not None:
            await report_health(report)

    async def call_state(call_id: str, state: str) -> None:
        journey.set_call_phase(state)
        if report_call is not None:
            await report_call(call_id, state)

    if report_health is not None:
        runtime.report_health = health
    runtime.report_call = call_state
