"""Two office instances sharing the database and Redis: the kiosk on one, the agent on the other,
and the call's messages cross (invite, accept, descriptions, states, end); an agent whose instance
goes away resumes the call on the other one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from office.app import create_app
from office.auth import SESSION_COOKIE
from office.clock import FakeClock
from tests.conftest import TestDatabase, make_settings, require_redis
from tests.office.conftest import build_harness
from tests.office.test_calls_support import WS, CallRig, build_rig, expect, hello, nothing_pending, send

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@pytest.fixture
def pair(database: TestDatabase, clock: FakeClock) -> Iterator[tuple[CallRig, TestClient]]:
    """A rig on instance A and a client of instance B (own engine), both on the same Redis."""
    url = require_redis()
    h = build_harness(database, clock, bus_url=url)
    rig = build_rig(h)
    engine_b = database.new_engine(pool_size=5)
    app_b = create_app(make_settings(database, bus_url=url), clock=clock, engine=engine_b)
    client_b = TestClient(app_b, raise_server_exceptions=False)
    client_b.__enter__()
    try:
        yield rig, client_b
    finally:
        client_b.__exit__(None, None, None)
        for c in h.clients:
            c.__exit__(None, None, None)
        engine_b.dispose()


def test_kiosk_on_one_instance_agent_on_the_other(pair: tuple[CallRig, TestClient]) -> None:
    """Invite, accept, offer/answer, connected and end cross between instances A and B."""
    rig, b = pair
    cookie = {"Cookie": f"{SESSION_COOKIE}={rig.agent_cookie()}"}
    b.cookies.set(SESSION_COOKIE, rig.agent_cookie())
    b.headers["X-CSRF-Token"] = str(rig.agent.headers["X-CSRF-Token"])
    with rig.kiosk_socket() as kws, b.websocket_connect(WS, headers=cookie) as aws:
        welcome_b = hello(aws)
        send(kws, {"type": "ping", "nonce": 1})
        expect(kws, "pong")
        t = rig.qh.take(rig.kiosk)
        assert b.post("/api/queue/call-next").json()["ticket"]["id"] == t["id"]
        r = b.post("/api/calls", json={"ticket_id": t["id"]})
        assert r.status_code == 201, r.text
        call_id = r.json()["id"]
        expect(kws, "call.invite", call_id=call_id, agent_id=welcome_b["party_id"])
        expect(aws, "call.invite", call_id=call_id)
        send(kws, {"type": "call.accept", "call_id": call_id})
        expect(aws, "call.accept")
        expect(aws, "call.state", state="negotiating")
        expect(kws, "call.state", state="negotiating")
        send(aws, {"type": "description", "call_id": call_id, "sdp_type": "offer", "sdp": OFFER})
        expect(kws, "description", sdp_type="offer", sdp=OFFER)
        send(kws, {"type": "description", "call_id": call_id, "sdp_type": "answer", "sdp": OFFER})
        expect(aws, "description", sdp_type="answer")
        assert rig.kiosk.post(f"/api/calls/{call_id}/report", json={"state": "connected"}).status_code == 200
        expect(aws, "call.state", state="connected")
        expect(kws, "call.state", state="connected")
        send(kws, {"type": "call.end", "call_id": call_id, "reason": "completed"})
        expect(aws, "call.end", reason="completed")
        expect(aws, "call.state", state="ended")
        expect(kws, "call.state", state="ended")
        nothing_pending(kws)
    assert b.get(f"/api/calls/{call_id}").json()["end_reason"] == "completed"
    assert rig.ticket(t["id"]).state == "serving"


def test_agent_resumes_on_the_other_instance(pair: tuple[CallRig, TestClient]) -> None:
    """The agent's instance stops mid-call; on the other instance resume replays what it missed."""
    rig, b = pair
    cookie = {"Cookie": f"{SESSION_COOKIE}={rig.agent_cookie()}"}
    with rig.kiosk_socket() as kws:
        with b.websocket_connect(WS, headers=cookie) as aws:
            hello(aws)
            t = rig.qh.take(rig.kiosk)
            assert rig.agent.post("/api/queue/call-next").json()["ticket"]["id"] == t["id"]
            call_id = rig.start_call(t["id"])
            expect(kws, "call.invite")
            last_seq = expect(aws, "call.invite")["seq"]
            send(kws, {"type": "call.accept", "call_id": call_id})
            expect(kws, "call.state", state="negotiating")
            last_seq = max(last_seq, expect(aws, "call.accept")["seq"])
            aws.close(1001)  # instance B goes away (its socket breaks)
        send(kws, {"type": "description", "call_id": call_id, "sdp_type": "answer", "sdp": OFFER})
        nothing_pending(kws)
        with rig.agent_socket() as aws:
            send(aws, {"type": "resume", "call_id": call_id, "last_seq": last_seq})
            replayed = [expect(aws, "call.state", state="negotiating"), expect(aws, "description")]
            assert replayed[1]["sdp"] == OFFER
            assert expect(aws, "call.state", state="negotiating")["seq"] > replayed[1]["seq"]
    record = rig.call_row(call_id)
    assert record.state in ("negotiating", "reconnecting") and record.end_reason == ""
    assert rig.ticket(t["id"]).state == "serving"
