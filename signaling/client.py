"""The signaling client: a thin asyncio adapter over :class:`~signaling.connection.Connection`.

Used by the kiosk and by the headless agent::

    client = SignalingClient(url, Role.KIOSK, headers={"Authorization": f"Bearer {token}"})
    async with client:
        await client.wait_connected()
        async for message in client.messages():
            ...
            await client.send(CallAccept(call_id=message.call_id))

What it does for the caller:

- connects with the caller's headers (and an HTTP proxy only when ``proxy`` is given; the
  environment's proxy variables are ignored) (kiosk: ``Authorization: Bearer <device token>``; agent:
  ``Cookie: <session cookie>``), sends ``hello`` and waits for ``welcome``;
- pings every ``heartbeat_interval`` (the office's value from ``welcome`` wins) and treats a
  silent office as dead after ``dead_after``;
- on a lost connection reconnects with capped, jittered exponential backoff, sends ``resume``
  for the active call with the last ``seq`` seen, then sends what was queued meanwhile
  (bounded: :class:`~signaling.errors.OutboxFull` past ``max_outbox``);
- stops for good when the office rejects it (HTTP 401/403 at the handshake, close codes 4401,
  4403, 4409): :meth:`messages` then raises :class:`~signaling.errors.ConnectionRejected`.

The media path does not depend on this socket: a dropped signaling connection is invisible to
the peer connection, which keeps flowing while the client reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from signaling.backoff import Backoff
from signaling.connection import FATAL_CLOSE_CODES, Closing, Connection, Received, Refused, Side
from signaling.errors import ClientClosed, ConnectionRejected, LocalProtocolError, OutboxFull
from signaling.messages import (
    MAX_FRAME_BYTES,
    BaseMessage,
    CallMessage,
    CallState,
    CallStateName,
    Hello,
    Resume,
    Role,
    Welcome,
)

__all__ = ["SignalingClient"]

logger = logging.getLogger(__name__)

Connector = Callable[..., Awaitable[ClientConnection]]
_CONNECTION_LEVEL = frozenset({"hello", "ping", "pong", "resume"})
_END = object()


class _SessionLost(Exception):
    def __init__(self, close_code: int | None) -> None:
        super().__init__(f"session lost (close code {close_code})")
        self.close_code = close_code


class SignalingClient:
    """A self-reconnecting signaling connection for one agent or kiosk."""

    def __init__(
        self,
        url: str,
        role: Role,
        *,
        headers: Mapping[str, str] | None = None,
        client_name: str = "doorstep-signaling",
        heartbeat_interval: float = 1.5,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        open_timeout: float = 5.0,
        max_outbox: int = 256,
        max_inbox: int = 1024,
        max_frame: int = MAX_FRAME_BYTES,
        proxy: str | None = None,
    ) -> None:
        if role is Role.SERVER:
            raise ValueError("a client is an agent or a kiosk")
        self.url = url
        self.role = role
        self.headers = dict(headers or {})
        self.client_name = client_name
        self.heartbeat_interval = heartbeat_interval
        self.backoff = backoff or Backoff()
        self.max_outbox = max_outbox
        self.max_frame = max_frame
        self.open_timeout = open_timeout
        self.proxy = proxy
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self._inbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_inbox)
        self._outbox: list[BaseMessage] = []
        self._send_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._core: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._failure: ConnectionRejected | None = None
        self.welcome: Welcome | None = None
        self.active_call: str | None = None
        self.last_seq = 0
        self.connects = 0
        #: Called with the connection count after every (re)connection: a reconnect is the earliest
        #: sign that a network outage is over.
        self.on_connected: Callable[[int], None] | None = None

    # -- public API --------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (idempotent)."""
        if self._closed:
            raise ClientClosed("client is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="signaling-client")

    @property
    def connected(self) -> bool:
        """Whether a welcomed connection is up right now."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until welcomed (again); raises ``ConnectionRejected`` if the office refuses us."""
        while not self._connected.is_set():
            if self._failure is not None:
                raise self._failure
            if self._closed or (self._task is not None and self._task.done()):
                raise ClientClosed("client is closed")
            waiter = asyncio.ensure_future(self._connected.wait())
            assert self._task is not None, "call start() first"
            done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    def set_active_call(self, call_id: str | None, last_seq: int = 0) -> None:
        """Set the call to resume after a reconnect (normally tracked from ``call.state``)."""
        self.active_call = call_id
        self.last_seq = last_seq

    async def send(self, message: BaseMessage) -> None:
        """Send now if connected, else queue until the next connection is resumed.

        Raises ``LocalProtocolError`` if the connection state forbids the message and
        ``OutboxFull`` if too many messages are already queued.
        """
        if self._closed:
            raise ClientClosed("client is closed")
        if message.type in _CONNECTION_LEVEL:
            raise LocalProtocolError(message.type, "client", "sent by the client itself")
        async with self._send_lock:
            ws, core = self._ws, self._core
            if ws is not None and core is not None and self._connected.is_set():
                text = core.send(message)
                try:
                    await ws.send(text)
                    return
                except ConnectionClosed:
                    pass
            self._enqueue(message)

    async def recv(self) -> BaseMessage:
        """The next message from the office; raises when the client is closed or rejected."""
        item = await self._inbox.get()
        if item is _END:
            self._inbox.put_nowait(_END)
            if self._failure is not None:
                raise self._failure
            raise ClientClosed("client is closed")
        assert isinstance(item, BaseMessage)
        return item

    async def messages(self) -> AsyncIterator[BaseMessage]:
        """Messages from the office until :meth:`close`; raises ``ConnectionRejected`` if refused."""
        while True:
            try:
                yield await self.recv()
            except ClientClosed:
                return

    async def close(self) -> None:
        """Close the connection with 1000 and stop reconnecting. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._connected.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._finish()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- internals ---------------------------------------------------------------------------

    def _enqueue(self, message: BaseMessage) -> None:
        if len(self._outbox) >= self.max_outbox:
            raise OutboxFull(self.max_outbox)
        self._outbox.append(message)

    def _finish(self) -> None:
        while True:
            try:
                self._inbox.put_nowait(_END)
                return
            except asyncio.QueueFull:
                self._inbox.get_nowait()

    async def _run(self) -> None:
        delays = self.backoff.delays(self._rng)
        try:
            while not self._closed:
                try:
                    ws = await connect(
                        self.url,
                        additional_headers=self.headers,
                        open_timeout=self.open_timeout,
                        ping_interval=None,
                        max_size=self.max_frame * 2,
                        close_timeout=1.0,
                        proxy=self.proxy,
                    )
                except InvalidStatus as err:
                    status = err.response.status_code
                    if status in (401, 403):
                        self._failure = ConnectionRejected(None, status)
                        return
                    logger.info("signaling handshake refused with HTTP %s; retrying", status)
                except (OSError, TimeoutError, InvalidHandshake) as err:
                    logger.info("signaling connect failed (%s); retrying", type(err).__name__)
                else:
                    try:
                        await self._session(ws)
                    except _SessionLost as lost:
                        if lost.close_code in FATAL_CLOSE_CODES:
                            self._failure = ConnectionRejected(lost.close_code)
                            return
                        delays = self.backoff.delays(self._rng) if self._connected.is_set() else delays
                    finally:
                        self._connected.clear()
                        self._ws = self._core = None
                        await ws.close()
                await self._sleep(next(delays))
        finally:
            if self._failure is not None:
                self._finish()

    async def _session(self, ws: ClientConnection) -> None:
        now = self._clock()
        core = Connection(Side.CLIENT, self.role, now, heartbeat_interval=self.heartbeat_interval)
        try:
            await ws.send(core.send(Hello(client=self.client_name[:200])))
            welcome = await self._await_welcome(ws, core)
            self.welcome = welcome
            interval = welcome.heartbeat_interval
            core.heartbeat.interval, core.heartbeat.dead_after = interval, interval * 3
            async with self._send_lock:
                if self.active_call is not None:
                    await ws.send(core.send(Resume(call_id=self.active_call, last_seq=self.last_seq)))
                await self._flush(ws, core)
                self._ws, self._core = ws, core
                self.connects += 1
                self._connected.set()
            if self.on_connected is not None:
                self.on_connected(self.connects)
            await self._pump(ws, core)
        except ConnectionClosed as err:
            raise _SessionLost(err.rcvd.code if err.rcvd is not None else None) from None

    async def _await_welcome(self, ws: ClientConnection, core: Connection) -> Welcome:
        deadline = self._clock() + self.open_timeout
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise _SessionLost(None)
            try:
                async with asyncio.timeout(remaining):
                    text = await ws.recv()
            except TimeoutError:
                raise _SessionLost(None) from None
            for event in core.receive_text(text, self._clock()):
                if isinstance(event, Received) and isinstance(event.message, Welcome):
                    return event.message
                if isinstance(event, Received):
                    await self._deliver(event.message)
                elif isinstance(event, Closing):
                    raise _SessionLost(event.code)
            await self._write(ws, core)

    async def _flush(self, ws: ClientConnection, core: Connection) -> None:
        while self._outbox:
            message = self._outbox[0]
            try:
                text = core.send(message)
            except LocalProtocolError as err:
                logger.warning("dropping queued %s: %s", message.type, err.detail)
                self._outbox.pop(0)
                continue
            await ws.send(text)
            self._outbox.pop(0)

    async def _write(self, ws: ClientConnection, core: Connection) -> None:
        for text in core.data_to_send():
            await ws.send(text)

    async def _pump(self, ws: ClientConnection, core: Connection) -> None:
        while True:
            timeout = core.next_wakeup(self._clock())
            text = None
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        text = await ws.recv()
            now = self._clock()
            events = core.poll(now) if text is None else core.receive_text(text, now)
            await self._write(ws, core)
            for event in events:
                if isinstance(event, Closing):
                    await ws.close(event.code, event.reason)
                    raise _SessionLost(event.code)
                if isinstance(event, Refused):
                    logger.warning("refused a frame from the office: %s (%s)", event.code, event.type_name)
                elif isinstance(event, Received):
                    await self._deliver(event.message)

    async def _deliver(self, message: BaseMessage) -> None:
        if isinstance(message, CallState):
            if message.state is CallStateName.ENDED:
                if message.call_id == self.active_call:
                    self.active_call, self.last_seq = None, 0
            elif message.call_id != self.active_call:
                self.active_call, self.last_seq = message.call_id, 0
        if (
            isinstance(message, CallMessage)
            and message.call_id == self.active_call
            and message.seq is not None
        ):
            if message.seq <= self.last_seq and not isinstance(message, CallState):
                return  # already seen: replayed on resume and also delivered live
            self.last_seq = max(self.last_seq, message.seq)
        await self._inbox.put(message)
