"""The per-connection state machine: a pure core with no I/O (frames in, events and frames out).

Both ends use it: the office wraps one :class:`Connection` with ``side=SERVER`` around each
WebSocket, the client adapter one with ``side=CLIENT``. The adapter feeds received text to
:meth:`Connection.receive_text`, acts on the returned events, writes :meth:`Connection.data_to_send`
to the socket, calls :meth:`Connection.poll` when :meth:`Connection.next_wakeup` says so, and turns
messages it wants to send into text with :meth:`Connection.send`. Time is always passed in (``now``,
seconds on any monotonic clock).

States and the events that move them (:data:`TRANSITIONS` is the whole table)::

    awaiting_hello ──hello/welcome──▶ ready ──resume / call.accept / call.state(active)──▶ in_call
                                       ▲                                                 │
                                       └─────────────── call.state(ended) ───────────────┘

``call.accept`` puts both ends of the kiosk's connection, and of the agent's it is relayed to, in
the accepted call at once: the kiosk may send its offer right behind its accept, and the office
relay it, without waiting for the office to record the accept and send ``call.state``
``negotiating`` (set-up time).
    any ──close──▶ closing ──lost──▶ closed           any ──lost──▶ closed

Which types a role may originate is :data:`ORIGINATORS`; a received type the peer's role may not
send is refused (``forbidden``), one the state does not allow is refused (``not_allowed``); both
come back as :class:`Refused` events so the adapter can audit them. Malformed frames get an
``error`` frame; too many of them within a window close the connection with 4400.
"""

from __future__ import annotations

import collections
import dataclasses
import enum

from signaling.errors import ErrorCode, FrameTooLarge, LocalProtocolError, MessageError, UnsupportedVersion
from signaling.messages import (
    MAX_FRAME_BYTES,
    BaseMessage,
    CallAccept,
    CallMessage,
    CallState,
    CallStateName,
    ErrorMessage,
    Ping,
    Pong,
    Resume,
    Role,
    parse,
    serialize,
)

__all__ = [
    "FATAL_CLOSE_CODES",
    "ORIGINATORS",
    "RELAYED",
    "TRANSITIONS",
    "CloseCode",
    "Closing",
    "ConnState",
    "Connection",
    "Event",
    "Heartbeat",
    "Received",
    "Refused",
    "Side",
    "allowed_events",
]


