"""Call lifecycle table, ICE/TURN credentials, and the call ⇄ queue wiring on every exit path:
decline, cancel, no answer, garbage session description, party lost (fake clock), reconnect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.testclient import WebSocketTestSession

from office.calls import (
    CALL_TRANSITIONS,
    IllegalCallTransition,
    call_next,
    ice_servers,
    process_call_timeouts,
)
from office.calls.lifecycle import run
from office.models import CallStatus, Office, Priority, Role
from office.queue import process_timeouts
from office.settings import Settings
from tests.office import test_calls_support as support
from tests.office.test_calls_support import CallRig, accept_call, expect, nothing_pending, send

rig, any_rig = support.rig, support.any_rig
C = CallStatus


def test_lifecycle_sequences() -> None:
    """Whole sequences of call states, including reconnect cycles and ending from every live state."""
    assert run(["accept", "connected", "lost", "connected", "lost", "connected", "end"]) == [
        C.CREATED,
        C.NEGOTIATING,
        C.CONNECTED,
        C.RECONNECTING,
        C.CONNECTED,
        C.RECONNECTING,
        C.CONNECTED,
        C.ENDED,
    ]
    for start in (C.CREATED, C.NEGOTIATING, C.CONNECTED, C.RECONNECTING):
        assert call_next(start, "end") is C.ENDED
    assert {s for s, _ in CALL_TRANSITIONS} == {C.CREATED, C.NEGOTIATING, C.CONNECTED, C.RECONNECTING}


@pytest.mark.parametrize(
    ("state", "event"),
    [
        ("ended", "end"),
        ("ended", "accept"),
        ("created", "connected"),
        ("negotiating", "accept"),
        ("created", "lost"),
        ("bogus", "end"),
    ],
)
def test_illegal_steps_raise(state: str, event: str) -> None:
    """Events the table does not allow raise IllegalCallTransition naming state and event."""
    with pytest.raises(IllegalCallTransition) as info:
        call_next(state, event)
    assert (info.value.state, info.value.event) == (state, event)


def test_ice_servers_use_coturn_rest_credentials() -> None:
    """STUN as given; TURN username <expiry>:<party>, credential base64(HMAC-SHA1(secret, username))."""
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    settings = Settings(
        stun_urls=["stun:turn.example:3478"],
        turn_urls=["turn:turn.example:3478?transport=udp", "turns:turn.example:5349"],
        turn_secret=SecretStr("s3cret"),
        turn_ttl_s=600,
    )
    stun, turn = ice_servers(settings, "kiosk-7", now)
    assert stun.urls == ("stun:turn.example:3478",) and stun.username is None
    expiry = int(now.timestamp()) + 600
    assert turn.username == f"{expiry}:kiosk-7"
    expected = base64.b64encode(hmac.new(b"s3cret", turn.username.encode(), hashlib.sha1).digest()).decode()
    assert turn.credential == expected
    assert ice_servers(Settings(), "kiosk-7", now) == []
    assert ice_servers(Settings(turn_urls=["turn:x"]), "kiosk-7", now) == []  # no secret: no TURN


def test_ice_servers_route_for_kiosk_and_agent(rig: CallRig) -> None:
    """Kiosks and agents get ICE servers (empty when none configured); the secret is never returned."""
    for client in (rig.kiosk, rig.agent):
        r = client.get("/api/calls/ice-servers")
        assert r.status_code == 200 and r.json() == {"ice_servers": [], "ttl_s": 3600}
    assert (
        rig.qh.staff(Role.TECHNICIAN).get("/api/calls/ice-servers").json()["error"]["code"] == "access_denied"
    )


def test_start_call_checks_the_ticket(rig: CallRig) -> None:
    """Only the agent holding an offered/ringing kiosk ticket may start its call, once."""
    ticket_id = rig.offered_ticket()
    other = rig.qh.agent()
    r = other.post("/api/calls", json={"ticket_id": ticket_id})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_your_ticket")
    r = rig.agent.post("/api/calls", json={"ticket_id": 10**9})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ticket_not_found")
    call_id = rig.start_call(ticket_id)
    assert rig.ticket(ticket_id).state == "ringing"
    r = rig.agent.post("/api/calls", json={"ticket_id": ticket_id})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "call_exists")
    assert rig.call(call_id)["state"] == "created"
    r = rig.agent.post("/api/calls", json={"ticket_id": ticket_id, "kiosk_id": 1})
    assert r.status_code == 422
    r = rig.kiosk.post(f"/api/calls/{call_id}/report", json={"state": "connected"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "illegal_transition")
    r = rig.kiosk.post(f"/api/calls/{call_id}/report", json={"state": "reconnecting"})
    assert (r.status_code, r.json()["state"]) == (200, "created")


def test_call_records_are_office_scoped(rig: CallRig) -> None:
    """Staff of another office get 404 for the call and an empty list; a non-party may not report."""
    ticket_id = rig.offered_ticket()
    call_id = rig.start_call(ticket_id)
    with rig.h.ctx.db() as s, s.begin():
        office = Office(code="T2", name="另一街道", name_en="Other")
        s.add(office)
        s.flush()
        other_office = office.id
    stranger = rig.qh.staff(Role.SUPERVISOR, rig.qh.new_user(Role.SUPERVISOR, other_office))
    r = stranger.get(f"/api/calls/{call_id}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "call_not_found")
    assert stranger.get("/api/calls").json() == []
    r = stranger.post(f"/api/calls/{call_id}/report", json={"state": "connected"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_a_party")
    r = rig.qh.kiosk().post(f"/api/calls/{call_id}/report", json={"state": "connected"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_a_party")
    assert [c["id"] for c in rig.agent.get("/api/calls").json()] == [call_id]
    assert [c["id"] for c in rig.qh.admin.get("/api/calls?state=created").json()] == [call_id]
    r = rig.kiosk.post(
        f"/api/calls/{call_id}/report",
        content=b'{"quality": {"rtt_ms": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_decline_takes_the_ring_timeout_path(rig: CallRig) -> None:
    """The kiosk declines: the call ends (declined) and the ticket is recalled as the queue rules say."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id = rig.offered_ticket()
        call_id = rig.start_call(ticket_id)
        expect(kws, "call.invite", call_id=call_id)
        expect(aws, "call.invite", call_id=call_id)
        send(kws, {"type": "call.decline", "call_id": call_id, "reason": "busy"})
        expect(aws, "call.decline", reason="busy")
        expect(aws, "call.state", state="ended", reason="busy")
        expect(kws, "call.state", state="ended", reason="busy")
    ticket = rig.ticket(ticket_id)
    assert (ticket.state, ticket.recall_count, ticket.priority) == ("recalled", 1, Priority.RECALLED)
    record = rig.call(call_id)
    assert (record["end_reason"], record["ended_by"], record["duration_ms"]) == ("busy", "kiosk", 0)


