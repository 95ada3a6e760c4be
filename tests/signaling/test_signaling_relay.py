"""Relay policy: the (type, sender) table and party checks."""

from __future__ import annotations

import pytest

from signaling.connection import RELAYED
from signaling.errors import ErrorCode
from signaling.messages import (
    MESSAGE_TYPES,
    BaseMessage,
    CallAccept,
    CallCancel,
    CallDecline,
    CallEnd,
    CallInvite,
    CallState,
    Candidate,
    Description,
    HwProgress,
    HwRequest,
    HwResult,
    Ping,
    Resume,
    Role,
)
from signaling.relay import CallParties, Deliver, Party, Refuse, route

PARTIES = CallParties(agent_id="agent-1", kiosk_id="kiosk-1")
AGENT = Party(Role.AGENT, "agent-1")
KIOSK = Party(Role.KIOSK, "kiosk-1")
OTHER_AGENT = Party(Role.AGENT, "agent-2")
OTHER_KIOSK = Party(Role.KIOSK, "kiosk-2")
C = "call-1"

SAMPLES: dict[str, BaseMessage] = {
    "call.accept": CallAccept(call_id=C),
    "call.decline": CallDecline(call_id=C),
    "call.cancel": CallCancel(call_id=C),
    "call.end": CallEnd(call_id=C),
    "description": Description(call_id=C, sdp_type="offer", sdp="v=0"),
    "candidate": Candidate(call_id=C, candidate=None),
    "hw.request": HwRequest(call_id=C, request_id="r", action="read_id_card"),
    "hw.progress": HwProgress(call_id=C, request_id="r", stage="reading"),
    "hw.result": HwResult(call_id=C, request_id="r", outcome="consent_refused"),
    "call.invite": CallInvite(call_id=C, agent_id="agent-1", kiosk_id="kiosk-1"),
    "call.state": CallState(call_id=C, state="connected"),
    "resume": Resume(call_id=C),
    "ping": Ping(),
}

# (type, sender) -> expected outcome: a Party to deliver to, or an ErrorCode.
TABLE: list[tuple[str, Party, Party | ErrorCode]] = [
    ("call.accept", KIOSK, AGENT),
    ("call.accept", AGENT, ErrorCode.FORBIDDEN),
    ("call.decline", KIOSK, AGENT),
    ("call.decline", AGENT, ErrorCode.FORBIDDEN),
    ("call.cancel", AGENT, KIOSK),
    ("call.cancel", KIOSK, ErrorCode.FORBIDDEN),
    ("call.end", AGENT, KIOSK),
    ("call.end", KIOSK, AGENT),
    ("description", AGENT, KIOSK),
    ("description", KIOSK, AGENT),
    ("candidate", AGENT, KIOSK),
    ("candidate", KIOSK, AGENT),
    ("hw.request", AGENT, KIOSK),
    ("hw.request", KIOSK, ErrorCode.FORBIDDEN),
    ("hw.progress", KIOSK, AGENT),
    ("hw.progress", AGENT, ErrorCode.FORBIDDEN),
    ("hw.result", KIOSK, AGENT),
    ("hw.result", AGENT, ErrorCode.FORBIDDEN),
    ("call.invite", AGENT, ErrorCode.FORBIDDEN),
    ("call.state", KIOSK, ErrorCode.FORBIDDEN),
    ("resume", KIOSK, ErrorCode.FORBIDDEN),
    ("ping", AGENT, ErrorCode.FORBIDDEN),
    ("description", OTHER_AGENT, ErrorCode.NOT_A_PARTY),
    ("description", OTHER_KIOSK, ErrorCode.NOT_A_PARTY),
    ("hw.request", OTHER_AGENT, ErrorCode.NOT_A_PARTY),
    ("hw.result", OTHER_KIOSK, ErrorCode.NOT_A_PARTY),
    ("call.end", OTHER_KIOSK, ErrorCode.NOT_A_PARTY),
]


@pytest.mark.parametrize(("type_name", "sender", "expected"), TABLE)
def test_relay_table(type_name: str, sender: Party, expected: Party | ErrorCode) -> None:
    """Each (type, sender) pair is delivered to the other party or refused with the tabled code."""
    decision = route(sender, SAMPLES[type_name], PARTIES)
    if isinstance(expected, Party):
        assert decision == Deliver(expected)
    else:
        assert isinstance(decision, Refuse)
        assert decision.code is expected


def test_every_relayed_type_is_in_the_table() -> None:
    """The table covers every relayed type and every type exists."""
    assert {t for t, _, _ in TABLE} >= RELAYED
    assert set(SAMPLES) <= set(MESSAGE_TYPES)


@pytest.mark.parametrize("type_name", sorted(RELAYED))
def test_unknown_call_is_refused(type_name: str) -> None:
    """A message for a call the office does not know is refused for either party."""
    for sender in (AGENT, KIOSK):
        decision = route(sender, SAMPLES[type_name], None)
        assert isinstance(decision, Refuse)
        assert decision.code in (ErrorCode.UNKNOWN_CALL, ErrorCode.FORBIDDEN)


def test_same_id_with_other_role_is_not_a_party() -> None:
    """A kiosk whose id equals the call's agent id is still not the agent."""
    parties = CallParties(agent_id="x1", kiosk_id="k1")
    decision = route(Party(Role.KIOSK, "x1"), SAMPLES["description"], parties)
    assert decision == Refuse(ErrorCode.NOT_A_PARTY, "sender is not a party of this call")


def test_server_is_not_a_party() -> None:
    """Party refuses the server role; CallParties.other refuses strangers."""
    with pytest.raises(ValueError, match="agent or a kiosk"):
        Party(Role.SERVER, "office")
    with pytest.raises(ValueError, match="not a party"):
        PARTIES.other(OTHER_AGENT)
