"""Shared helpers for the call and signaling tests (no tests here): a rig with one kiosk and one
agent, their signaling sockets through the in-process app, and a ticket offered to the agent.

The rig's first client (``ws``) is created before any other, so its lifespan owns the app's
signaling hub; every WebSocket goes through it. REST calls from the other clients reach the hub
from worker threads, as they do in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.testclient import WebSocketTestSession

from office.auth import SESSION_COOKIE, resolve_kiosk
from office.models import AuditEvent, Call, Ticket
from tests.office.conftest import OfficeHarness
from tests.office.test_queue_support import QueueHarness, build_queue_harness

WS = "/ws/signaling"


@dataclass
class CallRig:
    """An office with a kiosk and an available agent, and ways to open their signaling sockets."""

    qh: QueueHarness
    ws: TestClient
    kiosk_token: str
    kiosk_id: int
    kiosk: TestClient
    agent: TestClient
    agent_id: int

    @property
    def h(self) -> OfficeHarness:
        """The office harness."""
        return self.qh.h

    def agent_cookie(self, client: TestClient | None = None) -> str:
        """The session cookie of ``client`` (default: the rig's agent)."""
        value = (client or self.agent).cookies.get(SESSION_COOKIE)
        assert value is not None
        return value

    @contextmanager
    def kiosk_socket(self, token: str | None = None) -> Iterator[WebSocketTestSession]:
        """The kiosk's signaling socket, welcomed."""
        headers = {"Authorization": f"Bearer {token or self.kiosk_token}"}
        with self.ws.websocket_connect(WS, headers=headers) as ws:
            hello(ws)
            yield ws

    @contextmanager
    def agent_socket(self, client: TestClient | None = None) -> Iterator[WebSocketTestSession]:
        """The agent's signaling socket (session cookie), welcomed."""
        headers = {"Cookie": f"{SESSION_COOKIE}={self.agent_cookie(client)}"}
        with self.ws.websocket_connect(WS, headers=headers) as ws:
            hello(ws)
            yield ws

    def offered_ticket(self) -> int:
        """The kiosk takes a number and the agent calls next: the ticket's id (offered to the agent)."""
        t = self.qh.take(self.kiosk)
        r = self.agent.post("/api/queue/call-next")
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["id"] == t["id"]
        ticket_id: int = t["id"]
        return ticket_id

    def start_call(self, ticket_id: int) -> str:
        """The agent starts the call for ``ticket_id``; the call id."""
        r = self.agent.post("/api/calls", json={"ticket_id": ticket_id})
        assert r.status_code == 201, r.text
        call_id: str = r.json()["id"]
        return call_id

    def call(self, call_id: str) -> dict[str, Any]:
        """The call record as the agent sees it."""
        r = self.agent.get(f"/api/calls/{call_id}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def ticket(self, ticket_id: int) -> Ticket:
        """The ticket row."""
        with self.h.ctx.read_db() as s:
            t = s.get(Ticket, ticket_id)
            assert t is not None
            return t

    def call_row(self, call_id: str) -> Call:
        """The call row."""
        with self.h.ctx.read_db() as s:
            c = s.get(Call, call_id)
            assert c is not None
            return c

    def refusals(self) -> list[AuditEvent]:
        """Audited signaling refusals, oldest first."""
        with self.h.ctx.read_db() as s:
            q = select(AuditEvent).where(AuditEvent.action == "signaling.refused").order_by(AuditEvent.id)
            return list(s.scalars(q))


def build_rig(h: OfficeHarness) -> CallRig:
    """A rig on ``h`` (the signaling client is created first)."""
    ws = h.client()
    qh = build_queue_harness(h)
    token = qh.kiosk_token()
    kiosk_auth = resolve_kiosk(h.ctx, token)
    assert kiosk_auth is not None
    kiosk = h.kiosk_client(token)
    agent = qh.agent()
    return CallRig(qh, ws, token, kiosk_auth.id, kiosk, agent, qh.user_id(agent))


@pytest.fixture
def rig(harness: OfficeHarness) -> CallRig:
    """A call rig on SQLite."""
    return build_rig(harness)


@pytest.fixture
def any_rig(any_harness: OfficeHarness) -> CallRig:
    """A call rig on SQLite and PostgreSQL."""
    return build_rig(any_harness)


def hello(ws: WebSocketTestSession) -> dict[str, Any]:
    """Send hello; the welcome."""
    ws.send_text('{"type":"hello","protocol":1}')
    welcome = receive(ws)
    assert welcome["type"] == "welcome", welcome
    return welcome


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next frame as JSON."""
    out: dict[str, Any] = json.loads(ws.receive_text())
    return out


def send(ws: WebSocketTestSession, message: dict[str, Any]) -> None:
    """Send one frame."""
    ws.send_text(json.dumps(message))


def expect(ws: WebSocketTestSession, type_name: str, **fields: Any) -> dict[str, Any]:
    """The next frame, which must be of ``type_name`` with ``fields``."""
    message = receive(ws)
    assert message["type"] == type_name, message
    for key, value in fields.items():
        assert message.get(key) == value, (key, message)
    return message


def nothing_pending(ws: WebSocketTestSession, nonce: int = 7) -> None:
    """Nothing else was queued for ``ws``: a ping's pong is the next frame."""
    send(ws, {"type": "ping", "nonce": nonce})
    expect(ws, "pong", nonce=nonce)


def accept_call(rig: CallRig, kws: WebSocketTestSession, aws: WebSocketTestSession) -> tuple[int, str]:
    """Offer a ticket, start the call, the kiosk accepts: (ticket id, call id), both negotiating."""
    ticket_id = rig.offered_ticket()
    call_id = rig.start_call(ticket_id)
    expect(kws, "call.invite", call_id=call_id)
    expect(aws, "call.invite", call_id=call_id)
    send(kws, {"type": "call.accept", "call_id": call_id})
    expect(aws, "call.accept", call_id=call_id)
    expect(aws, "call.state", call_id=call_id, state="negotiating")
    expect(kws, "call.state", call_id=call_id, state="negotiating")
    return ticket_id, call_id
