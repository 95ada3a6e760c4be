"""Live events to staff consoles over WebSocket, and the bridge that carries them between instances.

``/ws/events``: a staff member's browser (login-session cookie) receives its office's live events
(queue issued / called / ended / counts …) as JSON text frames (the envelope, with its publish time
``ts``, is described in :mod:`office.events`); admins receive every office's.

Each connection has its own bounded queue and its own sender task, so one slow console never delays
the others. A console that cannot keep up — its queue overflowed, or one frame could not be handed
to its socket within :data:`SEND_TIMEOUT` seconds (checked by a per-connection watchdog) — is closed with code 4429 (:data:`CLOSE_TOO_SLOW`,
reason ``too slow``); the console reconnects and reloads what it missed, as after any other drop.
With ``OFFICE_BUS_URL=redis://…`` every event is published on the shared bus and delivered by each
instance to its own subscribers, so a console on instance B sees a number issued on instance A.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from office.auth import SESSION_COOKIE, user_of
from office.context import OfficeContext
from office.events import Event, Subscription
from office.models import Role
from signaling.bus import Bus

__all__ = ["CLOSE_TOO_SLOW", "SEND_TIMEOUT", "EventBridge", "router"]

log = logging.getLogger("office.live")
router = APIRouter()
_CHANNEL = "office-events"

CLOSE_TOO_SLOW = 4429
"""Close code for a console that fell behind (its queue overflowed or a send stalled)."""
SEND_TIMEOUT = 10.0
"""Seconds one frame may wait for the console's socket before the console counts as too slow."""


class EventBridge:
    """Publishes the hub's events on a bus and delivers the bus's events to the local hub."""

    def __init__(self, ctx: OfficeContext, bus: Bus) -> None:
        self._ctx = ctx
        self._bus = bus
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_settings(cls, ctx: OfficeContext) -> EventBridge | None:
        """A bridge over the context's shared bus (the signaling bus); ``None`` for the in-process
        default. The bus belongs to the app's lifespan: the bridge does not close it."""
        if ctx.settings.bus_url.startswith("memory://") or ctx.bus is None:
            return None
        return cls(ctx, ctx.bus)

    async def start(self) -> None:
        """Subscribe, then route the hub's publications through the bus."""
        subscription = await self._bus.subscribe(_CHANNEL)
        self._task = asyncio.create_task(self._pump(subscription), name="event-bridge")

        async def send(event: Event) -> None:
            await self._bus.publish(_CHANNEL, event.to_json())

        self._ctx.events.attach_bus(send, asyncio.get_running_loop())

    async def _pump(self, subscription: object) -> None:
        async for raw in subscription:  # type: ignore[attr-defined]
            try:
                data = json.loads(raw)
                event = Event(
                    int(data["office_id"]), str(data["topic"]), dict(data["payload"]), int(data["seq"])
                )
            except (ValueError, KeyError, TypeError):
                log.warning("malformed event on the bus dropped")
                continue
            self._ctx.events.deliver_local(event)

    async def stop(self) -> None:
        """Back to in-process delivery (the bus stays open for its owner to close)."""
        self._ctx.events.detach_bus()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@router.websocket("/ws/events")
async def events(ws: WebSocket) -> None:
    """Stream the caller's office events; close 4401 without a valid staff session, 4429 when the
    console falls behind."""
    ctx: OfficeContext = ws.app.state.ctx
    cookie = ws.cookies.get(SESSION_COOKIE)
    user = await user_of(ctx, cookie) if cookie else None
    if user is None:
        await ws.close(code=4401)
        return
    await ws.accept()
    ctx.metrics.websockets.labels("console").inc()
    subscription = ctx.events.subscribe(None if user.role is Role.ADMIN else user.office_id)
    receiver = asyncio.create_task(_drain(ws))
    sending = _Sending()
    sender = asyncio.create_task(_send(ws, subscription, sending))
    watchdog = asyncio.create_task(sending.stalled())
    overflow = asyncio.create_task(subscription.overflowed.wait())
    tasks = (receiver, sender, watchdog, overflow)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        too_slow = overflow in done or watchdog in done
    finally:
        subscription.close()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await asyncio.gather(*tasks, return_exceptions=True)
        ctx.metrics.websockets.labels("console").dec()
    if too_slow:
        log.warning("console %s too slow for live events: closed (dropped %d)", user.id, subscription.dropped)
        # The close frame waits for the same stalled socket: bounded, then the server drops it.
        with contextlib.suppress(asyncio.TimeoutError, WebSocketDisconnect, RuntimeError):
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.close(code=CLOSE_TOO_SLOW, reason="too slow")


class _Sending:
    """When the frame being sent started waiting for the socket (None between frames).

    One watchdog per connection checks it a few times per :data:`SEND_TIMEOUT` instead of arming a
    timer for every frame (the profile of the 200-console fan-out showed per-send timers at ~3 %).
    """

    def __init__(self) -> None:
        self.since: float | None = None

    async def stalled(self) -> None:
        """Return once a frame has waited more than :data:`SEND_TIMEOUT`."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SEND_TIMEOUT / 4)
            since = self.since
            if since is not None and loop.time() - since > SEND_TIMEOUT:
                return


async def _send(ws: WebSocket, subscription: Subscription, sending: _Sending) -> None:
    """Forward the subscription's events as text frames (each serialized once, by the hub)."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            event = await subscription.get()
            sending.since = loop.time()
            await ws.send_text(event.to_json())
            sending.since = None


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) client frames until the socket closes."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()