class CloseCode(enum.IntEnum):
    """WebSocket close codes used by the protocol."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INTERNAL_ERROR = 1011
    BAD_MESSAGE = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    HEARTBEAT_TIMEOUT = 4408
    REPLACED = 4409


FATAL_CLOSE_CODES = frozenset({CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN, CloseCode.REPLACED})
"""Close codes after which a client must not reconnect on its own."""


class ConnState(enum.StrEnum):
    """States of one signaling connection."""

    AWAITING_HELLO = "awaiting_hello"
    READY = "ready"
    IN_CALL = "in_call"
    CLOSING = "closing"
    CLOSED = "closed"


class Side(enum.StrEnum):
    """Which end of the connection this state machine runs on."""

    SERVER = "server"
    CLIENT = "client"


_BOTH_PARTIES = ("call.end", "description", "candidate", "resume", "ping", "pong", "hello")
ORIGINATORS: dict[Role, frozenset[str]] = {
    Role.AGENT: frozenset({*_BOTH_PARTIES, "call.cancel", "hw.request"}),
    Role.KIOSK: frozenset(
        {*_BOTH_PARTIES, "call.accept", "call.decline", "hw.progress", "hw.result", "diag.result"}
    ),
    Role.SERVER: frozenset(
        {"welcome", "error", "ping", "pong", "presence", "call.invite", "call.state", "event", "diag.request"}
    ),
}
"""Message types each role may originate."""

RELAYED: frozenset[str] = frozenset(
    {
        "call.accept",
        "call.decline",
        "call.cancel",
        "call.end",
        "description",
        "candidate",
        "hw.request",
        "hw.progress",
        "hw.result",
    }
)
"""Types the office forwards from one party of a call to the other."""

_ANYTIME = ("ping", "pong", "error", "presence", "event", "diag.request", "diag.result")
_CALL_SETUP = ("call.invite", "call.accept", "call.decline", "call.cancel", "call.end")
_IN_CALL_ONLY = ("description", "candidate", "hw.request", "hw.progress", "hw.result")
_ACTIVE = "call.state:active"
_ENDED = "call.state:ended"


def _table() -> dict[tuple[ConnState, str], ConnState]:
    s = ConnState
    table: dict[tuple[ConnState, str], ConnState] = {
        (s.AWAITING_HELLO, "hello"): s.AWAITING_HELLO,
        (s.AWAITING_HELLO, "welcome"): s.READY,
        (s.AWAITING_HELLO, "ping"): s.AWAITING_HELLO,
        (s.AWAITING_HELLO, "pong"): s.AWAITING_HELLO,
        (s.AWAITING_HELLO, "error"): s.AWAITING_HELLO,
        (s.READY, "resume"): s.IN_CALL,
        (s.READY, _ACTIVE): s.IN_CALL,
        (s.READY, _ENDED): s.READY,
        (s.IN_CALL, "resume"): s.IN_CALL,
        (s.IN_CALL, _ACTIVE): s.IN_CALL,
        (s.IN_CALL, _ENDED): s.READY,
    }
    for state in (s.READY, s.IN_CALL):
        for name in (*_ANYTIME, *_CALL_SETUP):
            table[(state, name)] = state
        table[(state, "call.accept")] = s.IN_CALL
    for name in _IN_CALL_ONLY:
        table[(s.IN_CALL, name)] = s.IN_CALL
    for state in (s.AWAITING_HELLO, s.READY, s.IN_CALL):
        table[(state, "close")] = s.CLOSING
    for state in s:
        table[(state, "lost")] = s.CLOSED
    return table


TRANSITIONS: dict[tuple[ConnState, str], ConnState] = _table()
"""(state, event) → next state. Events are message types, ``call.state:active``,
``call.state:ended``, ``close`` and ``lost``. A pair missing from the table is illegal."""


def _event_key(message: BaseMessage) -> str:
    if isinstance(message, CallState):
        return _ENDED if message.state is CallStateName.ENDED else _ACTIVE
    return message.type


@dataclasses.dataclass(frozen=True)
class Received:
    """A message the peer sent that the application should act on."""

    message: BaseMessage


@dataclasses.dataclass(frozen=True)
class Refused:
    """A frame was refused (an ``error`` frame is already queued); audit it.

    ``type_name`` is ``None`` when the frame had no recognisable type. No payload is kept.
    """

    code: ErrorCode
    type_name: str | None
    call_id: str | None
    detail: str


@dataclasses.dataclass(frozen=True)
class Closing:
    """The core decided to close the connection; the adapter closes the socket with ``code``."""

    code: CloseCode
    reason: str


Event = Received | Refused | Closing


class Heartbeat:
    """Heartbeat bookkeeping on an injected clock.

    The client sends a ``ping`` every ``interval`` seconds; any frame received counts as a sign
    of life. The peer is dead when nothing arrived for ``dead_after`` seconds.
    """

    def __init__(self, interval: float, dead_after: float, now: float, *, sends_pings: bool) -> None:
        if interval <= 0 or dead_after <= interval:
            raise ValueError("need 0 < interval < dead_after")
        self.interval = interval
        self.dead_after = dead_after
        self.sends_pings = sends_pings
        self.last_received = now
        self.last_ping_sent = now
        self.nonce = 0
        self.last_rtt: float | None = None
        self._ping_sent_at: dict[int, float] = {}

    def received(self, now: float) -> None:
        """Record that some frame arrived."""
        self.last_received = max(self.last_received, now)

    def ping_due(self, now: float) -> bool:
        """Whether it is time to send the next ping."""
        return self.sends_pings and now - self.last_ping_sent >= self.interval

    def make_ping(self, now: float) -> Ping:
        """Create the next ping and remember when it left."""
        self.nonce += 1
        self.last_ping_sent = now
        self._ping_sent_at[self.nonce] = now
        if len(self._ping_sent_at) > 8:
            del self._ping_sent_at[min(self._ping_sent_at)]
        return Ping(nonce=self.nonce)

    def pong(self, nonce: int, now: float) -> None:
        """Record a pong; measures the round-trip time when the nonce is ours."""
        sent = self._ping_sent_at.pop(nonce, None)
        if sent is not None:
            self.last_rtt = now - sent

    def is_dead(self, now: float) -> bool:
        """Whether the peer has been silent for longer than ``dead_after``."""
        return now - self.last_received >= self.dead_after

    def next_wakeup(self, now: float) -> float:
        """Seconds until something needs doing (a ping or the dead-peer check)."""
        deadline = self.last_received + self.dead_after
        if self.sends_pings:
            deadline = min(deadline, self.last_ping_sent + self.interval)
        return max(0.0, deadline - now)


class Connection:
    """State machine for one signaling connection, seen from ``side``.

    ``role`` is the client's role (agent or kiosk) on both sides. ``now`` is the connection's
    start time on the caller's clock. The client pings; the office only answers and watches.
    """

    def __init__(
        self,
        side: Side,
        role: Role,
        now: float,
        *,
        heartbeat_interval: float = 1.5,
        dead_after: float | None = None,
        max_frame: int = MAX_FRAME_BYTES,
        max_bad_frames: int = 10,
        bad_frame_window: float = 10.0,
    ) -> None:
        if role is Role.SERVER:
            raise ValueError("role is the client's role: agent or kiosk")
        self.side = side
        self.role = role
        self.state = ConnState.AWAITING_HELLO
        self.call_id: str | None = None
        self.close_code: CloseCode | None = None
        self.max_frame = max_frame
        self.max_bad_frames = max_bad_frames
        self.bad_frame_window = bad_frame_window
        if dead_after is None:
            dead_after = heartbeat_interval * (3 if side is Side.CLIENT else 4)
        self.heartbeat = Heartbeat(heartbeat_interval, dead_after, now, sends_pings=side is Side.CLIENT)
        self._bad_frames: collections.deque[float] = collections.deque()
        self._outgoing: list[str] = []
        peer = Role.KIOSK if role is Role.AGENT else Role.AGENT
        if side is Side.SERVER:
            self._may_receive = ORIGINATORS[role]
            self._may_send = ORIGINATORS[Role.SERVER] | (ORIGINATORS[peer] & RELAYED)
        else:
            self._may_receive = ORIGINATORS[Role.SERVER] | (ORIGINATORS[peer] & RELAYED)
            self._may_send = ORIGINATORS[role]

    # -- receiving -------------------------------------------------------------------------

    def receive_text(self, data: str | bytes, now: float) -> list[Event]:
        """Feed one received frame; returns what the application must handle."""
        if self.state in (ConnState.CLOSING, ConnState.CLOSED):
            return []
        self.heartbeat.received(now)
        try:
            message = parse(data, max_frame=self.max_frame)
        except MessageError as err:
            fatal = isinstance(err, UnsupportedVersion)
            type_name = getattr(err, "type_name", None)
            fields = tuple(path for path, _ in getattr(err, "fields", ()))
            detail = err.detail if not isinstance(err, FrameTooLarge) else f"limit {err.limit} bytes"
            return self._refuse(
                err.code, type_name, None, None, detail[:200], now, fatal=fatal, fields=fields
            )
        call_id = message.call_id if isinstance(message, CallMessage) else None
        if message.type not in self._may_receive:
            detail = f"{self._peer_name()} may not send {message.type}"
            return self._refuse(ErrorCode.FORBIDDEN, message.type, call_id, message.id, detail, now)
        problem = self._check_state(message)
        if problem is not None:
            fatal = self.state is ConnState.AWAITING_HELLO and self.side is Side.SERVER
            return self._refuse(
                ErrorCode.NOT_ALLOWED, message.type, call_id, message.id, problem, now, fatal=fatal
            )
        self._apply(message)
        if isinstance(message, Ping):
            self._outgoing.append(serialize(Pong(nonce=message.nonce)))
            return []
        if isinstance(message, Pong):
            self.heartbeat.pong(message.nonce, now)
            return []
        return [Received(message)]

    def _peer_name(self) -> str:
        return "office" if self.side is Side.CLIENT else str(self.role)

    def _refuse(
        self,
        code: ErrorCode,
        type_name: str | None,
        call_id: str | None,
        ref: str | None,
        detail: str,
        now: float,
        *,
        fatal: bool = False,
        fields: tuple[str, ...] = (),
    ) -> list[Event]:
        events: list[Event] = [Refused(code, type_name, call_id, detail)]
        self._bad_frames.append(now)
        while self._bad_frames and self._bad_frames[0] < now - self.bad_frame_window:
            self._bad_frames.popleft()
        if len(self._bad_frames) > self.max_bad_frames:
            code, detail, fatal = ErrorCode.TOO_MANY_ERRORS, "too many refused frames", True
        if self.side is Side.SERVER:
            error = ErrorMessage(
                code=code, ref=ref, call_id=call_id, detail=detail, fields=fields[:16], fatal=fatal
            )
            self._outgoing.append(serialize(error))
        if fatal:
            events.append(self.close(CloseCode.BAD_MESSAGE, str(code)))
        return events

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: BaseMessage, now: float | None = None) -> str:
        """Check that this side may send ``message`` now, update the state, return its text.

        Raises :class:`~signaling.errors.LocalProtocolError` (state unchanged) otherwise.
        ``now`` is accepted for symmetry and ignored.
        """
        if message.type not in self._may_send:
            raise LocalProtocolError(message.type, self.state, f"{self.side} may not send it")
        problem = self._check_state(message)
        if problem is not None:
            raise LocalProtocolError(message.type, self.state, problem)
        text = serialize(message)
        if len(text.encode("utf-8")) > self.max_frame:
            raise LocalProtocolError(message.type, self.state, f"frame over {self.max_frame} bytes")
        self._apply(message)
        if isinstance(message, Ping):
            self.heartbeat.last_ping_sent = max(self.heartbeat.last_ping_sent, now or 0.0)
        return text

    def data_to_send(self) -> list[str]:
        """Frames the core produced on its own (pongs, pings, errors); empties the buffer."""
        out, self._outgoing = self._outgoing, []
        return out

    # -- state -------------------------------------------------------------------------------

    def _check_state(self, message: BaseMessage) -> str | None:
        key = _event_key(message)
        if (self.state, key) not in TRANSITIONS:
            return f"not allowed in state {self.state}"
        if (
            self.state is ConnState.IN_CALL
            and message.type in _IN_CALL_ONLY
            and isinstance(message, CallMessage)
            and message.call_id != self.call_id
        ):
            return "not the active call"
        return None

    def _apply(self, message: BaseMessage) -> None:
        key = _event_key(message)
        new_state = TRANSITIONS[(self.state, key)]
        if isinstance(message, Resume | CallAccept) or key == _ACTIVE:
            assert isinstance(message, CallMessage)
            self.call_id = message.call_id
        elif key == _ENDED:
            assert isinstance(message, CallMessage)
            if message.call_id != self.call_id and self.state is ConnState.IN_CALL:
                return  # another call ended; ours goes on
            self.call_id = None
        self.state = new_state

    def _transition(self, event: str) -> None:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(event, self.state, "illegal transition") from None

    def close(self, code: CloseCode, reason: str = "") -> Closing:
        """Start closing with ``code``; the adapter must close the socket. Idempotent."""
        if self.state in (ConnState.CLOSING, ConnState.CLOSED):
            return Closing(self.close_code or code, reason)
        self._transition("close")
        self.close_code = code
        return Closing(code, reason)

    def connection_lost(self) -> None:
        """The socket is gone (closed by either side or broken)."""
        self._transition("lost")

    # -- heartbeat ---------------------------------------------------------------------------

    def poll(self, now: float) -> list[Event]:
        """Run timers: queue a ping when due (client), close on a silent peer (4408)."""
        if self.state in (ConnState.CLOSING, ConnState.CLOSED):
            return []
        if self.heartbeat.is_dead(now):
            return [self.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]
        if self.heartbeat.ping_due(now):
            self._outgoing.append(serialize(self.heartbeat.make_ping(now)))
        return []

    def next_wakeup(self, now: float) -> float:
        """Seconds until :meth:`poll` next has something to do."""
        return self.heartbeat.next_wakeup(now)


def allowed_events(state: ConnState) -> list[str]:
    """Message types (and pseudo-events) legal in ``state``, for documentation."""
    return sorted(event for (s, event) in TRANSITIONS if s is state)
