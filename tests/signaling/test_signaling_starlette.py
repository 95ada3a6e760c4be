"""SignalingHub behind a Starlette WebSocket route (the office's framework), via TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from signaling.bus import InProcessBus
from signaling.hub import AuditRecord, CallInfo, SignalingHub
from signaling.messages import CallStateName, Role
from signaling.presence import InMemoryPresence
from signaling.relay import CallParties, Party

TOKENS = {"Bearer k1": Party(Role.KIOSK, "k1"), "Bearer a1": Party(Role.AGENT, "a1")}
CALL = "call-1"


class _Calls:
    async def lookup(self, call_id: str) -> CallInfo | None:
        return CallInfo(CallParties("a1", "k1"), CallStateName.CONNECTED) if call_id == CALL else None


class StarletteTransport:
    """The adapter the office needs: two methods over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send_text(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


@pytest.fixture
def app_and_audits() -> Iterator[tuple[TestClient, list[AuditRecord]]]:
    """A Starlette app whose /ws route authenticates by bearer token and hands over to the hub."""
    audits: list[AuditRecord] = []

    async def audit(record: AuditRecord) -> None:
        audits.append(record)

    hub = SignalingHub(
        InProcessBus(),
        InMemoryPresence(),
        _Calls(),
        instance_id="office-test",
        audit=audit,
        disconnect_errors=(WebSocketDisconnect, WebSocketDisconnected),
    )

    async def endpoint(websocket: WebSocket) -> None:
        party = TOKENS.get(websocket.headers.get("authorization", ""))
        if party is None:
            await websocket.close(4401)
            return
        await websocket.accept()
        await hub.serve(party, StarletteTransport(websocket), websocket.iter_text())

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    with TestClient(app) as client:
        yield client, audits


def _hello(ws: WebSocketTestSession) -> dict[str, object]:
    ws.send_text('{"type":"hello","protocol":1}')
    welcome: dict[str, object] = json.loads(ws.receive_text())
    return welcome


def test_welcome_pong_and_errors(app_and_audits: tuple[TestClient, list[AuditRecord]]) -> None:
    """Over Starlette: hello gets welcome, ping gets pong, garbage gets a non-fatal error."""
    client, _ = app_and_audits
    with client.websocket_connect("/ws", headers={"Authorization": "Bearer k1"}) as ws:
        welcome = _hello(ws)
        assert (welcome["type"], welcome["role"], welcome["party_id"]) == ("welcome", "kiosk", "k1")
        ws.send_text('{"type":"ping","nonce":3}')
        assert json.loads(ws.receive_text()) == {"type": "pong", "nonce": 3}
        ws.send_text("not json")
        error = json.loads(ws.receive_text())
        assert (error["type"], error["code"], error["fatal"]) == ("error", "not_json", False)


def test_relay_and_refusal_between_two_sockets(app_and_audits: tuple[TestClient, list[AuditRecord]]) -> None:
    """Over Starlette: a resumed kiosk and agent relay a description; a forbidden type is audited."""
    client, audits = app_and_audits
    with (
        client.websocket_connect("/ws", headers={"Authorization": "Bearer k1"}) as kiosk,
        client.websocket_connect("/ws", headers={"Authorization": "Bearer a1"}) as agent,
    ):
        _hello(kiosk)
        _hello(agent)
        for ws in (kiosk, agent):
            ws.send_text(json.dumps({"type": "resume", "call_id": CALL, "last_seq": 0}))
            state = json.loads(ws.receive_text())
            assert (state["type"], state["state"]) == ("call.state", "connected")
        offer = {"type": "description", "call_id": CALL, "sdp_type": "offer", "sdp": "v=0"}
        agent.send_text(json.dumps(offer))
        received = json.loads(kiosk.receive_text())
        assert {k: v for k, v in received.items() if k != "seq"} | {"generation": 0} == {
            **offer,
            "generation": 0,
        }
        kiosk.send_text(
            json.dumps(
                {
                    "type": "hw.request",
                    "id": "x1",
                    "call_id": CALL,
                    "request_id": "r",
                    "action": "read_id_card",
                }
            )
        )
        error = json.loads(kiosk.receive_text())
        assert (error["code"], error["ref"]) == ("forbidden", "x1")
    assert [(a.party.id, a.code) for a in audits] == [("k1", "forbidden")]


def test_unauthenticated_socket_is_closed_4401(app_and_audits: tuple[TestClient, list[AuditRecord]]) -> None:
    """Over Starlette: a socket without a valid token is closed with 4401 before any frame."""
    client, _ = app_and_audits
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws", headers={"Authorization": "Bearer nope"}),
    ):
        pass
    assert info.value.code == 4401
