"""Call set-up through the office: REST start → ``call.invite`` at the kiosk, ``call.accept`` →
``negotiating`` at the agent, and one description relayed with the office's call look-up.

The office app runs under uvicorn on loopback (SQLite in a temp dir, in-process bus); a kiosk and an
agent connect with :class:`signaling.SignalingClient`. Baseline in the same run: a ping → pong round
trip on a second kiosk's socket to the same office (the hub without the database). Prints JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from office import enrollment
from office.app import create_app
from office.auth import SESSION_COOKIE
from office.context import OfficeContext
from office.db import make_engine
from office.migrate import upgrade
from office.seed import seed_demo
from office.settings import Settings
from signaling import SignalingClient
from signaling.messages import (
    BaseMessage,
    CallAccept,
    CallEnd,
    CallInvite,
    CallState,
    CallStateName,
    Description,
    Role,
)

CALLS = 20
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + "a=x\r\n" * 100


async def _until(client: SignalingClient, match: Callable[[BaseMessage], bool]) -> BaseMessage:
    while True:
        message = await asyncio.wait_for(client.recv(), 10)
        if match(message):
            return message


async def _timed(
    action: Awaitable[object], client: SignalingClient, match: Callable[[BaseMessage], bool]
) -> float:
    start = time.perf_counter()
    await action
    await _until(client, match)
    return (time.perf_counter() - start) * 1000


async def _ping(raw: ClientConnection, nonce: int) -> float:
    start = time.perf_counter()
    await raw.send(json.dumps({"type": "ping", "nonce": nonce}))
    while json.loads(await raw.recv()).get("type") != "pong":
        pass
    return (time.perf_counter() - start) * 1000


def _figure(name: str, samples: list[float], **extra: object) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(
        json.dumps(
            {
                "bench": "office_call",
                "figure": name,
                "n": len(samples),
                "median_ms": round(statistics.median(samples), 2),
                "p95_ms": round(p95, 2),
                **extra,
            }
        ),
        flush=True,
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'office.db'}"
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(
            database_url=url,
            background_jobs=False,
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            log_level="WARNING",
        )
        app = create_app(settings, engine=engine)
        ctx: OfficeContext = app.state.ctx
        seed = seed_demo(ctx)
        codes = list(seed.kiosk_codes.values())
        token = enrollment.enroll(ctx, codes[0], ip="127.0.0.1").token
        baseline_token = enrollment.enroll(ctx, codes[1], ip="127.0.0.1").token
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        ws_url = f"ws://127.0.0.1:{port}/ws/signaling"
        kiosk_headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=base, headers=kiosk_headers) as kiosk_http,
            httpx.AsyncClient(base_url=base) as http,
        ):
            r = await http.post("/api/auth/login", json={"username": "agent1", "password": "Agent-demo-1"})
            http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            services = (await kiosk_http.get("/api/catalog/services")).json()
            service_id = services[0]["id"] if isinstance(services, list) else services["services"][0]["id"]
            cookie = {"Cookie": f"{SESSION_COOKIE}={http.cookies[SESSION_COOKIE]}"}
            kiosk = SignalingClient(ws_url, Role.KIOSK, headers=kiosk_headers)
            agent = SignalingClient(ws_url, Role.AGENT, headers=cookie)
            invite_ms: list[float] = []
            accept_ms: list[float] = []
            relay_ms: list[float] = []
            ping_ms: list[float] = []
            raw_headers = {"Authorization": f"Bearer {baseline_token}"}
            async with kiosk, agent, connect(ws_url, additional_headers=raw_headers) as raw:
                await raw.send(json.dumps({"type": "hello", "protocol": 1}))
                await raw.recv()  # welcome
                await asyncio.gather(kiosk.wait_connected(), agent.wait_connected())
                for n in range(CALLS):
                    await http.put("/api/queue/agents/me/state", json={"state": "available"})
                    ticket = (
                        await kiosk_http.post("/api/queue/tickets", json={"service_id": service_id})
                    ).json()
                    await http.post("/api/queue/call-next")
                    created: dict[str, str] = {}

                    async def start(ticket_id: int = ticket["id"], out: dict[str, str] = created) -> None:
                        r = await http.post("/api/calls", json={"ticket_id": ticket_id})
                        out["id"] = r.json()["id"]

                    invite_ms.append(await _timed(start(), kiosk, lambda m: isinstance(m, CallInvite)))
                    call_id = created["id"]
                    await _until(agent, lambda m: isinstance(m, CallInvite))
                    accept_ms.append(
                        await _timed(
                            kiosk.send(CallAccept(call_id=call_id)),
                            agent,
                            lambda m: isinstance(m, CallState) and m.state is CallStateName.NEGOTIATING,
                        )
                    )
                    await _until(kiosk, lambda m: isinstance(m, CallState))
                    offer = Description(call_id=call_id, sdp_type="offer", sdp=SDP)
                    relay_ms.append(
                        await _timed(agent.send(offer), kiosk, lambda m: isinstance(m, Description))
                    )
                    ping_ms.append(await _ping(raw, n))
                    await agent.send(CallEnd(call_id=call_id, reason="completed"))
                    await _until(agent, lambda m: isinstance(m, CallState) and m.state is CallStateName.ENDED)
                    await _until(kiosk, lambda m: isinstance(m, CallState) and m.state is CallStateName.ENDED)
                    await http.post(f"/api/queue/tickets/{ticket['id']}/complete", json={})
        server.should_exit = True
        await task
        engine.dispose()
    _figure("rest_start_to_invite", invite_ms)
    _figure("accept_to_negotiating", accept_ms)
    _figure("description_relay", relay_ms)
    _figure("baseline_ping_pong", ping_ms, note="another kiosk's socket on the same office, no database")


if __name__ == "__main__":
    asyncio.run(main())
