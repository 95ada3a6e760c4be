"""Relay policy: who may send which call message to whom. Pure functions, no I/O.

The office calls :func:`route` for every call-scoped message a client sends, with the sender's
authenticated identity and the call's two parties (from its own records, never from the
message). The answer is either :class:`Deliver` (to the other party) or :class:`Refuse` with an
error code; refusals are meant to be audited. Rules, in order:

1. only types in :data:`~signaling.connection.RELAYED` are forwarded (server-originated and
   connection-level types never are);
2. the sender's role must be allowed to originate the type (``hw.request`` only from agents,
   ``hw.result`` only from kiosks, …);
3. the message must name a call the office knows;
4. the sender must be that call's agent or that call's kiosk; the recipient is the other one.
"""

from __future__ import annotations

import dataclasses

from signaling.connection import ORIGINATORS, RELAYED
from signaling.errors import ErrorCode
from signaling.messages import BaseMessage, CallMessage, Role

__all__ = ["CallParties", "Deliver", "Party", "Refuse", "route"]


@dataclasses.dataclass(frozen=True)
class Party:
    """An authenticated participant: an agent or a kiosk and its id."""

    role: Role
    id: str

    def __post_init__(self) -> None:
        if self.role is Role.SERVER:
            raise ValueError("a party is an agent or a kiosk")


@dataclasses.dataclass(frozen=True)
class CallParties:
    """The two parties of one call, as the office recorded them."""

    agent_id: str
    kiosk_id: str

    @property
    def agent(self) -> Party:
        """The call's agent."""
        return Party(Role.AGENT, self.agent_id)

    @property
    def kiosk(self) -> Party:
        """The call's kiosk."""
        return Party(Role.KIOSK, self.kiosk_id)

    def includes(self, party: Party) -> bool:
        """Whether ``party`` is one of the two."""
        return party in (self.agent, self.kiosk)

    def other(self, party: Party) -> Party:
        """The party at the other end from ``party`` (which must be one of the two)."""
        if party == self.agent:
            return self.kiosk
        if party == self.kiosk:
            return self.agent
        raise ValueError("not a party of this call")


@dataclasses.dataclass(frozen=True)
class Deliver:
    """Forward the message to ``to``."""

    to: Party


@dataclasses.dataclass(frozen=True)
class Refuse:
    """Do not forward; answer with an ``error`` of ``code`` and audit the refusal."""

    code: ErrorCode
    detail: str


def route(sender: Party, message: BaseMessage, parties: CallParties | None) -> Deliver | Refuse:
    """Decide where a client's call message goes; ``parties`` is ``None`` for an unknown call."""
    if message.type not in RELAYED or not isinstance(message, CallMessage):
        return Refuse(ErrorCode.FORBIDDEN, f"{message.type} is not relayed")
    if message.type not in ORIGINATORS[sender.role]:
        return Refuse(ErrorCode.FORBIDDEN, f"{sender.role} may not send {message.type}")
    if parties is None:
        return Refuse(ErrorCode.UNKNOWN_CALL, "unknown call")
    if not parties.includes(sender):
        return Refuse(ErrorCode.NOT_A_PARTY, "sender is not a party of this call")
    return Deliver(parties.other(sender))
