"""``/ws/signaling`` in process: authentication at the upgrade, a whole call between a kiosk and an
agent through the office, relay refusals (audited), bad frames isolated to their connection."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import WebSocketDenialResponse

from office.auth import resolve_kiosk
from office.models import CallEvent, Kiosk, Role
from tests.office import test_calls_support as support
from tests.office.test_calls_support import (
    WS,
    CallRig,
    accept_call,
    expect,
    hello,
    nothing_pending,
    send,
)

rig, any_rig = support.rig, support.any_rig

OFFER = "v=0\r\no=- 46117314 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def _denied(rig: CallRig, headers: dict[str, str]) -> int:
    with pytest.raises(WebSocketDenialResponse) as info, rig.ws.websocket_connect(WS, headers=headers):
        pass
    status: int = info.value.status_code
    return status


def test_upgrade_refusals_are_http_errors_and_audited(rig: CallRig) -> None:
    """No credential, a bad or revoked token, a non-calling role, a foreign origin: refused, audited."""
    assert _denied(rig, {}) == 401
    assert _denied(rig, {"Authorization": "Bearer dk_not-a-real-token"}) == 401
    assert _denied(rig, {"Authorization": "Basic Zm9vOmJhcg=="}) == 401
    tech = rig.qh.staff(Role.TECHNICIAN)
    assert _denied(rig, {"Cookie": f"doorstep_session={rig.agent_cookie(tech)}"}) == 403
    foreign = {"Cookie": f"doorstep_session={rig.agent_cookie()}", "Origin": "https://evil.example"}
    assert _denied(rig, foreign) == 403
    revoked = rig.qh.kiosk_token()
    kiosk = resolve_kiosk(rig.h.ctx, revoked)
    assert kiosk is not None
    assert rig.qh.admin.post(f"/api/kiosks/{kiosk.id}/revoke").status_code == 200
    assert _denied(rig, {"Authorization": f"Bearer {revoked}"}) == 401
    codes = [(e.details["code"], e.success) for e in rig.refusals()]
    assert codes == [
        ("unauthenticated", False),
        ("unauthenticated", False),
        ("unauthenticated", False),
        ("role_takes_no_calls", False),
        ("foreign_origin", False),
        ("unauthenticated", False),
    ]
    assert all(revoked not in str(e.details) for e in rig.refusals())


def test_welcome_names_the_party_and_stamps_the_kiosk(rig: CallRig) -> None:
    """Kiosk and agent are welcomed as kiosk-<id> / agent-<user id>; the kiosk's last-seen is stamped."""
    with rig.kiosk_socket() as kws:
        send(kws, {"type": "ping", "nonce": 1})
        expect(kws, "pong", nonce=1)
    with rig.ws.websocket_connect(WS, headers={"Authorization": f"Bearer {rig.kiosk_token}"}) as ws:
        welcome = hello(ws)
        assert (welcome["role"], welcome["party_id"]) == ("kiosk", f"kiosk-{rig.kiosk_id}")
    cookie = {"Cookie": f"doorstep_session={rig.agent_cookie()}"}
    with rig.ws.websocket_connect(WS, headers=cookie) as ws:
        welcome = hello(ws)
        assert (welcome["role"], welcome["party_id"]) == ("agent", f"agent-{rig.agent_id}")
    with rig.h.ctx.read_db() as s:
        seen = s.scalar(select(Kiosk.last_seen_at).where(Kiosk.id == rig.kiosk_id))
    assert seen == rig.h.clock.now()


def test_whole_call_through_the_office(any_rig: CallRig) -> None:
    """invite → accept → offer/answer/candidates relayed → connected → end: a full call record."""
    rig = any_rig
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id, call_id = accept_call(rig, kws, aws)
        assert rig.ticket(ticket_id).state == "serving"
        offer = {"type": "description", "call_id": call_id, "sdp_type": "offer", "sdp": OFFER}
        send(aws, offer)
        got = expect(kws, "description", sdp=OFFER, sdp_type="offer")
        assert got["seq"] >= 1
        send(kws, {"type": "description", "call_id": call_id, "sdp_type": "answer", "sdp": OFFER})
        expect(aws, "description", sdp_type="answer")
        cand = {"candidate": "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host", "sdp_mid": "0"}
        send(aws, {"type": "candidate", "call_id": call_id, "candidate": cand})
        assert expect(kws, "candidate")["candidate"]["candidate"] == cand["candidate"]
        send(aws, {"type": "candidate", "call_id": call_id, "candidate": None})
        assert expect(kws, "candidate")["candidate"] is None
        rig.h.clock.advance(seconds=3)
        r = rig.kiosk.post(
            f"/api/calls/{call_id}/report",
            json={"state": "connected", "quality": {"rtt_ms": 40, "packet_loss_pct": 0.5, "freezes": 1}},
        )
        assert r.status_code == 200, r.text
        expect(aws, "call.state", state="connected")
        expect(kws, "call.state", state="connected")
        r = rig.agent.post(f"/api/calls/{call_id}/report", json={"quality": {"rtt_ms": 60, "freezes": 2}})
        assert r.status_code == 200 and r.json()["state"] == "connected"
        rig.h.clock.advance(minutes=2)
        send(aws, {"type": "call.end", "call_id": call_id, "reason": "completed"})
        expect(kws, "call.end", reason="completed")
        expect(kws, "call.state", state="ended", reason="completed")
        expect(aws, "call.state", state="ended", reason="completed")
    record = rig.call(call_id)
    assert (
        record["state"] == "ended" and record["end_reason"] == "completed" and record["ended_by"] == "agent"
    )
    assert record["setup_ms"] == 3000 and record["duration_ms"] == 120_000
    assert record["quality"] == {
        "samples": 2.0,
        "rtt_ms_max": 60.0,
        "rtt_ms_mean": 50.0,
        "rtt_ms_n": 2.0,
        "packet_loss_pct_max": 0.5,
        "packet_loss_pct_mean": 0.5,
        "packet_loss_pct_n": 1.0,
        "freezes": 3.0,
    }
    assert rig.ticket(ticket_id).state == "serving"  # the agent completes it (case notes, wrap-up)
    with rig.h.ctx.read_db() as s:
        steps = [
            (e.event, e.to_state)
            for e in s.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id))
        ]
    assert steps == [
        ("create", "created"),
        ("accept", "negotiating"),
        ("connected", "connected"),
        ("end", "ended"),
    ]


