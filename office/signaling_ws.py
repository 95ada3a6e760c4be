"""``/ws/signaling``: the office's signaling endpoint, a thin adapter over :class:`SignalingHub`.

The upgrade is authenticated before it is accepted: a kiosk by ``Authorization: Bearer dk_…``
(:func:`office.auth.resolve_kiosk`), an agent or supervisor by the ``doorstep_session`` cookie
(:func:`office.auth.resolve_session`; a cookie upgrade from a foreign ``Origin`` is refused, so
another site cannot ride a logged-in browser). A bad or revoked credential gets HTTP 401 (403 for
a staff role that takes no calls), or close 4401/4403 where the server cannot send an HTTP
denial; every refusal is audited as ``signaling.refused`` (ids and codes only). Party ids are
``agent-<user id>`` and ``kiosk-<kiosk id>``.

Then the hub runs the connection. The endpoint watches the frames the hub has just handled: a
``call.accept`` / ``decline`` / ``cancel`` / ``end`` that passed the relay check (same
:func:`signaling.relay.route` rule, parties from the ``calls`` table) drives the call record and
the queue (:func:`office.calls.client_event`) and both parties get the new ``call.state``; an
accept is recorded without holding up the frames behind it (see :func:`_frames`). Frames
the hub refused are refused here too: the hub's connection state machine closes the socket before a
frame sent out of order is ever handed over, and a frame that fails the relay check is ignored.

:func:`start_signaling` / :func:`stop_signaling` are called by the app's lifespan: one bus (from
``settings.bus_url``), one presence, one hub per process, stored on the context.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from office import audit
from office.audit import Actor
from office.auth import SESSION_COOKIE, resolve_kiosk, resolve_session
from office.calls import (
    DbCallDirectory,
    IllegalCallTransition,
    agent_party,
    announce,
    client_event,
    kiosk_party,
    parse_party,
    presence_changed,
)
from office.calls.presence import KIOSK_SEEN_INTERVAL_S, touch_kiosk
from office.context import OfficeContext
from office.errors import ApiError, error_body
from office.models import Role as StaffRole
from office.queue.txn import writing
from signaling.bus import open_bus
from signaling.errors import MessageError
from signaling.hub import AuditRecord, SignalingHub
from signaling.messages import (
    MAX_FRAME_BYTES,
    BaseMessage,
    CallAccept,
    CallCancel,
    CallDecline,
    CallEnd,
    Role,
    parse,
)
from signaling.presence import open_presence
from signaling.relay import Deliver, Party, route

__all__ = ["router", "start_signaling", "stop_signaling"]

log = logging.getLogger("office.signaling")
router = APIRouter()

_CALL_STEPS = (CallAccept, CallDecline, CallCancel, CallEnd)
_CALL_ROLES = frozenset({StaffRole.AGENT, StaffRole.SUPERVISOR})


class StarletteTransport:
    """The hub's :class:`~signaling.hub.Transport` over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        await self.websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code``."""
        await self.websocket.close(code, reason)


def _actor(party: Party) -> Actor:
    try:
        number = parse_party(party)
    except ValueError:
        return Actor("anonymous")
    return Actor("kiosk" if party.role is Role.KIOSK else "user", number)


def _audit_refusal(ctx: OfficeContext, actor: Actor, code: str, call_id: str, **details: object) -> None:
    with writing(ctx) as s:
        audit.record(
            s,
            actor,
            "signaling.refused",
            target_type="call" if call_id else "",
            target_id=call_id,
            success=False,
            code=code,
            **details,
        )


async def start_signaling(ctx: OfficeContext) -> bool:
    """Open the bus and presence and build the hub on the running loop; False if already running.

    (An app's lifespan may be entered more than once, e.g. by several test clients: the first owns
    the signaling runtime.)
    """
    if ctx.hub is not None:
        return False
    url = ctx.settings.bus_url
    bus = open_bus(url)
    presence = open_presence(url)

    async def audit_hook(record: AuditRecord) -> None:
        details = {"message_type": record.type_name or "", "connection": record.connection_id}
        await run_in_threadpool(
            _audit_refusal, ctx, _actor(record.party), str(record.code), record.call_id or "", **details
        )

    async def presence_hook(party: Party, online: bool) -> None:
        try:
            notices = await run_in_threadpool(presence_changed, ctx, party, online)
        except (ApiError, SQLAlchemyError) as err:
            log.warning("presence not recorded", extra={"exc_type": type(err).__name__})
            return
        await announce(hub, notices)

    hub = SignalingHub(
        bus,
        presence,
        DbCallDirectory(ctx),
        instance_id=f"office-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        audit=audit_hook,
        disconnect_errors=(WebSocketDisconnect, WebSocketDisconnected),
        on_presence=presence_hook,
    )
    ctx.bus, ctx.hub, ctx.hub_loop = bus, hub, asyncio.get_running_loop()
    return True


async def stop_signaling(ctx: OfficeContext) -> None:
    """Close the hub's bus and presence and clear them from the context."""
    hub = ctx.hub
    ctx.hub = ctx.hub_loop = None
    bus, ctx.bus = ctx.bus, None
    if hub is not None:
        await hub.presence.close()
    if bus is not None:
        await bus.close()


