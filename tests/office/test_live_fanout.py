"""The live-event fan-out: the envelope's publish time, routing by office and event loop, each event
serialized once, and slow consumers that neither delay the others nor stay connected."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from office import live
from office.auth import SESSION_COOKIE
from office.events import Event, EventHub
from office.models import Role, User, WebSession
from office.security import digest
from tests.office.conftest import OfficeHarness

_WAIT_S = 10.0  # generous bound for one message on a loaded machine (not a timing assertion)


async def test_envelope_carries_the_publish_time_and_is_serialized_once() -> None:
    """``ts`` is the wall-clock ms at publish, in the wire form next to the old keys; the text is
    built once and the same object is handed to every subscriber."""
    hub = EventHub()
    a, b = hub.subscribe(7), hub.subscribe(7)
    before = time.time_ns() // 1_000_000
    published = hub.publish(7, "queue.issued", {"number": "A001"})
    after = time.time_ns() // 1_000_000
    got_a, got_b = await a.get(), await b.get()
    assert got_a is published and got_b is published
    wire = json.loads(got_a.to_json())
    assert wire == {
        "office_id": 7,
        "topic": "queue.issued",
        "seq": published.seq,
        "ts": published.ts,
        "payload": {"number": "A001"},
    }
    assert before <= wire["ts"] <= after
    assert got_a.to_json() is got_b.to_json()


async def test_events_reach_only_their_office_and_the_all_office_subscribers() -> None:
    """Office 1's subscriber sees office 1 only, office 2's sees office 2 only, ``None`` sees both;
    a subscriber on another thread's event loop is served too."""
    hub = EventHub()
    one, two, every = hub.subscribe(1), hub.subscribe(2), hub.subscribe(None)
    other_loop_got: list[tuple[int, str]] = []
    ready, done = threading.Event(), threading.Event()

    def other_thread() -> None:
        async def main() -> None:
            sub = hub.subscribe(2)
            ready.set()
            for _ in range(2):
                event = await asyncio.wait_for(sub.get(), _WAIT_S)
                other_loop_got.append((event.office_id, event.topic))
            sub.close()

        asyncio.run(main())
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    assert ready.wait(_WAIT_S)
    hub.publish(1, "queue.issued", {"n": 1})
    hub.publish(2, "queue.issued", {"n": 2})
    await asyncio.to_thread(hub.publish, 2, "queue.called", {"n": 3})  # from a worker thread
    await asyncio.to_thread(thread.join, _WAIT_S)
    assert done.is_set()
    assert [(e.office_id, e.payload["n"]) for e in _drain(one)] == [(1, 1)]
    assert [(e.office_id, e.payload["n"]) for e in _drain(two)] == [(2, 2), (2, 3)]
    assert [(e.office_id, e.payload["n"]) for e in _drain(every)] == [(1, 1), (2, 2), (2, 3)]
    assert other_loop_got == [(2, "queue.issued"), (2, "queue.called")]
    one.close()
    assert hub.subscriber_count == 2
    hub.publish(1, "queue.issued", {"n": 4})
    assert [e.payload["n"] for e in _drain(every)] == [4]


def _drain(sub: object) -> list[Event]:
    queue = sub.queue  # type: ignore[attr-defined]
    out: list[Event] = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_a_subscriber_that_does_not_read_loses_its_oldest_events_not_the_others() -> None:
    """With a queue of 3, an unread subscriber keeps the newest event behind an ``events.dropped``
    marker (never itself dropped) and is flagged overflowed; a reading subscriber gets all 10 events
    in order."""
    hub = EventHub(queue_size=3)
    slow, fast = hub.subscribe(1), hub.subscribe(1)
    received: list[int] = []
    for n in range(10):
        hub.publish(1, "queue.issued", {"n": n})
        received.append((await fast.get()).payload["n"])
    assert received == list(range(10))
    assert slow.overflowed.is_set() and not fast.overflowed.is_set()
    left = _drain(slow)
    assert [e.topic for e in left] == ["events.dropped", "queue.issued"]
    assert left[1].payload["n"] == 9
    assert slow.dropped == 9  # 0 … 8; the markers are not counted


# --- over real sockets -----------------------------------------------------------------------------


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws/events"
    finally:
        server.should_exit = True
        await task
        sock.close()


