"""Per-connection state machine: whole sequences on both sides, refusals, heartbeat, closing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling.connection import (
    TRANSITIONS,
    CloseCode,
    Closing,
    Connection,
    ConnState,
    Received,
    Refused,
    Side,
    allowed_events,
)
from signaling.errors import ErrorCode, LocalProtocolError
from signaling.messages import (
    CallAccept,
    CallInvite,
    CallState,
    CallStateName,
    Candidate,
    Description,
    Hello,
    HwRequest,
    Ping,
    Resume,
    Role,
    Welcome,
    parse,
    serialize,
)

CALL = "call-1"


def _server(role: Role = Role.KIOSK, **kwargs: float) -> Connection:
    return Connection(Side.SERVER, role, now=0.0, **kwargs)  # type: ignore[arg-type]


def _welcome(role: Role = Role.KIOSK) -> Welcome:
    return Welcome(connection_id="c1", role=role, party_id="p1")


def _state(state: CallStateName, call_id: str = CALL) -> CallState:
    return CallState(call_id=call_id, state=state)


def _errors(conn: Connection) -> list[dict[str, object]]:
    return [json.loads(t) for t in conn.data_to_send() if json.loads(t)["type"] == "error"]


def test_server_side_whole_call_sequence() -> None:
    """Server side walks awaiting_hello → ready → in_call → ready → closing → closed."""
    conn = _server()
    states = [conn.state]
    events = conn.receive_text(serialize(Hello()), 0.1)
    assert [type(e) for e in events] == [Received]
    states.append(conn.state)
    conn.send(_welcome())
    states.append(conn.state)
    conn.send(CallInvite(call_id=CALL, agent_id="a1", kiosk_id="p1"))
    states.append(conn.state)
    assert conn.receive_text(serialize(CallAccept(call_id=CALL)), 0.2)
    conn.send(_state(CallStateName.NEGOTIATING))
    states.append(conn.state)
    conn.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0"))
    assert conn.receive_text(serialize(Description(call_id=CALL, sdp_type="answer", sdp="v=0")), 0.3)
    conn.send(_state(CallStateName.CONNECTED))
    conn.send(_state(CallStateName.ENDED))
    states.append(conn.state)
    conn.close(CloseCode.NORMAL)
    states.append(conn.state)
    conn.connection_lost()
    states.append(conn.state)
    assert states == [
        ConnState.AWAITING_HELLO,
        ConnState.AWAITING_HELLO,
        ConnState.READY,
        ConnState.READY,
        ConnState.IN_CALL,
        ConnState.READY,
        ConnState.CLOSING,
        ConnState.CLOSED,
    ]
    assert conn.call_id is None


def test_client_side_sequence_with_resume() -> None:
    """Client side: hello, welcome, resume puts it in_call; call.state ended returns to ready."""
    conn = Connection(Side.CLIENT, Role.AGENT, now=0.0)
    seen = []
    conn.send(Hello())
    seen.append((conn.state, conn.call_id))
    conn.receive_text(serialize(_welcome(Role.AGENT)), 0.1)
    seen.append((conn.state, conn.call_id))
    conn.send(Resume(call_id=CALL, last_seq=3))
    seen.append((conn.state, conn.call_id))
    conn.send(HwRequest(call_id=CALL, request_id="r1", action="read_id_card"))
    conn.receive_text(serialize(_state(CallStateName.ENDED)), 0.2)
    seen.append((conn.state, conn.call_id))
    assert seen == [
        (ConnState.AWAITING_HELLO, None),
        (ConnState.READY, None),
        (ConnState.IN_CALL, CALL),
        (ConnState.READY, None),
    ]


def test_accept_puts_both_ends_in_the_call_so_the_offer_can_follow() -> None:
    """call.accept makes its call the active one on the kiosk's side (sent), the office's side of
    the kiosk's connection (received) and of the agent's (relayed): an offer may follow at once."""
    kiosk = Connection(Side.CLIENT, Role.KIOSK, now=0.0)
    kiosk.send(Hello())
    kiosk.receive_text(serialize(_welcome()), 0.1)
    with pytest.raises(LocalProtocolError):
        kiosk.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0"))
    office_kiosk, office_agent = _ready_server(Role.KIOSK), _ready_server(Role.AGENT)
    accept = kiosk.send(CallAccept(call_id=CALL))
    offer = kiosk.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0"))
    assert (kiosk.state, kiosk.call_id) == (ConnState.IN_CALL, CALL)
    events = office_kiosk.receive_text(accept, 0.2) + office_kiosk.receive_text(offer, 0.2)
    assert [type(e) for e in events] == [Received, Received]
    assert (office_kiosk.state, office_kiosk.call_id) == (ConnState.IN_CALL, CALL)
    office_agent.send(CallAccept(call_id=CALL))
    office_agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0"))
    assert (office_agent.state, office_agent.call_id) == (ConnState.IN_CALL, CALL)
    # Accepting another call makes that one active; the first one's frames are refused.
    office_kiosk.receive_text(serialize(CallAccept(call_id="call-2")), 0.3)
    events = office_kiosk.receive_text(serialize(Candidate(call_id=CALL, candidate=None)), 0.3)
    assert isinstance(events[0], Refused) and events[0].detail == "not the active call"
    assert office_kiosk.call_id == "call-2"


def test_server_answers_ping_with_pong_and_surfaces_nothing() -> None:
    """A ping is answered with a pong carrying its nonce; the application sees no event."""
    conn = _server()
    conn.receive_text(serialize(Hello()), 0.0)
    conn.send(_welcome())
    assert conn.receive_text(serialize(Ping(nonce=7)), 1.0) == []
    assert [json.loads(t) for t in conn.data_to_send()] == [{"type": "pong", "nonce": 7}]


def test_message_before_hello_closes_4400() -> None:
    """On the server, anything but hello/ping first is refused and the connection closes 4400."""
    conn = _server()
    events = conn.receive_text(serialize(CallAccept(call_id=CALL)), 0.0)
    assert isinstance(events[0], Refused)
    assert events[0].code is ErrorCode.NOT_ALLOWED
    assert events[1] == Closing(CloseCode.BAD_MESSAGE, "not_allowed")
    assert conn.state is ConnState.CLOSING
    assert _errors(conn)[0]["fatal"] is True


def test_unsupported_version_closes() -> None:
    """A hello with an unsupported protocol version gets a fatal error and a 4400 close."""
    conn = _server()
    events = conn.receive_text('{"type":"hello","protocol":3}', 0.0)
    assert events[0] == Refused(ErrorCode.UNSUPPORTED_VERSION, None, None, events[0].detail)  # type: ignore[union-attr]
    assert isinstance(events[1], Closing)
    assert _errors(conn)[0]["code"] == "unsupported_version"


def _ready_server(role: Role = Role.KIOSK) -> Connection:
    conn = _server(role)
    conn.receive_text(serialize(Hello()), 0.0)
    conn.send(_welcome(role))
    conn.data_to_send()
    return conn


def test_malformed_frame_gets_error_and_connection_stays() -> None:
    """A malformed frame gets a non-fatal error with the ref-less code; the state is unchanged."""
    conn = _ready_server()
    events = conn.receive_text("{not json", 1.0)
    assert [type(e) for e in events] == [Refused]
    assert conn.state is ConnState.READY
    (error,) = _errors(conn)
    assert error["code"] == "not_json"
    assert error["fatal"] is False


def test_forbidden_type_from_role_is_refused_with_ref() -> None:
    """A kiosk sending hw.request (an agent's message) is refused as forbidden, echoing its id."""
    conn = _ready_server(Role.KIOSK)
    conn.send(_state(CallStateName.NEGOTIATING))
    frame = serialize(HwRequest(id="m5", call_id=CALL, request_id="r", action="read_id_card"))
    events = conn.receive_text(frame, 1.0)
    assert events == [Refused(ErrorCode.FORBIDDEN, "hw.request", CALL, "kiosk may not send hw.request")]
    (error,) = _errors(conn)
    assert (error["code"], error["ref"], error["call_id"]) == ("forbidden", "m5", CALL)


def test_server_originated_type_from_client_is_forbidden() -> None:
    """A client may not send call.state or welcome."""
    conn = _ready_server(Role.AGENT)
    events = conn.receive_text(serialize(_state(CallStateName.CONNECTED)), 1.0)
    assert isinstance(events[0], Refused)
    assert events[0].code is ErrorCode.FORBIDDEN
    assert conn.state is ConnState.READY


def test_in_call_message_outside_call_is_not_allowed() -> None:
    """A description while ready (no active call) is refused as not_allowed; nothing changes."""
    conn = _ready_server(Role.AGENT)
    events = conn.receive_text(serialize(Description(call_id=CALL, sdp_type="offer", sdp="v=0")), 1.0)
    assert isinstance(events[0], Refused)
    assert events[0].code is ErrorCode.NOT_ALLOWED
    assert conn.state is ConnState.READY


def test_in_call_message_for_other_call_is_refused() -> None:
    """In a call, a candidate naming another call is refused."""
    conn = _ready_server(Role.AGENT)
    conn.send(_state(CallStateName.CONNECTED))
    events = conn.receive_text(serialize(Candidate(call_id="call-2", candidate=None)), 1.0)
    assert isinstance(events[0], Refused)
    assert events[0].detail == "not the active call"


def test_other_call_ending_keeps_active_call() -> None:
    """call.state ended for another call leaves the active call and in_call state alone."""
    conn = _ready_server(Role.AGENT)
    conn.send(_state(CallStateName.CONNECTED))
    conn.send(_state(CallStateName.ENDED, "call-0"))
    assert (conn.state, conn.call_id) == (ConnState.IN_CALL, CALL)


def test_local_illegal_send_raises_and_changes_nothing() -> None:
    """Sending an illegal message raises LocalProtocolError and leaves state and call alone."""
    conn = Connection(Side.CLIENT, Role.KIOSK, now=0.0)
    with pytest.raises(LocalProtocolError):
        conn.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0"))
    with pytest.raises(LocalProtocolError):
        conn.send(HwRequest(call_id=CALL, request_id="r", action="read_id_card"))
    assert (conn.state, conn.call_id) == (ConnState.AWAITING_HELLO, None)


def test_too_many_bad_frames_close_4400() -> None:
    """More than max_bad_frames refusals within the window close the connection with 4400."""
    conn = _ready_server()
    conn.max_bad_frames = 3
    for i in range(3):
        assert not any(isinstance(e, Closing) for e in conn.receive_text("x", float(i)))
    events = conn.receive_text("x", 3.0)
    assert Closing(CloseCode.BAD_MESSAGE, "too_many_errors") in events
    assert conn.receive_text(serialize(Ping()), 3.1) == []


def test_bad_frames_outside_window_are_forgotten() -> None:
    """Refusals spread wider than the window never add up to a close."""
    conn = _ready_server()
    conn.max_bad_frames = 2
    for i in range(10):
        assert not any(isinstance(e, Closing) for e in conn.receive_text("x", i * 20.0))


def test_client_heartbeat_pings_and_detects_dead_office() -> None:
    """The client pings every interval and closes 4408 after dead_after of silence."""
    conn = Connection(Side.CLIENT, Role.KIOSK, now=0.0, heartbeat_interval=1.0, dead_after=3.0)
    conn.send(Hello())
    conn.receive_text(serialize(_welcome()), 0.0)
    pings = []
    now = 0.0
    while True:
        now += conn.next_wakeup(now)
        events = conn.poll(now)
        pings += [parse(t) for t in conn.data_to_send()]
        if events:
            break
    assert events == [Closing(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]
    assert [p.nonce for p in pings] == [1, 2]  # type: ignore[attr-defined]
    assert now == pytest.approx(3.0)


def test_pong_keeps_client_alive_and_measures_rtt() -> None:
    """Pongs from the office keep the connection alive and yield a round-trip time."""
    conn = Connection(Side.CLIENT, Role.KIOSK, now=0.0, heartbeat_interval=1.0, dead_after=3.0)
    conn.send(Hello())
    conn.receive_text(serialize(_welcome()), 0.0)
    now = 0.0
    for _ in range(20):
        now += 1.0
        assert conn.poll(now) == []
        (ping,) = [parse(t) for t in conn.data_to_send()]
        assert conn.receive_text(json.dumps({"type": "pong", "nonce": ping.nonce}), now + 0.05) == []  # type: ignore[attr-defined]
    assert conn.heartbeat.last_rtt == pytest.approx(0.05)
    assert conn.state is ConnState.READY


def test_server_never_pings_but_times_out_silent_client() -> None:
    """The office side sends no pings and closes 4408 when the client is silent too long."""
    conn = _ready_server()
    assert conn.poll(5.9) == []
    assert conn.data_to_send() == []
    assert conn.poll(6.1) == [Closing(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]


def test_closed_connection_ignores_frames_and_close() -> None:
    """After the socket is lost, frames and timers are ignored, close is a no-op, lost is idempotent."""
    conn = _ready_server()
    conn.connection_lost()
    assert conn.receive_text(serialize(Ping()), 1.0) == []
    assert conn.poll(100.0) == []
    conn.close(CloseCode.NORMAL)
    conn.connection_lost()
    assert conn.state is ConnState.CLOSED
    assert conn.data_to_send() == []


def test_send_after_close_is_illegal() -> None:
    """Sending on a closing connection raises LocalProtocolError."""
    conn = _ready_server()
    conn.close(CloseCode.GOING_AWAY)
    with pytest.raises(LocalProtocolError):
        conn.send(_state(CallStateName.CONNECTED))
    assert conn.state is ConnState.CLOSING


def test_transition_table_shape() -> None:
    """The table has no way back to awaiting_hello and in-call types only in in_call."""
    assert all(
        target is not ConnState.AWAITING_HELLO or state is ConnState.AWAITING_HELLO
        for (state, _), target in TRANSITIONS.items()
    )
    assert "description" in allowed_events(ConnState.IN_CALL)
    assert "description" not in allowed_events(ConnState.READY)
    assert allowed_events(ConnState.CLOSED) == ["lost"]


_GOLDEN: dict[str, str] = {
    name: json.dumps(frame)
    for name, frame in json.loads(
        (Path(__file__).parent / "golden_messages.json").read_text(encoding="utf-8")
    ).items()
}


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(list(Side)),
    st.sampled_from([Role.AGENT, Role.KIOSK]),
    st.lists(st.tuples(st.sampled_from(["receive", "send"]), st.sampled_from(sorted(_GOLDEN))), max_size=25),
)
def test_random_sequences_keep_invariants(side: Side, role: Role, steps: list[tuple[str, str]]) -> None:
    """Any sequence of frames: receiving never raises; refusals and illegal sends change nothing."""
    conn = Connection(side, role, now=0.0)
    for i, (action, name) in enumerate(steps):
        before = (conn.state, conn.call_id)
        if action == "receive":
            events = conn.receive_text(_GOLDEN[name], float(i))
            if any(isinstance(e, Refused) for e in events) and not any(
                isinstance(e, Closing) for e in events
            ):
                assert (conn.state, conn.call_id) == before
            if any(isinstance(e, Closing) for e in events):
                assert conn.state is ConnState.CLOSING
        else:
            try:
                conn.send(parse(_GOLDEN[name]))
            except LocalProtocolError:
                assert (conn.state, conn.call_id) == before
        assert conn.state in set(ConnState)
        assert (conn.state is ConnState.IN_CALL) == (conn.call_id is not None) or conn.state in (
            ConnState.CLOSING,
            ConnState.CLOSED,
        )
        conn.data_to_send()