def _same_origin(websocket: WebSocket, public_url: str) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser (the headless agent); browsers always send Origin
    netloc = urlsplit(origin).netloc
    return netloc in (websocket.headers.get("host", ""), urlsplit(public_url).netloc)


def _authenticate(
    ctx: OfficeContext, authorization: str, cookie: str | None, origin_ok: bool
) -> tuple[Party | None, int, str, Actor]:
    """(party, 0, "", actor) when admitted, else (None, HTTP status, refusal code, actor)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith("dk_"):
            return None, 401, "unauthenticated", Actor("anonymous")
        kiosk = resolve_kiosk(ctx, token)
        if kiosk is None:
            return None, 401, "unauthenticated", Actor("anonymous")
        return kiosk_party(kiosk.id), 0, "", Actor("kiosk", kiosk.id)
    user = resolve_session(ctx, cookie) if cookie else None
    if user is None:
        return None, 401, "unauthenticated", Actor("anonymous")
    actor = Actor("user", user.id)
    if not origin_ok:
        return None, 403, "foreign_origin", actor
    if user.role not in _CALL_ROLES:
        return None, 403, "role_takes_no_calls", actor
    return agent_party(user.id), 0, "", actor


async def _deny(websocket: WebSocket, status: int, code: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        message = "credential invalid or revoked" if status == 401 else "this party may not use signaling"
        await websocket.send_denial_response(JSONResponse(error_body(code, message), status_code=status))
    else:
        await websocket.close(4401 if status == 401 else 4403)


@router.websocket("/ws/signaling")
async def signaling_endpoint(websocket: WebSocket) -> None:
    """Authenticate the upgrade, then run the party's signaling connection on the hub."""
    ctx: OfficeContext = websocket.app.state.ctx
    hub = ctx.hub
    if hub is None:
        await websocket.close(1011)
        return
    origin_ok = _same_origin(websocket, ctx.settings.public_url)
    party, status, code, actor = await run_in_threadpool(
        _authenticate,
        ctx,
        websocket.headers.get("authorization", ""),
        websocket.cookies.get(SESSION_COOKIE),
        origin_ok,
    )
    if party is None:
        actor.ip = websocket.client.host if websocket.client else ""
        await run_in_threadpool(_audit_refusal, ctx, actor, code, "", stage="upgrade", status=status)
        await _deny(websocket, status, code)
        return
    await websocket.accept()
    ctx.metrics.websockets.labels("signaling").inc()
    try:
        await hub.serve(party, StarletteTransport(websocket), _frames(ctx, hub, party, websocket))
    finally:
        ctx.metrics.websockets.labels("signaling").dec()


async def _frames(
    ctx: OfficeContext, hub: SignalingHub, party: Party, websocket: WebSocket
) -> AsyncIterator[str | bytes]:
    """The socket's frames (text or binary) for the hub; each is observed after the hub handled it.

    A relayed call step drives the call record before the next frame is read, except
    ``call.accept``: it is recorded in the background, so that the offer the kiosk sends right
    behind it is relayed at once (set-up time; the accept has put both connections ``in_call``).
    The connection's next call step waits for it, so steps are still applied in the order sent.
    """
    last_touch = float("-inf")
    accepting: asyncio.Task[None] | None = None
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        data: str | bytes = text if text is not None else (message.get("bytes") or b"")
        yield data
        if isinstance(data, str) and len(data) <= MAX_FRAME_BYTES and '"call.' in data:
            step = await _relayed_step(hub, party, data)
            if step is not None:
                if accepting is not None:
                    await asyncio.shield(accepting)
                    accepting = None
                if isinstance(step, CallAccept):
                    accepting = _in_background(_apply_step(ctx, hub, party, step))
                else:
                    await _apply_step(ctx, hub, party, step)
        now = time.monotonic()
        if party.role is Role.KIOSK and now - last_touch >= KIOSK_SEEN_INTERVAL_S:
            last_touch = now
            await run_in_threadpool(touch_kiosk, ctx, parse_party(party), ctx.clock.now())


_background: set[asyncio.Task[None]] = set()


def _in_background(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``work`` as a task that outlives the connection if need be (kept referenced until done)."""
    task = asyncio.create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def _relayed_step(hub: SignalingHub, party: Party, data: str) -> BaseMessage | None:
    """The call step in ``data`` if the hub relayed it (a refused one is answered and audited there)."""
    try:
        message = parse(data)
    except MessageError:
        return None  # the hub answered it with an error
    if not isinstance(message, _CALL_STEPS):
        return None
    if not isinstance(route(party, message, await hub.parties(message.call_id)), Deliver):
        return None  # refused (and audited) by the hub
    return message


async def _apply_step(ctx: OfficeContext, hub: SignalingHub, party: Party, message: BaseMessage) -> None:
    """Drive the call record and the queue by one relayed step; tell both parties the new state."""
    assert isinstance(message, _CALL_STEPS)
    try:
        notices = await run_in_threadpool(client_event, ctx, party, message)
    except IllegalCallTransition as err:
        log.info(
            "call step ignored", extra={"call_id": message.call_id, "state": err.state, "event": err.event}
        )
        return
    except (ApiError, SQLAlchemyError) as err:
        log.warning("call step failed", extra={"call_id": message.call_id, "exc_type": type(err).__name__})
        return
    await announce(hub, notices)