def test_cancel_puts_the_ticket_back_in_place(rig: CallRig) -> None:
    """The agent cancels before the answer: the ticket goes back to waiting, no recall charged."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id = rig.offered_ticket()
        call_id = rig.start_call(ticket_id)
        expect(kws, "call.invite")
        expect(aws, "call.invite")
        send(aws, {"type": "call.cancel", "call_id": call_id})
        expect(kws, "call.cancel", reason="cancelled")
        expect(kws, "call.state", state="ended", reason="cancelled")
        expect(aws, "call.state", state="ended", reason="cancelled")
    ticket = rig.ticket(ticket_id)
    assert (ticket.state, ticket.recall_count) == ("waiting", 0)


def test_no_answer_follows_the_queue_ring_timeout(rig: CallRig) -> None:
    """Nobody accepts: the queue's sweep recalls the ticket and the call sweep ends the call (no_answer)."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id = rig.offered_ticket()
        rig.start_call(ticket_id)
        expect(kws, "call.invite")
        expect(aws, "call.invite")
        assert process_call_timeouts(rig.h.ctx) == 0
        rig.h.clock.advance(seconds=21)
        assert process_timeouts(rig.h.ctx) == 1
        assert process_call_timeouts(rig.h.ctx) == 1
        expect(kws, "call.state", state="ended", reason="no_answer")
        expect(aws, "call.state", state="ended", reason="no_answer")
        assert process_call_timeouts(rig.h.ctx) == 0
    assert rig.ticket(ticket_id).state == "recalled"


