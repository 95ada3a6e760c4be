"""Signaling messages: one frozen pydantic model per type, ``parse`` and ``serialize``.

Every frame is one JSON object (UTF-8 text) with a ``type`` discriminator. Common fields:

- ``id``: optional client-chosen message id; an ``error`` about that message carries it as ``ref``;
- ``call_id``: on every call-scoped message;
- ``seq``: stamped by the office on call-scoped messages it delivers, so a client can ``resume``
  with the last one it saw.

``parse`` checks the size before decoding, rejects non-objects, excessive nesting, NaN/Infinity,
unknown types and invalid fields, and raises a :class:`~signaling.errors.MessageError` subclass
whose fields never contain payload content. ``serialize`` is its inverse. This module does no I/O.
"""

from __future__ import annotations

import enum
import json
import math
import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from signaling.errors import (
    ErrorCode,
    FrameTooLarge,
    InvalidFields,
    NotJson,
    UnknownType,
    UnsupportedVersion,
)

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_NESTING",
    "MAX_SDP_BYTES",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "BaseMessage",
    "CallAccept",
    "CallCancel",
    "CallDecline",
    "CallEnd",
    "CallInvite",
    "CallMessage",
    "CallState",
    "CallStateName",
    "Candidate",
    "Description",
    "DiagRequest",
    "DiagResult",
    "ErrorMessage",
    "Event",
    "Hello",
    "HwAction",
    "HwOutcome",
    "HwProgress",
    "HwRequest",
    "HwResult",
    "IceCandidate",
    "Message",
    "Ping",
    "Pong",
    "Presence",
    "Resume",
    "Role",
    "Welcome",
    "parse",
    "serialize",
]

PROTOCOL_VERSION = 1
"""The protocol version this package speaks (sent in ``hello`` and ``welcome``)."""
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
MAX_FRAME_BYTES = 64 * 1024
"""Default limit for one frame, in UTF-8 bytes, checked before decoding."""
MAX_SDP_BYTES = 32 * 1024
"""Limit for the ``sdp`` text of a ``description``."""
MAX_NESTING = 16
"""Deepest allowed nesting of JSON objects/arrays in a frame."""


class Role(enum.StrEnum):
    """Who is at either end of a signaling connection."""

    AGENT = "agent"
    KIOSK = "kiosk"
    SERVER = "server"


class CallStateName(enum.StrEnum):
    """Call lifecycle states the office announces with ``call.state``."""

    CREATED = "created"
    NEGOTIATING = "negotiating"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


class HwAction(enum.StrEnum):
    """Hardware actions an agent may ask of a kiosk."""

    READ_ID_CARD = "read_id_card"
    VERIFY_FINGERPRINT = "verify_fingerprint"
    CAPTURE_DOCUMENT = "capture_document"
    DOCUMENT_LIVE_START = "document_live_start"
    DOCUMENT_LIVE_STOP = "document_live_stop"
    PRINT_NOTICE = "print_notice"


class HwOutcome(enum.StrEnum):
    """How a hardware request ended; a refused consent is its own outcome, not a failure."""

    OK = "ok"
    CONSENT_REFUSED = "consent_refused"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    BUSY = "busy"


Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
"""Ids of messages, calls, parties, requests: 1-64 chars, no spaces or markup."""
Token = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
"""Short lowercase machine words (reasons, stages, topics)."""
ShortText = Annotated[str, StringConstraints(max_length=200)]
"""Human-readable text; never personal data of residents."""
Seq = Annotated[int, Field(ge=0, le=2**53)]
Generation = Annotated[int, Field(ge=0, le=2**31)]
ScalarParam = str | int | float | bool


class BaseMessage(BaseModel):
    """Fields shared by every message."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: str
    id: Ident | None = None


class CallMessage(BaseMessage):
    """A message about one call; only that call's two parties may exchange it."""

    call_id: Ident
    seq: Seq | None = None


