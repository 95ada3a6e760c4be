"""The office side of signaling as a framework-free adapter: one session per WebSocket.

:class:`SignalingHub` runs a connection for an already-authenticated party (the office's
endpoint checks the device token or login session, then calls :meth:`SignalingHub.serve` with a
:class:`Transport` and the incoming frames). Per connection it:

- drives a server-side :class:`~signaling.connection.Connection` (hello → welcome, pongs,
  refusals with ``error`` frames, 4400/4408 closes);
- subscribes to the party's bus channel, so a message for that party published by any office
  instance reaches this socket; once welcomed, publishes ``replaced`` on it so an older
  connection of the same party, on any instance, closes with 4409 (and does not announce the
  party offline);
- subscribes to ``extra_channels(party)`` (e.g. the office's live events for consoles) and calls
  ``on_presence(party, online)`` when the party comes and goes;
- routes every call message through :func:`~signaling.relay.route` with the parties from the
  office's :class:`CallDirectory` (never from the message) and publishes it on the recipient's
  channel; refusals are answered with ``error`` and passed to the ``audit`` hook;
- answers ``resume`` by replaying what the party missed from the bus's per-(party, call) replay
  log (shared by all instances), then the call's current ``call.state``;
- keeps :class:`~signaling.presence.Presence` fresh while the socket lives.

Server-originated messages (``call.invite``, ``call.state``, ``event``, ``presence``) go out with
:meth:`SignalingHub.send_to`, from any instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Protocol

from signaling.bus import Bus, Subscription, channel_for_party
from signaling.connection import CloseCode, Closing, Connection, Received, Refused, Side
from signaling.errors import BusError, ErrorCode, LocalProtocolError, MessageError, SubscriptionOverflow
from signaling.messages import (
    BaseMessage,
    CallMessage,
    CallState,
    CallStateName,
    ErrorMessage,
    Hello,
    Resume,
    Welcome,
    parse,
    serialize,
)
from signaling.presence import Presence
from signaling.relay import CallParties, Deliver, Party, route

__all__ = [
    "AuditHook",
    "AuditRecord",
    "CallDirectory",
    "CallInfo",
    "ChannelsHook",
    "PresenceHook",
    "SignalingHub",
    "Transport",
]

logger = logging.getLogger(__name__)

_REPLACED = b"ctl:replaced:"
_PARTIES_KEPT = 4096


@dataclasses.dataclass(frozen=True)
class CallInfo:
    """What the office knows about a call: its parties and lifecycle state."""

    parties: CallParties
    state: CallStateName


class CallDirectory(Protocol):
    """The office's call records, as the hub needs them."""

    async def lookup(self, call_id: str) -> CallInfo | None:
        """The call, or ``None`` if unknown."""
        ...