def test_garbage_description_fails_the_call_and_requeues(any_rig: CallRig) -> None:
    """The receiver of an unusable SDP ends the call (negotiation_failed): ticket to the queue front."""
    rig = any_rig
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id, call_id = accept_call(rig, kws, aws)
        send(aws, {"type": "description", "call_id": call_id, "sdp_type": "offer", "sdp": "\x01garbage"})
        expect(kws, "description", sdp="\x01garbage")
        send(kws, {"type": "call.end", "call_id": call_id, "reason": "negotiation_failed"})
        expect(aws, "call.end", reason="negotiation_failed")
        expect(aws, "call.state", state="ended", reason="negotiation_failed")
        expect(kws, "call.state", state="ended", reason="negotiation_failed")
        nothing_pending(aws)
    ticket = rig.ticket(ticket_id)
    assert (ticket.state, ticket.priority, ticket.agent_id) == ("transferred", Priority.RECALLED, None)
    assert rig.call(call_id)["end_reason"] == "negotiation_failed"
    assert rig.agent.get("/api/queue/agents").json()[0]["state"] == "wrap_up"


def _connected(rig: CallRig, kws: WebSocketTestSession, aws: WebSocketTestSession, call_id: str) -> None:
    r = rig.agent.post(f"/api/calls/{call_id}/report", json={"state": "connected"})
    assert r.status_code == 200, r.text
    expect(aws, "call.state", state="connected")
    expect(kws, "call.state", state="connected")


def test_party_lost_ends_the_call_and_requeues(rig: CallRig) -> None:
    """A kiosk gone past the grace period: reconnecting, then ended party_lost, ticket to the front."""
    with rig.agent_socket() as aws:
        with rig.kiosk_socket() as kws:
            ticket_id, call_id = accept_call(rig, kws, aws)
            _connected(rig, kws, aws, call_id)
            kws.close(1000)  # the socket breaks; the office notices (TestClient would cancel on exit)
            expect(aws, "call.state", state="reconnecting", reason="party_away")
        assert rig.call_row(call_id).kiosk_lost_at == rig.h.clock.now()
        rig.h.clock.advance(seconds=29)
        assert process_call_timeouts(rig.h.ctx) == 0
        rig.h.clock.advance(seconds=2)
        assert process_call_timeouts(rig.h.ctx) == 1
        expect(aws, "call.state", state="ended", reason="party_lost")
    record = rig.call(call_id)
    assert (record["state"], record["end_reason"], record["ended_by"]) == ("ended", "party_lost", "system")
    assert record["duration_ms"] == 31_000
    ticket = rig.ticket(ticket_id)
    assert (ticket.state, ticket.priority) == ("transferred", Priority.RECALLED)


def test_reconnect_within_grace_keeps_the_call(rig: CallRig) -> None:
    """The kiosk comes back and resumes within the grace period: connected again, nothing ended."""
    with rig.agent_socket() as aws:
        with rig.kiosk_socket() as kws:
            ticket_id, call_id = accept_call(rig, kws, aws)
            _connected(rig, kws, aws, call_id)
            kws.close(1000)
            expect(aws, "call.state", state="reconnecting")
        rig.h.clock.advance(seconds=20)
        with rig.kiosk_socket() as kws:
            expect(aws, "call.state", state="connected")
            expect(kws, "call.state", state="connected")
            send(kws, {"type": "resume", "call_id": call_id, "last_seq": 10})
            expect(kws, "call.state", state="connected")
            rig.h.clock.advance(seconds=20)
            assert process_call_timeouts(rig.h.ctx) == 0
            nothing_pending(aws)
            record = rig.call(call_id)
            assert record["reconnects"] == 1 and record["state"] == "connected"
            assert rig.ticket(ticket_id).state == "serving"