class Hello(BaseMessage):
    """Client → office, first frame: the protocol version and client software."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    client: ShortText | None = None


class Welcome(BaseMessage):
    """Office → client, answer to ``hello``: who the office thinks we are, heartbeat pace."""

    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    connection_id: Ident
    role: Literal[Role.AGENT, Role.KIOSK]
    party_id: Ident
    heartbeat_interval: Annotated[float, Field(gt=0, le=60)] = 1.5
    instance: Ident | None = None


class ErrorMessage(BaseMessage):
    """Office → client: a frame was refused. ``ref`` is the refused message's ``id``."""

    type: Literal["error"] = "error"
    code: ErrorCode
    ref: Ident | None = None
    call_id: Ident | None = None
    detail: ShortText | None = None
    fields: Annotated[
        tuple[Annotated[str, StringConstraints(max_length=100)], ...], Field(max_length=16)
    ] = ()
    fatal: bool = False


class Ping(BaseMessage):
    """Heartbeat probe; the receiver answers ``pong`` with the same ``nonce``."""

    type: Literal["ping"] = "ping"
    nonce: Annotated[int, Field(ge=0, le=2**53)] = 0


class Pong(BaseMessage):
    """Heartbeat answer."""

    type: Literal["pong"] = "pong"
    nonce: Annotated[int, Field(ge=0, le=2**53)] = 0


class Presence(BaseMessage):
    """Office → consoles: an agent or kiosk came online or went offline."""

    type: Literal["presence"] = "presence"
    role: Literal[Role.AGENT, Role.KIOSK]
    party_id: Ident
    online: bool
    status: Token | None = None


class CallInvite(CallMessage):
    """Office → kiosk (copy to the agent): a call is offered."""

    type: Literal["call.invite"] = "call.invite"
    agent_id: Ident
    kiosk_id: Ident
    agent_name: ShortText | None = None
    ticket: Annotated[str, StringConstraints(max_length=16)] | None = None
    service: ShortText | None = None


class CallAccept(CallMessage):
    """Kiosk → agent: the kiosk takes the call."""

    type: Literal["call.accept"] = "call.accept"


class CallDecline(CallMessage):
    """Kiosk → agent: the kiosk refuses the call (busy, resident left, …)."""

    type: Literal["call.decline"] = "call.decline"
    reason: Token = "declined"


class CallCancel(CallMessage):
    """Agent → kiosk: the invite is withdrawn before it was accepted."""

    type: Literal["call.cancel"] = "call.cancel"
    reason: Token = "cancelled"


class CallEnd(CallMessage):
    """Either party → the other: hang up."""

    type: Literal["call.end"] = "call.end"
    reason: Token = "hangup"


class CallState(CallMessage):
    """Office → both parties: the call's lifecycle state changed (``reason`` when ended)."""

    type: Literal["call.state"] = "call.state"
    state: CallStateName
    reason: Token | None = None


class Description(CallMessage):
    """Either party → the other: an SDP offer or answer for peer connection ``generation``.

    A reconnect that needs a new peer connection (aiortc has no ICE restart) bumps ``generation``;
    receivers drop descriptions and candidates of older generations.
    """

    type: Literal["description"] = "description"
    generation: Generation = 0
    sdp_type: Literal["offer", "answer"]
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_BYTES)]


