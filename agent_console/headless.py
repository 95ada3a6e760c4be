"""A headless agent (aiortc) for tests, benchmarks and load runs.

It does what an agent's browser does, without a browser:

- logs in over HTTP (``POST /api/auth/login``; keeps the session cookie and echoes the CSRF token),
- holds a :class:`~signaling.client.SignalingClient` authenticated with that cookie,
- takes the next ticket (``POST /api/queue/call-next``) and starts a call for it
  (``POST /api/calls``, served by the office's call API),
- **answers** the kiosk's offers: every ``description`` offer of the active call with a newer
  ``generation`` replaces the peer connection (aiortc has no ICE restart; the kiosk renegotiates),
- counts the frames it receives, sends a heartbeat on the ``control`` data channel every second,
- sends ``hw.request`` and awaits the matching ``hw.result`` (document images arrive over the data
  channel as ``blob.start`` / binary chunks / ``blob.end`` and land in :attr:`HeadlessAgent.blobs`),
  and hangs up with ``call.end``.

It may import only :mod:`signaling` (DESIGN.md), so its small answering peer is its own.
Construct it from a ready :class:`SignalingClient` (tests against a bare signaling relay) or with
:meth:`HeadlessAgent.login` against a real office.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import hashlib
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, Self

import av
import httpx
import numpy as np
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from signaling.client import SignalingClient
from signaling.messages import (
    BaseMessage,
    CallAccept,
    CallDecline,
    CallEnd,
    CallInvite,
    CallState,
    CallStateName,
    Description,
    HwAction,
    HwProgress,
    HwRequest,
    HwResult,
    Role,
)

__all__ = ["AgentError", "HeadlessAgent"]

logger = logging.getLogger(__name__)

SESSION_COOKIE = "doorstep_session"


class AgentError(Exception):
    """The office refused a request of the headless agent (``status`` and machine ``code``)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"office answered {status} {code}")
        self.status = status
        self.code = code


