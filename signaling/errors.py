"""Exceptions raised by the signaling package, split by who is at fault.

::

    SignalingError
    ├── MessageError            the peer sent a frame we cannot accept (peer's fault)
    │   ├── FrameTooLarge       frame over the size limit (checked before decoding)
    │   ├── NotJson             not UTF-8 JSON, or nested too deeply
    │   ├── UnknownType         missing or unknown ``type``
    │   ├── InvalidFields       known type, fields fail validation
    │   └── UnsupportedVersion  ``hello`` with a protocol version we do not speak
    ├── ProtocolViolation       a valid message at the wrong time or from the wrong role (peer's fault)
    ├── LocalProtocolError      our own code tried to send something illegal (our fault)
    ├── BusError                the message bus failed
    │   ├── BusClosed           used after ``close()``
    │   └── SubscriptionOverflow a subscriber fell too far behind and was cut off
    └── ClientError             the client adapter
        ├── ConnectionRejected  the office refused us for good (bad credentials, forbidden, replaced)
        ├── ClientClosed        used after ``close()``
        └── OutboxFull          too many messages queued while disconnected

Every exception carries structured fields (codes, limits, field paths) and never the content of
the offending payload, so it is safe to log: a frame may carry ID numbers or names.
"""

from __future__ import annotations

import enum

__all__ = [
    "BusClosed",
    "BusError",
    "ClientClosed",
    "ClientError",
    "ConnectionRejected",
    "ErrorCode",
    "FrameTooLarge",
    "InvalidFields",
    "LocalProtocolError",
    "MessageError",
    "NotJson",
    "OutboxFull",
    "ProtocolViolation",
    "SignalingError",
    "SubscriptionOverflow",
    "UnknownType",
    "UnsupportedVersion",
]


class ErrorCode(enum.StrEnum):
    """Machine-readable error codes carried by ``error`` messages."""

    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELDS = "invalid_fields"
    UNSUPPORTED_VERSION = "unsupported_version"
    NOT_ALLOWED = "not_allowed"
    FORBIDDEN = "forbidden"
    NOT_A_PARTY = "not_a_party"
    UNKNOWN_CALL = "unknown_call"
    TOO_MANY_ERRORS = "too_many_errors"
    INTERNAL = "internal"


class SignalingError(Exception):
    """Base class of every exception raised by :mod:`signaling`."""


class MessageError(SignalingError):
    """A frame could not be turned into a message. ``code`` says why."""

    code: ErrorCode = ErrorCode.INVALID_FIELDS

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class FrameTooLarge(MessageError):
    """The frame (or one field of it) is over its size limit."""

    code = ErrorCode.TOO_LARGE

    def __init__(self, size: int, limit: int, field: str | None = None) -> None:
        where = f"field {field!r}" if field else "frame"
        super().__init__(f"{where} is {size} bytes, limit {limit}")
        self.size = size
        self.limit = limit
        self.field = field


class NotJson(MessageError):
    """The frame is not UTF-8 JSON text holding an object (or it nests too deeply)."""

    code = ErrorCode.NOT_JSON


class UnknownType(MessageError):
    """The ``type`` field is missing or names no message type we know.

    ``type_name`` is the offending value only when it looks like a type name (short, lowercase
    letters, dots, underscores); anything else is replaced by ``None`` so no payload is echoed.
    """

    code = ErrorCode.UNKNOWN_TYPE

    def __init__(self, type_name: str | None) -> None:
        super().__init__("missing message type" if type_name is None else f"unknown type {type_name!r}")
        self.type_name = type_name


class InvalidFields(MessageError):
    """The type is known but fields are missing, extra or invalid.

    ``fields`` lists ``(path, error kind)`` pairs such as ``("sdp", "string_too_long")``; the
    offending values are never included.
    """

    code = ErrorCode.INVALID_FIELDS

    def __init__(self, type_name: str, fields: tuple[tuple[str, str], ...]) -> None:
        shown = ", ".join(f"{path}: {kind}" for path, kind in fields[:8])
        super().__init__(f"invalid {type_name!r}: {shown}")
        self.type_name = type_name
        self.fields = fields


class UnsupportedVersion(MessageError):
    """A ``hello`` asked for a protocol version this side does not speak."""

    code = ErrorCode.UNSUPPORTED_VERSION

    def __init__(self, got: int, supported: tuple[int, ...]) -> None:
        super().__init__(f"protocol version {got} not supported (supported: {list(supported)})")
        self.got = got
        self.supported = supported


class ProtocolViolation(SignalingError):
    """The peer sent a well-formed message that its role or the connection state forbids."""

    def __init__(self, code: ErrorCode, type_name: str, state: str, detail: str) -> None:
        super().__init__(f"{type_name!r} in state {state!r}: {detail}")
        self.code = code
        self.type_name = type_name
        self.state = state
        self.detail = detail


class LocalProtocolError(SignalingError):
    """Our own code tried to send a message the role or state forbids; nothing was changed."""

    def __init__(self, type_name: str, state: str, detail: str) -> None:
        super().__init__(f"cannot send {type_name!r} in state {state!r}: {detail}")
        self.type_name = type_name
        self.state = state
        self.detail = detail


class BusError(SignalingError):
    """The message bus failed."""


class BusClosed(BusError):
    """The bus or subscription was used after ``close()``."""


class SubscriptionOverflow(BusError):
    """A subscriber did not keep up; its subscription was cut off after ``limit`` queued messages."""

    def __init__(self, channel: str, limit: int) -> None:
        super().__init__(f"subscriber on {channel!r} fell {limit} messages behind")
        self.channel = channel
        self.limit = limit


class ClientError(SignalingError):
    """The client adapter failed."""


class ConnectionRejected(ClientError):
    """The office refused the connection for good; reconnecting would not help.

    ``close_code`` is the WebSocket close code (4401, 4403, 4409, …) or ``None`` when the HTTP
    handshake itself was refused (``http_status``).
    """

    def __init__(self, close_code: int | None, http_status: int | None = None) -> None:
        super().__init__(f"connection rejected (close code {close_code}, http status {http_status})")
        self.close_code = close_code
        self.http_status = http_status


class ClientClosed(ClientError):
    """The client was used after ``close()``."""


class OutboxFull(ClientError):
    """Too many messages are queued while the client is disconnected."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"outgoing queue full ({limit} messages)")
        self.limit = limit