class IceCandidate(BaseModel):
    """One ICE candidate as in ``RTCIceCandidateInit``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    candidate: Annotated[str, StringConstraints(max_length=1024)]
    sdp_mid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdp_m_line_index: Annotated[int, Field(ge=0, le=255)] | None = None
    username_fragment: Annotated[str, StringConstraints(max_length=256)] | None = None


class Candidate(CallMessage):
    """Either party → the other: a trickled ICE candidate; ``null`` means end of candidates."""

    type: Literal["candidate"] = "candidate"
    generation: Generation = 0
    candidate: IceCandidate | None


class Resume(CallMessage):
    """Client → office after a reconnect: continue ``call_id``; ``last_seq`` is the last seen."""

    type: Literal["resume"] = "resume"
    last_seq: Seq = 0


class HwRequest(CallMessage):
    """Agent → kiosk: run a hardware action (the kiosk asks the resident's consent first)."""

    type: Literal["hw.request"] = "hw.request"
    request_id: Ident
    action: HwAction
    params: Annotated[
        dict[Annotated[str, StringConstraints(max_length=64)], ScalarParam], Field(max_length=16)
    ] = Field(default_factory=dict)


class HwProgress(CallMessage):
    """Kiosk → agent: a hardware request moved on (``awaiting_consent``, ``reading``, …)."""

    type: Literal["hw.progress"] = "hw.progress"
    request_id: Ident
    stage: Token
    percent: Annotated[int, Field(ge=0, le=100)] | None = None


class HwResult(CallMessage):
    """Kiosk → agent: the hardware request finished.

    ``data`` only with outcome ``ok``; ``error`` (a code word) only without it, required for
    ``failed``. ``data`` may hold personal data: never log it.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"outcome": {"const": "ok"}}},
                    "then": {"properties": {"error": {"type": "null"}}},
                    "else": {"properties": {"data": {"type": "null"}}},
                },
                {
                    "if": {"properties": {"outcome": {"const": "failed"}}},
                    "then": {"required": ["error"], "properties": {"error": {"type": "string"}}},
                },
            ]
        }
    )

    type: Literal["hw.result"] = "hw.result"
    request_id: Ident
    outcome: HwOutcome
    data: dict[str, JsonValue] | None = None
    error: Token | None = None

    @property
    def ok(self) -> bool:
        """Whether the action succeeded."""
        return self.outcome is HwOutcome.OK

    @model_validator(mode="after")
    def _check_outcome(self) -> Self:
        if self.outcome is HwOutcome.OK:
            if self.error is not None:
                raise ValueError("error must be absent when outcome is ok")
        else:
            if self.data is not None:
                raise ValueError("data must be absent unless outcome is ok")
            if self.outcome is HwOutcome.FAILED and self.error is None:
                raise ValueError("error is required when outcome is failed")
        return self


class DiagRequest(BaseMessage):
    """Office → kiosk: run the internal health check of every device now (a remote health check).

    The kiosk answers by posting its device report with ``request_id`` to ``POST /api/kiosk/health``
    (the record), then sends ``diag.result`` as a short acknowledgement.
    """

    type: Literal["diag.request"] = "diag.request"
    request_id: Ident


class DiagResult(BaseMessage):
    """Kiosk → office: a remote health check ran. ``ok`` when every device passed; ``failing``
    lists the device kinds that did not; ``error`` (a code word) when the check or its report failed.
    Carries no report details (those go over HTTPS) and never personal data."""

    type: Literal["diag.result"] = "diag.result"
    request_id: Ident
    ok: bool
    failing: Annotated[tuple[Token, ...], Field(max_length=16)] = ()
    error: Token | None = None


class Event(BaseMessage):
    """Office → consoles: a live event (queue changes, board updates) on ``topic``."""

    type: Literal["event"] = "event"
    topic: Token
    payload: dict[str, JsonValue] = Field(default_factory=dict)


Message = Annotated[
    Hello
    | Welcome
    | ErrorMessage
    | Ping
    | Pong
    | Presence
    | CallInvite
    | CallAccept
    | CallDecline
    | CallCancel
    | CallEnd
    | CallState
    | Description
    | Candidate
    | Resume
    | HwRequest
    | HwProgress
    | HwResult
    | DiagRequest
    | DiagResult
    | Event,
    Field(discriminator="type"),
]
"""Any signaling message (a discriminated union on ``type``)."""

MESSAGE_TYPES: dict[str, type[BaseMessage]] = {
    model.model_fields["type"].default: model
    for model in (
        Hello,
        Welcome,
        ErrorMessage,
        Ping,
        Pong,
        Presence,
        CallInvite,
        CallAccept,
        CallDecline,
        CallCancel,
        CallEnd,
        CallState,
        Description,
        Candidate,
        Resume,
        HwRequest,
        HwProgress,
        HwResult,
        DiagRequest,
        DiagResult,
        Event,
    )
}
"""Every message model keyed by its ``type`` value."""

_ADAPTER: TypeAdapter[BaseMessage] = TypeAdapter(Message)

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,31}$")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _safe_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) if isinstance(p, int) or _FIELD_NAME.match(p) else "?" for p in loc]
    return ".".join(parts) or "?"


def parse(data: str | bytes, *, max_frame: int = MAX_FRAME_BYTES) -> BaseMessage:
    """Turn one frame into a message or raise a :class:`~signaling.errors.MessageError`.

    The returned object is an instance of one of the models in :data:`MESSAGE_TYPES`. Valid
    frames take one pass through pydantic's JSON parser; anything it refuses (or a free-form
    field that nests too deeply or holds a non-finite number) goes through a slower path that
    finds out exactly what is wrong.
    """
    text = _decode(data, max_frame)
    try:
        message: BaseMessage = _ADAPTER.validate_json(text, strict=True)
    except ValidationError:
        return _parse_checked(text)
    if _acceptable(message):
        return message
    return _parse_checked(text)


def _decode(data: str | bytes, max_frame: int) -> str:
    if isinstance(data, str):
        if len(data) > max_frame:
            raise FrameTooLarge(len(data), max_frame)
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise NotJson("frame is not valid UTF-8 text") from None
    else:
        raw = bytes(data)
    if len(raw) > max_frame:
        raise FrameTooLarge(len(raw), max_frame)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotJson("frame is not valid UTF-8 text") from None


def _json_ok(value: object, limit: int) -> bool:
    """Nesting within ``limit`` and every number finite."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def _acceptable(message: BaseMessage) -> bool:
    if isinstance(message, Hello):
        return message.protocol in SUPPORTED_VERSIONS
    if isinstance(message, Event):
        return _json_ok(message.payload, MAX_NESTING - 1)
    if isinstance(message, HwResult):
        return message.data is None or _json_ok(message.data, MAX_NESTING - 1)
    if isinstance(message, HwRequest):
        return _json_ok(message.params, MAX_NESTING - 1)
    return True