def test_kiosks_online_follows_presence(rig: CallRig) -> None:
    """Staff see which of their office's kiosks have a signaling connection now."""
    assert rig.agent.get("/api/calls/kiosks-online").json() == {"kiosk_ids": []}
    with rig.kiosk_socket():
        assert rig.agent.get("/api/calls/kiosks-online").json() == {"kiosk_ids": [rig.kiosk_id]}
    assert rig.agent.get("/api/calls/kiosks-online").json() == {"kiosk_ids": []}


def test_concurrent_starts_make_one_call(any_rig: CallRig) -> None:
    """Two simultaneous starts for one ticket (double click, two tabs): exactly one call is created."""
    rig = any_rig
    ticket_id = rig.offered_ticket()
    tabs = [rig.qh.staff(Role.AGENT, rig.agent_id) for _ in range(2)]
    barrier = threading.Barrier(len(tabs))

    def start(client: TestClient) -> tuple[int, str]:
        barrier.wait()
        r = client.post("/api/calls", json={"ticket_id": ticket_id})
        return r.status_code, r.json().get("id") or r.json()["error"]["code"]

    with ThreadPoolExecutor(max_workers=len(tabs)) as pool:
        results = sorted(pool.map(start, tabs))
    assert [status for status, _ in results] == [201, 409]
    assert results[1][1] == "call_exists"
    assert [c["id"] for c in rig.agent.get("/api/calls").json()] == [results[0][1]]
    assert rig.ticket(ticket_id).state == "ringing"


def test_call_next_rings_the_kiosk_in_one_request(any_rig: CallRig) -> None:
    """POST /api/calls/next offers the next ticket, rings it, creates the call and sends call.invite to
    both parties; the kiosk's accept then answers the ticket (serving) and goes negotiating."""
    rig = any_rig
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        r = rig.agent.post("/api/calls/next")
        assert (r.status_code, r.json()) == (200, {"ticket": None, "call": None, "call_error": None})
        taken = rig.qh.take(rig.kiosk)
        r = rig.agent.post("/api/calls/next")
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["ticket"]["id"], out["ticket"]["state"], out["call_error"]) == (
            taken["id"],
            "ringing",
            None,
        )
        call = out["call"]
        assert (call["state"], call["ticket_id"], call["agent_id"]) == ("created", taken["id"], rig.agent_id)
        expect(kws, "call.invite", call_id=call["id"], ticket=taken["number"])
        expect(aws, "call.invite", call_id=call["id"])
        send(kws, {"type": "call.accept", "call_id": call["id"]})
        expect(aws, "call.accept", call_id=call["id"])
        expect(aws, "call.state", call_id=call["id"], state="negotiating")
        expect(kws, "call.state", call_id=call["id"], state="negotiating")
    assert rig.ticket(taken["id"]).state == "serving"
    assert rig.call(call["id"])["state"] == "negotiating"
    r = rig.agent.post("/api/calls/next")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "agent_not_available")


def test_call_next_for_a_ticket_without_kiosk_offers_it_without_a_call(rig: CallRig) -> None:
    """A ticket issued by staff has no kiosk to ring: call next offers it and says why no call started."""
    taken = rig.qh.take(rig.qh.staff(Role.AGENT))
    r = rig.agent.post("/api/calls/next")
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["ticket"]["id"], out["ticket"]["state"]) == (taken["id"], "offered")
    assert (out["call"], out["call_error"]) == (None, "no_kiosk")
    assert rig.agent.get("/api/calls").json() == []