class _ColourTrack(MediaStreamTrack):
    """A slowly changing solid colour at ``fps`` (what the agent's camera would send)."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__()
        self.width, self.height, self.period = width, height, 1.0 / fps
        self.frames_sent = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self.frames_sent * self.period - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        image = np.full((self.height, self.width, 3), (self.frames_sent * 3) % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = int(self.frames_sent * self.period * 90_000)
        frame.time_base = fractions.Fraction(1, 90_000)
        self.frames_sent += 1
        return frame


class _AnswerPeer:
    """One answering peer connection of the agent."""

    def __init__(
        self, generation: int, width: int, height: int, fps: float, heartbeat: float, blobs: dict[str, bytes]
    ) -> None:
        self.generation = generation
        self.blobs = blobs
        self._incoming: tuple[dict[str, Any], bytearray] | None = None
        self.pc = RTCPeerConnection()
        self.track = _ColourTrack(width, height, fps)
        self.audio = AudioStreamTrack()  # silence, paced like a microphone
        self.pc.addTrack(self.track)
        self.pc.addTrack(self.audio)
        self.frames: dict[str, int] = {}
        self.heartbeats = 0
        self.channel: RTCDataChannel | None = None
        self.control: list[dict[str, Any]] = []
        self._heartbeat = heartbeat
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", lambda track: self._spawn(self._drain(track)))
        self.pc.on("datachannel", self._bind)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            self.frames[track.kind] = self.frames.get(track.kind, 0) + 1

    def _bind(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        channel.on("message", self._on_message)
        self._spawn(self._beat(channel))

    def _on_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            if self._incoming is not None:
                self._incoming[1].extend(data)
            return
        with contextlib.suppress(ValueError):
            message = json.loads(data)
            if not isinstance(message, dict):
                return
            kind = message.get("type")
            if kind == "heartbeat":
                self.heartbeats += 1
            elif kind == "blob.start":
                self._incoming = (message, bytearray())
            elif kind == "blob.end" and self._incoming is not None:
                meta, body = self._incoming
                self._incoming = None
                if len(body) == meta.get("bytes") and hashlib.sha256(body).hexdigest() == meta.get("sha256"):
                    self.blobs[str(meta.get("transfer_id"))] = bytes(body)
                else:
                    logger.warning("headless agent: blob %s arrived damaged", meta.get("transfer_id"))
            elif len(self.control) < 1000:
                self.control.append(message)

    async def _beat(self, channel: RTCDataChannel) -> None:
        n = 0
        while channel.readyState in ("connecting", "open"):
            if channel.readyState == "open":
                channel.send(json.dumps({"type": "heartbeat", "n": n}))
                n += 1
            await asyncio.sleep(self._heartbeat)

    async def answer(self, sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        # shielded: cancelling a task that awaits aiortc's close would cancel aiortc's own closing
        # future and make its close task fail with InvalidStateError
        await asyncio.shield(self.pc.close())
        self.track.stop()
        self.audio.stop()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


class HeadlessAgent:
    """An agent without a browser; see the module docstring."""

    def __init__(
        self,
        signaling: SignalingClient,
        http: httpx.AsyncClient | None = None,
        *,
        csrf_token: str = "",
        width: int = 320,
        height: int = 240,
        fps: float = 15.0,
        heartbeat_interval: float = 1.0,
    ) -> None:
        self.signaling = signaling
        self.http = http
        self.csrf_token = csrf_token
        self.width, self.height, self.fps = width, height, fps
        self.heartbeat_interval = heartbeat_interval
        self.call_id: str | None = None
        self.call_state: CallStateName | None = None
        self.invites: list[CallInvite] = []
        self.accepts: list[CallAccept] = []
        self.declines: list[CallDecline] = []
        self.blobs: dict[str, bytes] = {}
        """Images received over the data channel, by ``transfer_id`` (checked against their SHA-256)."""
        self.peer: _AnswerPeer | None = None
        self.generations_answered = 0
        self.progress: list[HwProgress] = []
        self._frames_before: dict[str, int] = {}
        self._results: dict[str, asyncio.Future[HwResult]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._counter = 0

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    async def login(
        cls,
        base_url: str,
        username: str,
        password: str,
        *,
        signaling_path: str = "/ws/signaling",
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> Self:
        """Log in to the office at ``base_url`` and prepare the signaling client with the cookie.

        ``transport`` lets tests reach an in-process app (``httpx.ASGITransport``).
        """
        http = httpx.AsyncClient(base_url=base_url, timeout=10.0, trust_env=False, transport=transport)
        try:
            response = await http.post("/api/auth/login", json={"username": username, "password": password})
            _check(response)
            cookie = http.cookies.get(SESSION_COOKIE)
            if cookie is None:
                raise AgentError(response.status_code, "no_session_cookie")
        except BaseException:
            await http.aclose()
            raise
        parts = urllib.parse.urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = urllib.parse.urlunsplit((scheme, parts.netloc, signaling_path, "", ""))
        client = SignalingClient(
            url, Role.AGENT, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, client_name="doorstep-headless"
        )
        return cls(client, http, csrf_token=str(response.json()["csrf_token"]), **kwargs)

    async def start(self) -> None:
        """Connect signaling and start handling messages."""
        self.signaling.start()
        await self.signaling.wait_connected()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="headless-agent")

    async def close(self) -> None:
        """Hang up nothing, just close the peer, the signaling client and the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_peer()
        await self.signaling.close()
        if self.http is not None:
            await self.http.aclose()
        for future in self._results.values():
            future.cancel()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- REST -----------------------------------------------------------------------------------

    async def set_available(self, window_no: int | None = None) -> dict[str, Any]:
        """Declare myself available for calls (``PUT /api/queue/agents/me/state``)."""
        body: dict[str, Any] = {"state": "available"}
        if window_no is not None:
            body["window_no"] = window_no
        return await self._send_json("PUT", "/api/queue/agents/me/state", body)

    async def call_next(self) -> dict[str, Any] | None:
        """Take the next ticket (the office's queue API); the ticket as JSON, or None if none waits."""
        data = await self._post("/api/queue/call-next", {})
        ticket = data.get("ticket")
        return ticket if isinstance(ticket, dict) else None

    async def start_call(self, ticket_id: int) -> dict[str, Any]:
        """Ask the office to start the video call for a ticket (``POST /api/calls``)."""
        data = await self._post("/api/calls", {"ticket_id": ticket_id})
        call_id = data.get("call_id") or data.get("id")
        if isinstance(call_id, str):
            self.call_id = call_id
        return data

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send_json("POST", path, body)

    async def _send_json(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.http is None:
            raise RuntimeError("this agent has no HTTP client (construct it with login())")
        response = await self.http.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf_token})
        _check(response)
        data = response.json()
        return data if isinstance(data, dict) else {}

    # -- call -----------------------------------------------------------------------------------

    @property
    def frames_received(self) -> dict[str, int]:
        """Frames received per kind, over every peer connection of the call."""
        totals = dict(self._frames_before)
        if self.peer is not None:
            for kind, n in self.peer.frames.items():
                totals[kind] = totals.get(kind, 0) + n
        return totals

    @property
    def heartbeats_received(self) -> int:
        """Heartbeats received on the current peer connection's control channel."""
        return 0 if self.peer is None else self.peer.heartbeats

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> None:
        """Wait until ``predicate()`` is true (re-checked on every message and every 100 ms)."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await self._changed.wait()

    async def request_hw(
        self,
        action: HwAction | str,
        params: dict[str, str | int | float | bool] | None = None,
        *,
        within: float,
    ) -> HwResult:
        """Send ``hw.request`` for the active call and wait for its ``hw.result``.

        When the result lists ``transfers`` (document images), also waits until each has arrived
        intact over the data channel (in :attr:`blobs`); raises ``TimeoutError`` past ``within``.
        """
        if self.call_id is None:
            raise RuntimeError("no active call")
        self._counter += 1
        request_id = f"hw-{self._counter}"
        future: asyncio.Future[HwResult] = asyncio.get_running_loop().create_future()
        self._results[request_id] = future
        try:
            async with asyncio.timeout(within):
                await self.signaling.send(
                    HwRequest(
                        call_id=self.call_id,
                        request_id=request_id,
                        action=HwAction(action),
                        params=params or {},
                    )
                )
                result = await future
                transfers = (result.data or {}).get("transfers")
                wanted = (
                    [t["transfer_id"] for t in transfers if isinstance(t, dict)]
                    if isinstance(transfers, list)
                    else []
                )
                while not all(str(t) in self.blobs for t in wanted):
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.05):
                            await self._changed.wait()
                return result
        finally:
            self._results.pop(request_id, None)

    async def hang_up(self, reason: str = "completed") -> None:
        """End the active call (``call.end``) and close the peer connection."""
        if self.call_id is not None:
            await self.signaling.send(CallEnd(call_id=self.call_id, reason=reason))
        await self._drop_peer()

    async def break_media(self) -> None:
        """Close the current peer connection without telling anyone (a broken media path, for tests)."""
        await self._drop_peer()

    # -- internals ------------------------------------------------------------------------------

    async def _drop_peer(self) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            for kind, n in peer.frames.items():
                self._frames_before[kind] = self._frames_before.get(kind, 0) + n
            await peer.close()

    async def _run(self) -> None:
        async for message in self.signaling.messages():
            try:
                await self._handle(message)
            except Exception:  # one bad message must not stop the agent; logged with its type only
                logger.exception("headless agent: handling %s failed", message.type)
            self._changed.set()

    async def _handle(self, message: BaseMessage) -> None:
        if isinstance(message, CallInvite):
            self.invites.append(message)
            if message.call_id != self.call_id:
                await self._drop_peer()  # a new call: its generations start again at 0
            self.call_id = message.call_id
        elif isinstance(message, CallState) and message.call_id == self.call_id:
            self.call_state = message.state
            if message.state is CallStateName.ENDED:
                await self._drop_peer()
        elif isinstance(message, Description) and message.call_id == self.call_id:
            await self._on_description(message)
        elif isinstance(message, CallAccept):
            self.accepts.append(message)
        elif isinstance(message, CallDecline):
            self.declines.append(message)
        elif isinstance(message, HwProgress):
            self.progress.append(message)
        elif isinstance(message, HwResult):
            future = self._results.get(message.request_id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, CallEnd) and message.call_id == self.call_id:
            await self._drop_peer()

    async def _on_description(self, message: Description) -> None:
        current = -1 if self.peer is None else self.peer.generation
        if message.sdp_type != "offer" or (self.peer is not None and message.generation <= current):
            logger.info("headless agent: %s for generation %s dropped", message.sdp_type, message.generation)
            return
        await self._drop_peer()
        peer = _AnswerPeer(
            message.generation, self.width, self.height, self.fps, self.heartbeat_interval, self.blobs
        )
        self.peer = peer
        sdp = await peer.answer(message.sdp)
        self.generations_answered += 1
        assert self.call_id is not None
        await self.signaling.send(
            Description(call_id=self.call_id, generation=message.generation, sdp_type="answer", sdp=sdp)
        )


def _check(response: httpx.Response) -> None:
    if response.status_code >= 400:
        code = "error"
        with contextlib.suppress(ValueError, KeyError, TypeError):
            body = response.json()
            code = str(body["error"]["code"])
        raise AgentError(response.status_code, code)
