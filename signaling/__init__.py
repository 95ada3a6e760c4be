"""Signaling for doorstep: the protocol as a pure core, plus thin adapters.

Pure core (no I/O): :mod:`signaling.messages` (schema, ``parse``/``serialize``),
:mod:`signaling.connection` (per-connection state machine and heartbeat),
:mod:`signaling.relay` (who may send what to whom), :mod:`signaling.schema` (JSON Schema).

Adapters: :mod:`signaling.hub` (the office side of each WebSocket, framework-free),
:mod:`signaling.bus` / :mod:`signaling.redis_bus` (pub/sub and replay log between office instances),
:mod:`signaling.presence` (who is online where), :mod:`signaling.client` (the asyncio WebSocket
client used by the kiosk and the headless agent). The protocol is described in
``docs/signaling.md``.
"""

from signaling.backoff import Backoff
from signaling.bus import (
    Bus,
    InProcessBus,
    Subscription,
    channel_for_instance,
    channel_for_office_events,
    channel_for_party,
    open_bus,
)
from signaling.client import SignalingClient
from signaling.connection import CloseCode, Closing, Connection, ConnState, Received, Refused, Side
from signaling.errors import (
    BusClosed,
    BusError,
    ClientClosed,
    ClientError,
    ConnectionRejected,
    ErrorCode,
    FrameTooLarge,
    InvalidFields,
    LocalProtocolError,
    MessageError,
    NotJson,
    OutboxFull,
    ProtocolViolation,
    SignalingError,
    SubscriptionOverflow,
    UnknownType,
    UnsupportedVersion,
)
from signaling.hub import AuditRecord, CallDirectory, CallInfo, SignalingHub, Transport
from signaling.messages import PROTOCOL_VERSION, BaseMessage, Message, Role, parse, serialize
from signaling.presence import InMemoryPresence, Presence, RedisPresence, open_presence
from signaling.redis_bus import RedisBus
from signaling.relay import CallParties, Deliver, Party, Refuse, route

__all__ = [
    "PROTOCOL_VERSION",
    "AuditRecord",
    "Backoff",
    "BaseMessage",
    "Bus",
    "BusClosed",
    "BusError",
    "CallDirectory",
    "CallInfo",
    "CallParties",
    "ClientClosed",
    "ClientError",
    "CloseCode",
    "Closing",
    "ConnState",
    "Connection",
    "ConnectionRejected",
    "Deliver",
    "ErrorCode",
    "FrameTooLarge",
    "InMemoryPresence",
    "InProcessBus",
    "InvalidFields",
    "LocalProtocolError",
    "Message",
    "MessageError",
    "NotJson",
    "OutboxFull",
    "Party",
    "Presence",
    "ProtocolViolation",
    "Received",
    "RedisBus",
    "RedisPresence",
    "Refuse",
    "Refused",
    "Role",
    "Side",
    "SignalingClient",
    "SignalingError",
    "SignalingHub",
    "Subscription",
    "SubscriptionOverflow",
    "Transport",
    "UnknownType",
    "UnsupportedVersion",
    "channel_for_instance",
    "channel_for_office_events",
    "channel_for_party",
    "open_bus",
    "open_presence",
    "parse",
    "route",
    "serialize",
]