class Transport(Protocol):
    """The socket, as the hub needs it."""

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close with a WebSocket close code."""
        ...


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """A refused frame, for the audit log (never holds payload content)."""

    party: Party
    connection_id: str
    code: ErrorCode
    type_name: str | None
    call_id: str | None
    detail: str


AuditHook = Callable[[AuditRecord], Awaitable[None]]
ChannelsHook = Callable[[Party], Awaitable[list[str]]]
PresenceHook = Callable[[Party, bool], Awaitable[None]]


def _log_key(party: Party, call_id: str) -> str:
    return f"{party.role}.{party.id}.{call_id}"


class _Stop(Exception):
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SignalingHub:
    """Runs signaling connections of one office instance over a shared bus and presence.

    ``disconnect_errors`` are the exceptions the transport or the frame iterator raise when the
    socket goes away (for websockets: ``ConnectionClosed``); they end a session quietly.
    ``extra_channels(party)`` names further bus channels the party's socket listens to (e.g. an
    agent's console gets its office's :func:`~signaling.bus.channel_for_office_events`, where
    :meth:`publish` puts ``event`` and ``presence`` messages). ``on_presence(party, online)`` is
    awaited when a party is welcomed and when its connection ends (to broadcast presence).
    """

    def __init__(
        self,
        bus: Bus,
        presence: Presence,
        calls: CallDirectory,
        *,
        instance_id: str,
        audit: AuditHook | None = None,
        heartbeat_interval: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
        replay_capacity: int = 64,
        disconnect_errors: tuple[type[BaseException], ...] = (ConnectionError,),
        extra_channels: ChannelsHook | None = None,
        on_presence: PresenceHook | None = None,
    ) -> None:
        self.bus = bus
        self.presence = presence
        self.calls = calls
        self.instance_id = instance_id
        self.audit = audit
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock
        self.replay_capacity = replay_capacity
        self.disconnect_errors = disconnect_errors
        self.extra_channels = extra_channels
        self.on_presence = on_presence
        self._parties: dict[str, CallParties] = {}

    async def parties(self, call_id: str) -> CallParties | None:
        """The call's two parties, or ``None`` for an unknown call.

        A call's parties never change, so they are remembered (the most recent calls): relaying a
        description or candidate then costs no look-up. Its state is always looked up afresh.
        """
        parties = self._parties.get(call_id)
        if parties is None:
            info = await self.calls.lookup(call_id)
            if info is None:
                return None
            parties = info.parties
            self.remember_parties(call_id, parties)
        return parties

    def remember_parties(self, call_id: str, parties: CallParties) -> None:
        """Note a call's parties, known to the caller (the office, announcing the call it created):
        the first messages of the call are then relayed without a look-up."""
        if call_id not in self._parties and len(self._parties) >= _PARTIES_KEPT:
            del self._parties[next(iter(self._parties))]
        self._parties[call_id] = parties

    async def send_to(self, party: Party, message: BaseMessage) -> None:
        """Deliver a message to ``party`` wherever it is connected.

        Call messages get the next ``seq`` of (party, call) from the bus and go into the bus's
        replay log, so a party that was offline gets them on ``resume`` (on any instance).
        ``call.state`` ``ended`` drops that log.
        """
        if isinstance(message, CallMessage):
            key = _log_key(party, message.call_id)
            if isinstance(message, CallState) and message.state is CallStateName.ENDED:
                await self.bus.log_forget(key)
            else:
                seq = await self.bus.next_seq(key)
                message = message.model_copy(update={"seq": seq})
                await self.bus.log_append(key, seq, serialize(message), self.replay_capacity)
        await self.bus.publish(channel_for_party(party.role, party.id), serialize(message))

    async def publish(self, channel: str, message: BaseMessage) -> None:
        """Publish a server message (``event``, ``presence``) on a shared channel."""
        await self.bus.publish(channel, serialize(message))

    async def serve(self, party: Party, transport: Transport, frames: AsyncIterable[str | bytes]) -> None:
        """Run one connection until the socket ends or the hub closes it."""
        session = _Session(self, party, transport)
        await session.run(frames)


class _Session:
    def __init__(self, hub: SignalingHub, party: Party, transport: Transport) -> None:
        self.hub = hub
        self.party = party
        self.transport = transport
        self.connection_id = uuid.uuid4().hex[:16]
        self.holder = f"{hub.instance_id}/{self.connection_id}"
        self.core = Connection(
            Side.SERVER, party.role, hub.clock(), heartbeat_interval=hub.heartbeat_interval
        )
        self.welcomed = False
        self.sent_seq: dict[str, int] = {}
        self.last_presence = float("-inf")

    async def run(self, frames: AsyncIterable[str | bytes]) -> None:
        channel = channel_for_party(self.party.role, self.party.id)
        subscription = await self.hub.bus.subscribe(channel)
        extras: list[Subscription] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            if self.hub.extra_channels is not None:
                for name in await self.hub.extra_channels(self.party):
                    extras.append(await self.hub.bus.subscribe(name))
            tasks = [
                asyncio.create_task(self._read_frames(frames)),
                asyncio.create_task(self._read_bus(subscription)),
                asyncio.create_task(self._timers()),
                *(asyncio.create_task(self._read_shared(extra)) for extra in extras),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            stop: _Stop | None = None
            for task in done:
                error = task.exception()
                if isinstance(error, _Stop):
                    stop = error
                elif isinstance(error, self.hub.disconnect_errors):
                    logger.debug("signaling socket of a %s went away", self.party.role)
                elif isinstance(error, BusError):
                    logger.warning("closing a %s connection: bus failed", self.party.role)
                    stop = _Stop(CloseCode.INTERNAL_ERROR, "bus unavailable")
                elif error is not None:
                    raise error
            if stop is not None:
                with contextlib.suppress(Exception):
                    await self.transport.close(stop.code, stop.reason)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            for sub in (subscription, *extras):
                await sub.close()
            self.core.connection_lost()
            if self.welcomed:
                await self._went_offline()

    async def _went_offline(self) -> None:
        try:
            await self.hub.presence.set_offline(self.party.role, self.party.id, self.holder)
            replaced = await self.hub.presence.is_online(self.party.role, self.party.id)
        except Exception as err:  # presence is advisory; see _refresh_presence
            logger.warning("presence update failed: %s", type(err).__name__)
            replaced = False
        if self.hub.on_presence is not None and not replaced:
            await self.hub.on_presence(self.party, False)

    async def _flush(self) -> None:
        for text in self.core.data_to_send():
            await self.transport.send_text(text)

    async def _read_frames(self, frames: AsyncIterable[str | bytes]) -> None:
        async for frame in frames:
            now = self.hub.clock()
            events = self.core.receive_text(frame, now)
            await self._flush()
            for event in events:
                if isinstance(event, Closing):
                    raise _Stop(event.code, event.reason)
                if isinstance(event, Refused):
                    await self._audit(event.code, event.type_name, event.call_id, event.detail)
                elif isinstance(event, Received):
                    await self._handle(event.message)
            await self._refresh_presence(now)

    async def _handle(self, message: BaseMessage) -> None:
        if isinstance(message, Hello):
            welcome = Welcome(
                connection_id=self.connection_id,
                role=self.party.role,
                party_id=self.party.id,
                heartbeat_interval=self.hub.heartbeat_interval,
                instance=self.hub.instance_id,
            )
            await self.transport.send_text(self.core.send(welcome))
            self.welcomed = True
            await self._refresh_presence(self.hub.clock(), force=True)
            channel = channel_for_party(self.party.role, self.party.id)
            await self.hub.bus.publish(channel, _REPLACED + self.connection_id.encode())
            if self.hub.on_presence is not None:
                await self.hub.on_presence(self.party, True)
        elif isinstance(message, Resume):
            await self._resume(message)
        elif isinstance(message, CallMessage):
            decision = route(self.party, message, await self.hub.parties(message.call_id))
            if isinstance(decision, Deliver):
                await self.hub.send_to(decision.to, message.model_copy(update={"seq": None}))
            else:
                await self._refuse(decision.code, message, decision.detail)

    async def _resume(self, message: Resume) -> None:
        info = await self.hub.calls.lookup(message.call_id)
        if info is None or not info.parties.includes(self.party):
            code = ErrorCode.UNKNOWN_CALL if info is None else ErrorCode.NOT_A_PARTY
            await self._audit(code, message.type, message.call_id, "resume refused")
            ended = CallState(call_id=message.call_id, state=CallStateName.ENDED, reason=str(code))
            await self.transport.send_text(self.core.send(ended))
            return
        key = _log_key(self.party, message.call_id)
        await self.hub.bus.bump_seq(key, message.last_seq)
        if info.state is not CallStateName.ENDED:
            for text in await self.hub.bus.log_since(key, message.last_seq):
                await self._send_call_message(parse(text))  # replayed before the fresh call.state
        seq = await self.hub.bus.next_seq(key)
        state = CallState(call_id=message.call_id, state=info.state, seq=seq)
        if info.state is CallStateName.ENDED:
            await self.hub.bus.log_forget(key)
        else:
            await self.hub.bus.log_append(key, seq, serialize(state), self.hub.replay_capacity)
        await self._send_call_message(state)

    async def _send_call_message(self, message: BaseMessage) -> None:
        if isinstance(message, CallMessage) and message.seq is not None:
            if message.seq <= self.sent_seq.get(message.call_id, 0):
                return  # already sent (replayed on resume, then delivered live)
            self.sent_seq[message.call_id] = message.seq
        try:
            text = self.core.send(message)
        except LocalProtocolError as err:
            logger.info("not delivering %s to %s: %s", message.type, self.party.role, err.detail)
            return
        await self.transport.send_text(text)

    async def _refuse(self, code: ErrorCode, message: BaseMessage, detail: str) -> None:
        call_id = message.call_id if isinstance(message, CallMessage) else None
        error = ErrorMessage(code=code, ref=message.id, call_id=call_id, detail=detail)
        await self.transport.send_text(self.core.send(error))
        await self._audit(code, message.type, call_id, detail)

    async def _audit(self, code: ErrorCode, type_name: str | None, call_id: str | None, detail: str) -> None:
        logger.info("signaling refused %s from %s: %s", type_name, self.party.role, code)
        if self.hub.audit is not None:
            await self.hub.audit(
                AuditRecord(self.party, self.connection_id, code, type_name, call_id, detail)
            )

    async def _read_bus(self, subscription: Subscription) -> None:
        try:
            async for payload in subscription:
                if payload.startswith(_REPLACED):
                    if payload[len(_REPLACED) :].decode() != self.connection_id:
                        raise _Stop(CloseCode.REPLACED, "replaced by a newer connection")
                    continue
                await self._deliver(payload)
        except SubscriptionOverflow:
            raise _Stop(CloseCode.GOING_AWAY, "too far behind") from None

    async def _read_shared(self, subscription: Subscription) -> None:
        try:
            async for payload in subscription:
                await self._deliver(payload)
        except SubscriptionOverflow:
            raise _Stop(CloseCode.GOING_AWAY, "too far behind") from None

    async def _deliver(self, payload: bytes) -> None:
        try:
            message = parse(payload)
        except MessageError:
            logger.warning("dropping a malformed bus message for %s", self.party.role)
            return
        await self._send_call_message(message)

    async def _timers(self) -> None:
        while True:
            now = self.hub.clock()
            for event in self.core.poll(now):
                if isinstance(event, Closing):
                    raise _Stop(event.code, event.reason)
            await self._flush()
            await asyncio.sleep(self.core.next_wakeup(self.hub.clock()) + 0.01)

    async def _refresh_presence(self, now: float, *, force: bool = False) -> None:
        if not self.welcomed:
            return
        if force or now - self.last_presence >= self.hub.heartbeat_interval * 2:
            self.last_presence = now
            try:
                await self.hub.presence.set_online(self.party.role, self.party.id, self.holder)
            except Exception as err:  # presence is advisory; a Redis hiccup must not drop the call
                logger.warning("presence update failed: %s", type(err).__name__)
