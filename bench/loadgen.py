"""Load generator for the queue benchmark, run in its own process so that its CPU is not counted
inside the office's latency (on a 2-core machine an in-process httpx client costs about as much
CPU per request as the server).

A minimal HTTP/1.1 keep-alive client over asyncio streams: one connection per simulated client,
``Content-Length`` bodies (and chunked ones, decoded), JSON in and out. Scenarios are the ones
:mod:`bench.bench_queue` describes; the plan arrives as JSON on stdin, results leave as one JSON
object on stdout (latencies in milliseconds).

Run by ``bench/bench_queue.py``; by hand: ``echo '{…}' | python bench/loadgen.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CLIENTS = 50


class HttpError(RuntimeError):
    """An unexpected status (the benchmark's requests must all succeed)."""


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.headers = {"host": f"{host}:{port}", **{k.lower(): v for k, v in headers.items()}}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send one request; returns (status, decoded JSON body or None)."""
        assert self.reader is not None and self.writer is not None
        payload = b"" if body is None else json.dumps(body).encode()
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(payload))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items())
        self.writer.write(head.encode("latin-1") + b"\r\n" + payload)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        resp_headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                resp_headers[name.strip().lower()] = value.strip()
        if resp_headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(int(resp_headers.get("content-length", "0")))
        decoded = json.loads(data) if data and "json" in resp_headers.get("content-type", "") else None
        return status, decoded


def _expect(status: int, body: Any, *ok: int) -> None:
    if status not in ok:
        raise HttpError(f"HTTP {status}: {body}")


async def _connect(url: str, headers: dict[str, str]) -> Connection:
    parts = urlsplit(url)
    c = Connection(parts.hostname or "127.0.0.1", parts.port or 80, headers)
    await c.open()
    return c


def _agent_headers(agent: list[Any]) -> dict[str, str]:
    _, cookie, csrf = agent
    return {"cookie": f"doorstep_session={cookie}", "x-csrf-token": csrf}


async def take_numbers(plan: dict[str, Any]) -> dict[str, Any]:
    """50 clients (10 kiosks' tokens) each take ``takes`` numbers back to back."""
    latencies: list[float] = []
    tokens: list[str] = plan["kiosk_tokens"]

    async def client(i: int) -> None:
        c = await _connect(plan["url"], {"authorization": f"Bearer {tokens[i % len(tokens)]}"})
        try:
            for _ in range(plan["takes"]):
                t0 = time.perf_counter()
                status, body = await c.request(
                    "POST",
                    "/api/queue/tickets",
                    {"service_id": plan["service_id"]},
                    {"idempotency-key": uuid.uuid4().hex},
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                _expect(status, body, 201)
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return {"latencies": latencies, "seconds": time.perf_counter() - t0}


async def http_floor(plan: dict[str, Any]) -> dict[str, Any]:
    """Bursts of 50 simultaneous ``GET /api/auth/me`` (HTTP stack and session check only)."""
    latencies: list[float] = []
    barrier = asyncio.Barrier(CLIENTS)

    async def agent(i: int) -> None:
        c = await _connect(plan["url"], _agent_headers(plan["agents"][i]))
        try:
            for _ in range(plan["cycles"]):
                await barrier.wait()
                t0 = time.perf_counter()
                status, body = await c.request("GET", "/api/auth/me")
                latencies.append((time.perf_counter() - t0) * 1000)
                _expect(status, body, 200)
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(agent(i) for i in range(CLIENTS)))
    return {"latencies": latencies, "seconds": time.perf_counter() - t0}


async def call_next(plan: dict[str, Any]) -> dict[str, Any]:
    """``cycles`` rounds: all 50 agents press call-next at the same instant (timed); then each
    answers, completes and goes available again (untimed) before the next round."""
    latencies: list[float] = []
    offered: list[int] = []
    barrier = asyncio.Barrier(CLIENTS)
    office_pid: int = plan.get("office_pid", 0)
    cpu_s: list[float] = []  # the office's CPU during each burst of presses (nothing else runs)

    async def agent(i: int) -> None:
        c = await _connect(plan["url"], _agent_headers(plan["agents"][i]))
        try:
            status, body = await c.request(
                "PUT", "/api/queue/agents/me/state", {"state": "available", "window_no": i + 1}
            )
            _expect(status, body, 200)
            for _ in range(plan["cycles"]):
                await barrier.wait()  # everyone's untimed work of the last round is done
                if i == 0 and office_pid:
                    cpu_s.append(-tree_cpu_s(office_pid))
                await barrier.wait()
                t0 = time.perf_counter()
                status, body = await c.request("POST", "/api/queue/call-next")
                elapsed = time.perf_counter() - t0
                latencies.append(elapsed * 1000)
                _expect(status, body, 200)
                ticket = body["ticket"]
                assert ticket is not None, "the queue ran dry"
                offered.append(ticket["id"])
                await barrier.wait()  # every press answered before anyone moves on
                if i == 0 and office_pid:
                    cpu_s[-1] += tree_cpu_s(office_pid)
                for step in ("answer", "complete"):
                    status, body = await c.request("POST", f"/api/queue/tickets/{ticket['id']}/{step}", {})
                    _expect(status, body, 200)
                status, body = await c.request("PUT", "/api/queue/agents/me/state", {"state": "available"})
                _expect(status, body, 200)
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(agent(i) for i in range(CLIENTS)))
    return {
        "latencies": latencies,
        "seconds": time.perf_counter() - t0,
        "offered": offered,
        # Wall time of the timed bursts only (start of a round to its last answer), for throughput.
        "burst_seconds": _burst_seconds(latencies, plan["cycles"]),
        "office_cpu_ms_per_press": round(sum(cpu_s) * 1000 / len(latencies), 2) if cpu_s else None,
        "round_max_ms": _round_max(latencies, plan["cycles"]),
    }


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo.extend(c for c, parent in parents.items() if parent == p)
    return total


def _round_max(latencies: list[float], cycles: int) -> list[float]:
    """The slowest press of each round, in ms (each round starts all presses at once)."""
    per_round = len(latencies) // max(1, cycles)
    return [round(max(latencies[r * per_round : (r + 1) * per_round]), 1) for r in range(cycles)]


def _burst_seconds(latencies: list[float], cycles: int) -> float:
    """Sum over rounds of the slowest press: the wall time of the timed bursts."""
    return sum(_round_max(latencies, cycles)) / 1000


SCENARIOS = {"take_numbers": take_numbers, "http_floor": http_floor, "call_next": call_next}


def main() -> None:
    plan = json.load(sys.stdin)
    result = asyncio.run(SCENARIOS[plan["scenario"]](plan))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
