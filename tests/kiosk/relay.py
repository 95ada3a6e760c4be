"""A test-local signaling office: ``SignalingHub`` over Starlette, served by uvicorn on 127.0.0.1.

It stands in for the office's ``/ws/signaling`` in kiosk and headless-agent tests: bearer tokens map
to parties, calls live in an in-memory :class:`CallDirectory`, and the test plays the office's part
of a call (``call.invite`` and ``call.state``) with :meth:`Relay.start_call`. :meth:`Relay.drop`
closes every server-side socket of a party with 1001, as an office restart would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from signaling.bus import InProcessBus
from signaling.hub import CallInfo, SignalingHub
from signaling.messages import CallInvite, CallState, CallStateName, Role
from signaling.presence import InMemoryPresence
from signaling.relay import CallParties, Party

__all__ = ["Relay", "running_relay"]


class _Transport:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send_text(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


class Relay:
    """The hub, its calls and its open sockets."""

    def __init__(self) -> None:
        self.calls: dict[str, CallInfo] = {}
        self.tokens: dict[str, Party] = {
            "kiosk-token": Party(Role.KIOSK, "k1"),
            "agent-token": Party(Role.AGENT, "a1"),
        }
        self.sockets: dict[Party, list[WebSocket]] = {}
        self.hub = SignalingHub(
            InProcessBus(),
            InMemoryPresence(),
            self,
            instance_id="relay-test",
            disconnect_errors=(WebSocketDisconnect, WebSocketDisconnected),
        )
        self.url = ""

    async def lookup(self, call_id: str) -> CallInfo | None:
        """CallDirectory: the call's parties and state."""
        return self.calls.get(call_id)

    async def endpoint(self, websocket: WebSocket) -> None:
        """Authenticate by bearer token, then hand the socket to the hub."""
        header = websocket.headers.get("authorization", "")
        party = self.tokens.get(header.removeprefix("Bearer "))
        if party is None:
            await websocket.close(4401)
            return
        await websocket.accept()
        self.sockets.setdefault(party, []).append(websocket)
        try:
            await self.hub.serve(party, _Transport(websocket), websocket.iter_text())
        finally:
            self.sockets[party].remove(websocket)

    async def start_call(
        self, call_id: str = "call-1", agent: str = "a1", kiosk: str = "k1", *, negotiate: bool = True
    ) -> None:
        """Play the office: register the call, invite the kiosk (copy to the agent), go negotiating.

        The real office goes ``negotiating`` when the kiosk's ``call.accept`` arrives; the relay
        does not watch relayed frames, so it sends the state right after the invite (unless told not to).
        """
        self.calls[call_id] = CallInfo(CallParties(agent, kiosk), CallStateName.NEGOTIATING)
        invite = CallInvite(
            call_id=call_id, agent_id=agent, kiosk_id=kiosk, ticket="A017", service="社保卡补办"
        )
        for party in (Party(Role.KIOSK, kiosk), Party(Role.AGENT, agent)):
            await self.hub.send_to(party, invite)
            if negotiate:
                await self.hub.send_to(party, CallState(call_id=call_id, state=CallStateName.NEGOTIATING))

    async def end_call(self, call_id: str = "call-1", reason: str = "completed") -> None:
        """Play the office: the call ended."""
        info = self.calls.pop(call_id)
        for party in (Party(Role.KIOSK, info.parties.kiosk_id), Party(Role.AGENT, info.parties.agent_id)):
            await self.hub.send_to(
                party, CallState(call_id=call_id, state=CallStateName.ENDED, reason=reason)
            )

    async def drop(self, party: Party) -> int:
        """Close the party's sockets with 1001 (office going away); how many were closed."""
        sockets = list(self.sockets.get(party, []))
        for websocket in sockets:
            await websocket.close(1001, "going away")
        return len(sockets)


@asynccontextmanager
async def running_relay() -> AsyncIterator[Relay]:
    """Serve a :class:`Relay` with uvicorn on a free loopback port in this event loop."""
    relay = Relay()
    app = Starlette(routes=[WebSocketRoute("/ws/signaling", relay.endpoint)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        relay.url = f"ws://127.0.0.1:{port}/ws/signaling"
        yield relay
    finally:
        server.should_exit = True
        await task
        sock.close()