def test_accept_for_a_ticket_that_moved_on_ends_the_call(rig: CallRig) -> None:
    """The resident left while the kiosk was rung: the accept answers nothing, the call ends
    ticket_changed on both sides and the ticket stays left."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id = rig.offered_ticket()
        call_id = rig.start_call(ticket_id)
        expect(kws, "call.invite", call_id=call_id)
        expect(aws, "call.invite", call_id=call_id)
        r = rig.kiosk.post(f"/api/queue/tickets/{ticket_id}/leave", json={"reason": "left"})
        assert r.status_code == 200, r.text
        send(kws, {"type": "call.accept", "call_id": call_id})
        expect(aws, "call.accept", call_id=call_id)
        expect(aws, "call.state", call_id=call_id, state="ended", reason="ticket_changed")
        expect(kws, "call.state", call_id=call_id, state="ended", reason="ticket_changed")
    record = rig.call(call_id)
    assert (record["state"], record["end_reason"], record["negotiating_at"]) == (
        "ended",
        "ticket_changed",
        None,
    )
    assert rig.ticket(ticket_id).state == "left"


def test_relayed_messages_look_the_call_up_once(rig: CallRig, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call's parties never change: the hub looks them up once, not for every description and
    candidate it relays (each look-up is a database read in a worker thread)."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        _, call_id = accept_call(rig, kws, aws)
        hub = rig.h.ctx.hub
        assert hub is not None
        looked_up: list[str] = []
        lookup = hub.calls.lookup

        async def counting(call_id: str) -> object:
            looked_up.append(call_id)
            return await lookup(call_id)

        monkeypatch.setattr(hub.calls, "lookup", counting)
        send(
            kws,
            {
                "type": "description",
                "call_id": call_id,
                "generation": 0,
                "sdp_type": "offer",
                "sdp": "v=0\r\n",
            },
        )
        expect(aws, "description", call_id=call_id)
        for n in range(3):
            candidate = {"candidate": f"candidate:{n} 1 udp 1 127.0.0.1 {4000 + n} typ host", "sdp_mid": "0"}
            send(aws, {"type": "candidate", "call_id": call_id, "generation": 0, "candidate": candidate})
            expect(kws, "candidate", call_id=call_id)
        send(kws, {"type": "call.end", "call_id": "call-unknown", "reason": "completed"})
        expect(kws, "error", code="unknown_call")
    assert looked_up and set(looked_up) == {"call-unknown"}  # the call's parties were known since its accept


def test_a_kiosk_that_connects_while_rung_gets_the_invite(any_rig: CallRig) -> None:
    """The call was started while the kiosk was off signaling: on connecting, it is sent the invite
    (to it alone) and the call goes on; once accepted, a reconnect sends nothing again."""
    with any_rig.agent_socket() as aws:
        ticket_id = any_rig.offered_ticket()
        call_id = any_rig.start_call(ticket_id)
        expect(aws, "call.invite", call_id=call_id)
        with any_rig.kiosk_socket() as kws:
            invite = expect(kws, "call.invite", call_id=call_id, agent_id=f"agent-{any_rig.agent_id}")
            assert invite["kiosk_id"] == f"kiosk-{any_rig.kiosk_id}" and invite["ticket"]
            nothing_pending(aws)
            send(kws, {"type": "call.accept", "call_id": call_id})
            expect(aws, "call.accept", call_id=call_id)
            expect(aws, "call.state", call_id=call_id, state="negotiating")
            expect(kws, "call.state", call_id=call_id, state="negotiating")
        with any_rig.kiosk_socket() as kws:
            nothing_pending(kws)
        assert any_rig.ticket(ticket_id).state == "serving"


def test_a_second_accept_changes_nothing(rig: CallRig) -> None:
    """A re-sent invite can cross the kiosk's first accept: the second accept is a no-op (no error,
    no second answer of the ticket, no state message)."""
    with rig.agent_socket() as aws, rig.kiosk_socket() as kws:
        ticket_id, call_id = accept_call(rig, kws, aws)
        send(kws, {"type": "call.accept", "call_id": call_id})
        expect(aws, "call.accept", call_id=call_id)
        nothing_pending(kws)
        nothing_pending(aws)
        assert rig.call_row(call_id).state == "negotiating"
        assert rig.ticket(ticket_id).state == "serving"
