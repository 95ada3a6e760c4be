"""Signaling resume after an office restart mid-call (target: within 5 s).

A kiosk client and an agent client are in a call on an office instance (websockets server over
SignalingHub, in-process bus). The office is stopped and a new one started on the same port after
``RESTART_GAP`` seconds; the figure is the time from the stop until the kiosk has the call's
``call.state`` again (reconnect + hello/welcome + resume), and until a description from the agent
reaches the kiosk. Baseline in the same run: a first connect + welcome on an office that is up.
Prints JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from signaling.bus import InProcessBus
from signaling.client import SignalingClient
from signaling.hub import CallInfo, SignalingHub
from signaling.messages import CallState, CallStateName, Description, Role
from signaling.presence import InMemoryPresence
from signaling.relay import CallParties, Party

RUNS = 5
RESTART_GAP = 0.5
CALL = "call-bench"
PARTIES = CallParties("a1", "k1")
TOKENS = {"Bearer k": Party(Role.KIOSK, "k1"), "Bearer a": Party(Role.AGENT, "a1")}


class Calls:
    async def lookup(self, call_id: str) -> CallInfo | None:
        return CallInfo(PARTIES, CallStateName.CONNECTED) if call_id == CALL else None


class Transport:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


async def start_office(port: int) -> tuple[Server, SignalingHub, InProcessBus]:
    bus = InProcessBus()
    hub = SignalingHub(
        bus, InMemoryPresence(), Calls(), instance_id="bench", disconnect_errors=(ConnectionClosed,)
    )

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        await hub.serve(TOKENS[ws.request.headers["Authorization"]], Transport(ws), ws)

    server = await serve(handler, "127.0.0.1", port)
    return server, hub, bus


async def next_of(client: SignalingClient, kind: type) -> object:
    while True:
        message = await client.recv()
        if isinstance(message, kind):
            return message


def emit(name: str, **figures: object) -> None:
    print(json.dumps({"bench": "resume", "name": name, **figures}), flush=True)


async def main() -> None:
    server, hub, bus = await start_office(0)
    port = server.sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{port}/"
    started = time.perf_counter()
    kiosk = SignalingClient(url, Role.KIOSK, headers={"Authorization": "Bearer k"})
    agent = SignalingClient(url, Role.AGENT, headers={"Authorization": "Bearer a"})
    kiosk.start()
    await kiosk.wait_connected()
    first_connect = time.perf_counter() - started
    agent.start()
    await agent.wait_connected()
    for party in (PARTIES.kiosk, PARTIES.agent):
        await hub.send_to(party, CallState(call_id=CALL, state=CallStateName.CONNECTED))
    await next_of(kiosk, CallState)
    await next_of(agent, CallState)
    resumed, relayed = [], []
    for run in range(RUNS):
        stopped = time.perf_counter()
        server.close()
        await server.wait_closed()
        await bus.close()
        await asyncio.sleep(RESTART_GAP)
        server, hub, bus = await start_office(port)
        await asyncio.wait_for(next_of(kiosk, CallState), 10)
        resumed.append(time.perf_counter() - stopped)
        await asyncio.wait_for(next_of(agent, CallState), 10)
        await agent.send(Description(call_id=CALL, sdp_type="offer", sdp=f"v=0 {run}", generation=run + 1))
        await asyncio.wait_for(next_of(kiosk, Description), 10)
        relayed.append(time.perf_counter() - stopped)
    await kiosk.close()
    await agent.close()
    server.close()
    await server.wait_closed()
    await bus.close()
    emit("first connect + welcome (baseline)", ms=round(first_connect * 1000, 1))
    emit(
        "office restart -> call resumed",
        runs=RUNS,
        restart_gap_s=RESTART_GAP,
        median_s=round(statistics.median(resumed), 3),
        max_s=round(max(resumed), 3),
        target_s=5.0,
        within_target=max(resumed) < 5.0,
    )
    emit(
        "office restart -> first relayed description",
        median_s=round(statistics.median(relayed), 3),
        max_s=round(max(relayed), 3),
    )


if __name__ == "__main__":
    asyncio.run(main())