def _session_cookie(h: OfficeHarness, role: Role) -> str:
    name = h.add_user(role)
    token, now = uuid.uuid4().hex * 2, h.clock.now()
    with h.ctx.db() as s, s.begin():
        user_id = s.scalar(select(User.id).where(User.username == name))
        assert user_id is not None
        s.add(
            WebSession(
                id=digest(token),
                user_id=user_id,
                csrf_token=uuid.uuid4().hex,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=12),
            )
        )
    return f"{SESSION_COOKIE}={token}"


class _StalledConsole:
    """A console on a raw socket with a small receive buffer that completes the WebSocket handshake
    and then reads nothing until told to: the office's sends back up into a full socket."""

    def __init__(self, url: str, cookie: str) -> None:
        host, rest = url.removeprefix("ws://").split("/", 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        self.sock.settimeout(_WAIT_S)
        self.sock.connect(("127.0.0.1", int(host.split(":")[1])))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Cookie: {cookie}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def read_until_closed(self) -> tuple[int, list[int]]:
        """Read every frame until the connection ends: (close code, or 1006 without a close frame;
        the ``n`` of each event received)."""
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        self.sock.close()
        got: list[int] = []
        code = 1006
        while len(data) >= 2:
            opcode, length, at = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                length, at = struct.unpack("!H", data[2:4])[0], 4
            elif length == 127:
                length, at = struct.unpack("!Q", data[2:10])[0], 10
            body, data = data[at : at + length], data[at + length :]
            if len(body) < length:
                break
            if opcode == 0x1:
                got.append(json.loads(body)["payload"]["n"])
            elif opcode == 0x8:
                code = struct.unpack("!H", body[:2])[0]
        return code, got


async def _wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(_WAIT_S):
        while not predicate():  # noqa: ASYNC110 - the hub has no event for its subscriber count
            await asyncio.sleep(0.01)


async def test_a_stalled_console_is_closed_and_never_delays_the_others(
    harness: OfficeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console that stops reading its socket while large events pile up: a reading console still
    gets every event in order, and the stalled one is cut off (close 4429, or dropped when even the
    close frame cannot get through) with its subscription removed."""
    monkeypatch.setattr(live, "SEND_TIMEOUT", 0.5)
    cookie = _session_cookie(harness, Role.AGENT)
    ctx = harness.ctx
    big = "x" * 64_000  # 200 × 64 kB: more than the server's send buffer and the small receive one
    async with _serving(harness.app) as url:
        headers = {"Cookie": cookie}
        stalled = await asyncio.to_thread(_StalledConsole, url, cookie)
        async with connect(url, additional_headers=headers, max_queue=None, max_size=None) as reading:
            await _wait_for(lambda: ctx.events.subscriber_count == 2)
            got: list[int] = []
            for n in range(200):
                await asyncio.to_thread(
                    ctx.events.publish, harness.office_id, "queue.counts", {"n": n, "pad": big}
                )
            while len(got) < 200:
                raw = await asyncio.wait_for(reading.recv(), _WAIT_S)
                got.append(json.loads(raw)["payload"]["n"])
            assert got == list(range(200))
            await _wait_for(lambda: ctx.events.subscriber_count == 1)
            code, partial = await asyncio.to_thread(stalled.read_until_closed)
            assert code in (live.CLOSE_TOO_SLOW, 1006)
            assert len(partial) < 200 and partial == list(range(len(partial)))
            assert reading.close_code is None


async def test_a_console_whose_queue_overflows_is_closed_with_4429(
    harness: OfficeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console whose bounded queue overflows is closed with the documented code and reason."""
    cookie = _session_cookie(harness, Role.AGENT)
    ctx = harness.ctx
    async with _serving(harness.app) as url, connect(url, additional_headers={"Cookie": cookie}) as ws:
        await _wait_for(lambda: ctx.events.subscriber_count == 1)
        (sub,) = ctx.events._subs
        sub.overflowed.set()  # what Subscription._offer does when the queue is full
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), _WAIT_S)
    assert (ws.close_code, ws.close_reason) == (live.CLOSE_TOO_SLOW, "too slow")
    assert ctx.events.subscriber_count == 0