def test_a_third_party_is_refused_and_audited(rig: CallRig) -> None:
    """Another kiosk's call.end / resume for the call is refused (not_a_party), audited, not applied."""
    other_token = rig.qh.kiosk_token()
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws, rig.kiosk_socket(other_token) as intruder:
        _, call_id = accept_call(rig, kws, aws)
        send(intruder, {"type": "call.end", "id": "x1", "call_id": call_id, "reason": "completed"})
        error = expect(intruder, "error", code="not_a_party", ref="x1")
        assert error["fatal"] is False
        send(intruder, {"type": "resume", "call_id": call_id, "last_seq": 0})
        expect(intruder, "call.state", state="ended", reason="not_a_party")
        nothing_pending(kws)
        nothing_pending(aws)
        assert rig.call_row(call_id).state == "negotiating"
    refused = [(e.actor_type, e.details["code"], e.target_id) for e in rig.refusals()]
    assert [(a, c) for a, c, _ in refused] == [("kiosk", "not_a_party"), ("kiosk", "not_a_party")]
    assert {t for _, _, t in refused} == {call_id}


def test_unknown_call_and_wrong_role_are_refused(rig: CallRig) -> None:
    """A kiosk may not cancel; an agent's message for an unknown call is refused; both audited."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        _, call_id = accept_call(rig, kws, aws)
        send(kws, {"type": "call.cancel", "id": "c1", "call_id": call_id})
        expect(kws, "error", code="forbidden", ref="c1")
        send(aws, {"type": "call.end", "id": "e1", "call_id": "call-nope"})
        expect(aws, "error", code="unknown_call", ref="e1")
        nothing_pending(kws)
        assert rig.call_row(call_id).state == "negotiating"
    assert [e.details["code"] for e in rig.refusals()] == ["forbidden", "unknown_call"]


def test_bad_frames_get_errors_without_disturbing_others(rig: CallRig) -> None:
    """Malformed, oversized, binary and unknown frames get errors; the other socket is unaffected."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        _, call_id = accept_call(rig, kws, aws)
        kws.send_text("{not json")
        expect(kws, "error", code="not_json")
        kws.send_text(
            '{"type":"description","call_id":"'
            + call_id
            + '","sdp_type":"offer","sdp":"'
            + "a" * 70_000
            + '"}'
        )
        assert expect(kws, "error")["code"] == "too_large"
        kws.send_bytes(b"\x00\xff binary")
        assert expect(kws, "error")["type"] == "error"
        send(kws, {"type": "teleport", "call_id": call_id})
        expect(kws, "error", code="unknown_type")
        send(kws, {"type": "call.accept", "call_id": call_id, "extra": 1})
        expect(kws, "error", code="invalid_fields")
        send(aws, {"type": "description", "call_id": call_id, "sdp_type": "offer", "sdp": OFFER})
        expect(kws, "description", sdp=OFFER)
        nothing_pending(aws)
        assert rig.call_row(call_id).state == "negotiating"


def test_frame_before_hello_closes_4400(rig: CallRig) -> None:
    """A call step before hello closes the socket with 4400 and changes no call."""
    headers = {"Authorization": f"Bearer {rig.kiosk_token}"}
    with rig.ws.websocket_connect(WS, headers=headers) as ws:
        send(ws, {"type": "call.accept", "call_id": "call-x"})
        first = ws.receive()
        assert first["type"] == "websocket.send" and '"fatal":true' in first["text"]
        message = ws.receive()
        assert message["type"] == "websocket.close" and message["code"] == 4400
    assert [e.details["code"] for e in rig.refusals()] == ["not_allowed"]


def test_second_connection_replaces_the_first(rig: CallRig) -> None:
    """A kiosk connecting twice: the older socket is closed with 4409, the newer one works."""
    with rig.kiosk_socket() as old, rig.kiosk_socket() as new:
        message = old.receive()
        assert message["type"] == "websocket.close" and message["code"] == 4409
        nothing_pending(new)
