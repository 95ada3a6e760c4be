"""The office over real sockets (uvicorn on loopback) with :class:`signaling.SignalingClient`: a bad
device token is refused with HTTP 401 and not retried; the office restarts mid-call and both
clients reconnect and resume, with the call record and the ticket intact."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from office.auth import SESSION_COOKIE
from office.models import Call, Role, Ticket, WebSession
from office.security import digest
from signaling import ConnectionRejected, SignalingClient
from signaling.messages import BaseMessage, CallAccept, CallInvite, CallState, CallStateName
from signaling.messages import Role as PartyRole
from tests.office.conftest import OfficeHarness
from tests.office.test_queue_support import build_queue_harness

_WAIT_S = 10.0  # generous upper bound for one message on a loaded machine (not a timing assertion)


@asynccontextmanager
async def _serving(app: FastAPI, sock: socket.socket) -> AsyncIterator[None]:
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task


def _listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _agent_session(h: OfficeHarness, user_id: int) -> tuple[str, str]:
    token, csrf = uuid.uuid4().hex * 2, uuid.uuid4().hex
    now = h.clock.now()
    with h.ctx.db() as s, s.begin():
        s.add(
            WebSession(
                id=digest(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=12),
            )
        )
    return token, csrf


async def _next_of(client: SignalingClient, kind: type[BaseMessage], **fields: Any) -> BaseMessage:
    async def wait() -> BaseMessage:
        while True:
            message = await client.recv()
            if isinstance(message, kind) and all(getattr(message, k) == v for k, v in fields.items()):
                return message

    return await asyncio.wait_for(wait(), _WAIT_S)


async def test_bad_token_is_refused_with_401(harness: OfficeHarness) -> None:
    """A kiosk with an unknown device token gets HTTP 401 at the upgrade and stops for good."""
    sock = _listening_socket()
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws/signaling"
    async with _serving(harness.app, sock):
        client = SignalingClient(url, PartyRole.KIOSK, headers={"Authorization": "Bearer dk_nope"})
        async with client:
            with pytest.raises(ConnectionRejected) as info:
                await asyncio.wait_for(client.wait_connected(), _WAIT_S)
    assert (info.value.http_status, info.value.close_code) == (401, None)
    sock.close()


async def test_office_restart_mid_call_resumes(harness: OfficeHarness) -> None:
    """Office restarted mid-call: both parties reconnect and resume; call record and ticket intact."""
    qh = build_queue_harness(harness)
    kiosk_token = qh.kiosk_token()
    agent_id = qh.new_user(Role.AGENT)
    cookie, csrf = _agent_session(harness, agent_id)
    sock = _listening_socket()
    port = sock.getsockname()[1]
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/signaling"
    kiosk_headers = {"Authorization": f"Bearer {kiosk_token}"}
    agent_headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    kiosk = SignalingClient(url, PartyRole.KIOSK, headers=kiosk_headers)
    agent = SignalingClient(url, PartyRole.AGENT, headers=agent_headers)
    async with (
        httpx.AsyncClient(base_url=base, headers=kiosk_headers) as kiosk_http,
        httpx.AsyncClient(
            base_url=base, headers={"X-CSRF-Token": csrf}, cookies={SESSION_COOKIE: cookie}
        ) as http,
        kiosk,
        agent,
    ):
        async with _serving(harness.app, sock):
            await asyncio.wait_for(asyncio.gather(kiosk.wait_connected(), agent.wait_connected()), _WAIT_S)
            assert (
                await http.put("/api/queue/agents/me/state", json={"state": "available"})
            ).status_code == 200
            r = await kiosk_http.post("/api/queue/tickets", json={"service_id": qh.services["GOV-SSC-APPLY"]})
            ticket_id = r.json()["id"]
            assert (await http.post("/api/queue/call-next")).json()["ticket"]["id"] == ticket_id
            r = await http.post("/api/calls", json={"ticket_id": ticket_id})
            assert r.status_code == 201, r.text
            call_id = r.json()["id"]
            await _next_of(kiosk, CallInvite, call_id=call_id)
            await kiosk.send(CallAccept(call_id=call_id))
            await _next_of(kiosk, CallState, state=CallStateName.NEGOTIATING)
            await _next_of(agent, CallState, state=CallStateName.NEGOTIATING)
            first_connects = (kiosk.connects, agent.connects)
        # the office is down: the clients are reconnecting with backoff; a new process listens
        sock.close()
        sock = _listening_socket(port)
        async with _serving(harness.app, sock):
            resumed = await asyncio.wait_for(
                asyncio.gather(
                    _next_of(kiosk, CallState, call_id=call_id), _next_of(agent, CallState, call_id=call_id)
                ),
                _WAIT_S,
            )
            assert [m.state for m in resumed if isinstance(m, CallState)] == [CallStateName.NEGOTIATING] * 2
            assert (kiosk.connects, agent.connects) == (first_connects[0] + 1, first_connects[1] + 1)
            await kiosk.close()
            await agent.close()
    with harness.ctx.read_db() as s:
        call, ticket = s.get(Call, call_id), s.get(Ticket, ticket_id)
        assert call is not None and ticket is not None
        assert (call.state, call.end_reason, ticket.state) == ("negotiating", "", "serving")
    sock.close()
