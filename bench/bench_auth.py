"""Authenticated API request vs a bare FastAPI endpoint, 50 concurrent clients, same run.

Starts two uvicorn processes on loopback: the real office (SQLite, a logged-in agent session) and a
bare FastAPI app with one async endpoint. Drives each with 50 concurrent keep-alive clients for a
fixed number of requests and prints JSON lines: p50/p95 latency and throughput for each, and their
ratio (target: authenticated/bare ≤ 2).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

CLIENTS = 50
REQUESTS = int(os.environ.get("BENCH_AUTH_REQUESTS", "4000"))
WARMUP = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(url)


async def drive(url: str, headers: dict[str, str], cookies: dict[str, str]) -> dict[str, float]:
    latencies: list[float] = []
    remaining = REQUESTS + WARMUP
    lock = asyncio.Lock()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while True:
            async with lock:
                if remaining <= 0:
                    return
                remaining -= 1
                index = remaining
            t0 = time.perf_counter()
            r = await client.get(url)
            elapsed = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
            if index < REQUESTS:
                latencies.append(elapsed)

    async with httpx.AsyncClient(headers=headers, cookies=cookies, limits=limits, timeout=30) as client:
        t_start = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(CLIENTS)))
        wall = time.perf_counter() - t_start
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "requests": len(latencies),
    }


BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, object]:
        return {"id": 1, "username": "bench", "role": "agent"}
    """
)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    (work / "bare_app.py").write_text(BARE_APP)
    office_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "OFFICE_ENVIRONMENT": "development",
        "OFFICE_DATABASE_URL": f"sqlite:///{work / 'office.db'}",
        "OFFICE_PORT": str(office_port),
        "OFFICE_LOG_LEVEL": "WARNING",
    }
    office = subprocess.Popen(
        [sys.executable, "-m", "doorstep.cli", "office", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        office_url, bare_url = f"http://127.0.0.1:{office_port}", f"http://127.0.0.1:{bare_port}"
        wait_ready(f"{office_url}/healthz", office)
        wait_ready(f"{bare_url}/bare", bare)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "doorstep.cli",
                "office",
                "create-user",
                "bench-agent",
                "--display-name",
                "Bench",
                "--role",
                "agent",
                "--password-stdin",
            ],
            input=b"Bench-agent-pass-1\n",
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        login = httpx.post(
            f"{office_url}/api/auth/login", json={"username": "bench-agent", "password": "Bench-agent-pass-1"}
        )
        login.raise_for_status()
        cookies = dict(login.cookies)
        bare_result = asyncio.run(drive(f"{bare_url}/bare", {}, {}))
        auth_result = asyncio.run(drive(f"{office_url}/api/auth/me", {}, cookies))
        common = {"clients": CLIENTS, "engine": "sqlite"}
        print(json.dumps({"bench": "auth", "case": "bare_fastapi", **common, **bare_result}))
        print(json.dumps({"bench": "auth", "case": "authenticated_me", **common, **auth_result}))
        ratio_p50 = auth_result["p50_ms"] / bare_result["p50_ms"]
        ratio_p95 = auth_result["p95_ms"] / bare_result["p95_ms"]
        ratio_rps = bare_result["throughput_rps"] / auth_result["throughput_rps"]
        print(
            json.dumps(
                {
                    "bench": "auth",
                    "case": "ratio",
                    "p50_ratio": round(ratio_p50, 2),
                    "p95_ratio": round(ratio_p95, 2),
                    "throughput_ratio": round(ratio_rps, 2),
                    "target": "<= 2",
                    "met": max(ratio_p50, ratio_p95) <= 2,
                }
            )
        )
    finally:
        for proc in (office, bare):
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