def _parse_checked(text: str) -> BaseMessage:
    """The thorough path: say precisely why ``text`` is not a valid message."""
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise NotJson(f"nesting deeper than {MAX_NESTING}") from None
    except ValueError:
        raise NotJson("frame is not JSON") from None
    if not isinstance(obj, dict):
        raise NotJson("frame is not a JSON object")
    if not _json_ok(obj, MAX_NESTING):
        raise NotJson(f"nesting deeper than {MAX_NESTING}")
    type_name = obj.get("type")
    if not isinstance(type_name, str):
        raise UnknownType(None)
    model = MESSAGE_TYPES.get(type_name)
    if model is None:
        raise UnknownType(type_name if _TYPE_NAME.match(type_name) else None)
    if model is Hello:
        version = obj.get("protocol", PROTOCOL_VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version not in SUPPORTED_VERSIONS:
            raise UnsupportedVersion(version, SUPPORTED_VERSIONS)
    try:
        message = model.model_validate_json(text, strict=True)
    except ValidationError as err:
        fields = tuple(
            (_safe_path(tuple(e["loc"])), e["type"])
            for e in err.errors(include_url=False, include_input=False, include_context=False)
        )
        raise InvalidFields(type_name, fields) from None
    if not _acceptable(message):  # pragma: no cover - json.loads already refused such frames
        raise NotJson("frame holds a non-finite number")
    return message


def serialize(message: BaseMessage) -> str:
    """Compact JSON text for ``message``; ``None`` fields are left out, except a ``candidate``
    of ``null`` (end of candidates), which is kept explicit."""
    if isinstance(message, Candidate) and message.candidate is None:
        body = message.model_dump(mode="json", exclude_none=True)
        body["candidate"] = None
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return message.model_dump_json(exclude_none=True)
