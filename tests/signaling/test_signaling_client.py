"""The client adapter against real websockets servers running SignalingHub on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.http11 import Request, Response

from signaling.backoff import Backoff
from signaling.bus import Bus, InProcessBus, channel_for_office_events
from signaling.client import SignalingClient
from signaling.errors import BusError, ConnectionRejected, ErrorCode, LocalProtocolError, OutboxFull
from signaling.hub import AuditRecord, CallInfo, SignalingHub
from signaling.messages import (
    BaseMessage,
    CallAccept,
    CallEnd,
    CallInvite,
    CallState,
    CallStateName,
    Candidate,
    Description,
    ErrorMessage,
    Event,
    HwRequest,
    HwResult,
    IceCandidate,
    Ping,
    Role,
    Welcome,
    serialize,
)
from signaling.presence import InMemoryPresence, Presence, RedisPresence
from signaling.redis_bus import RedisBus
from signaling.relay import CallParties, Party

CALL = "call-1"

KIOSK = Party(Role.KIOSK, "k1")
AGENT = Party(Role.AGENT, "a1")
STRANGER = Party(Role.KIOSK, "k2")
TOKENS = {"Bearer kiosk-k1": KIOSK, "Bearer agent-a1": AGENT, "Bearer kiosk-k2": STRANGER}


def auth(token: str) -> dict[str, str]:
    """Headers a client sends for ``token``."""
    return {"Authorization": f"Bearer {token}"}


class MemoryCalls:
    """The office's call records."""

    def __init__(self) -> None:
        self.calls: dict[str, CallInfo] = {}

    def add(self, call_id: str, state: CallStateName = CallStateName.CREATED) -> None:
        """Record a call between the fixed agent and kiosk."""
        self.calls[call_id] = CallInfo(CallParties(AGENT.id, KIOSK.id), state)

    async def lookup(self, call_id: str) -> CallInfo | None:
        """The call, if known."""
        return self.calls.get(call_id)


class _WsTransport:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


class MiniOffice:
    """One office instance on 127.0.0.1."""

    def __init__(
        self,
        bus: Bus,
        presence: Presence,
        calls: MemoryCalls,
        instance_id: str,
        port: int = 0,
        **hub_options: Any,
    ) -> None:
        self.calls = calls
        self.audits: list[AuditRecord] = []
        self.hub = SignalingHub(
            bus,
            presence,
            calls,
            instance_id=instance_id,
            audit=self._audit,
            heartbeat_interval=0.2,
            disconnect_errors=(ConnectionClosed,),
            **hub_options,
        )
        self.port = port
        self.sockets: dict[Party, ServerConnection] = {}
        self._server: Server | None = None

    async def _audit(self, record: AuditRecord) -> None:
        self.audits.append(record)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") not in TOKENS:
            return connection.respond(401, "unauthenticated\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        party = TOKENS[ws.request.headers["Authorization"]]  # type: ignore[union-attr]
        self.sockets[party] = ws
        await self.hub.serve(party, _WsTransport(ws), ws)

    async def start(self) -> None:
        """Listen (on the same port as before when restarted)."""
        self._server = await serve(self._handler, "127.0.0.1", self.port, process_request=self._check)
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port

    @property
    def url(self) -> str:
        """The WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}/signaling"

    async def stop(self) -> None:
        """Shut down like a restarting process (clients see 1001)."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


FAST = Backoff(initial=0.02, maximum=0.1)
M = TypeVar("M", bound=BaseMessage)


def _client(url: str, role: Role, token: str, **kwargs: object) -> SignalingClient:
    return SignalingClient(
        url,
        role,
        headers=auth(token),
        backoff=FAST,
        rng=random.Random(1),
        **kwargs,  # type: ignore[arg-type]
    )


async def _expect(client: SignalingClient, kind: type[M], where: Callable[[M], bool] = lambda m: True) -> M:
    """The next message of ``kind`` matching ``where`` (others are skipped), within 5 s."""
    async with asyncio.timeout(5):
        while True:
            message = await client.recv()
            if isinstance(message, kind) and where(message):
                return message


async def _until(predicate: Callable[[], Awaitable[bool]]) -> None:
    """Poll an outside condition (socket state seen from another task) for up to 5 s."""
    async with asyncio.timeout(5):
        for _ in itertools.count():
            if await predicate():
                return
            await asyncio.sleep(0.01)


@pytest.fixture
async def office() -> AsyncIterator[MiniOffice]:
    """One office instance with an in-process bus and an empty call directory."""
    calls = MemoryCalls()
    bus, presence = InProcessBus(), InMemoryPresence()
    office = MiniOffice(bus, presence, calls, "office-a")
    await office.start()
    yield office
    await office.stop()
    await bus.close()


@pytest.fixture
async def pair(office: MiniOffice) -> AsyncIterator[tuple[SignalingClient, SignalingClient]]:
    """A connected kiosk and agent on ``office``, with CALL negotiating between them."""
    office.calls.add(CALL, CallStateName.NEGOTIATING)
    kiosk = _client(office.url, Role.KIOSK, "kiosk-k1")
    agent = _client(office.url, Role.AGENT, "agent-a1")
    async with kiosk, agent:
        await kiosk.wait_connected()
        await agent.wait_connected()
        for party in (KIOSK, AGENT):
            await office.hub.send_to(party, CallState(call_id=CALL, state=CallStateName.NEGOTIATING))
        await _expect(kiosk, CallState)
        await _expect(agent, CallState)
        yield kiosk, agent


async def test_hello_welcome_and_presence(office: MiniOffice) -> None:
    """A kiosk is welcomed with its identity from the token and shows up in presence."""
    async with _client(office.url, Role.KIOSK, "kiosk-k1") as kiosk:
        await kiosk.wait_connected()
        assert kiosk.welcome is not None
        assert (kiosk.welcome.role, kiosk.welcome.party_id, kiosk.welcome.instance) == (
            Role.KIOSK,
            "k1",
            "office-a",
        )
        assert await office.hub.presence.where(Role.KIOSK, "k1") is not None
    await _until(lambda: _offline(office, KIOSK))


async def _offline(office: MiniOffice, party: object) -> bool:
    return not await office.hub.presence.is_online(Role.KIOSK, "k1")


async def test_bad_token_is_rejected_for_good(office: MiniOffice) -> None:
    """HTTP 401 at the handshake raises ConnectionRejected and stops reconnecting."""
    client = _client(office.url, Role.KIOSK, "wrong")
    async with client:
        with pytest.raises(ConnectionRejected) as info:
            await client.wait_connected()
        assert info.value.http_status == 401
        with pytest.raises(ConnectionRejected):
            await client.recv()


async def test_call_flow_relays_between_parties(office: MiniOffice) -> None:
    """Invite, accept, state and descriptions travel between the call's two parties only."""
    office.calls.add(CALL)
    async with (
        _client(office.url, Role.KIOSK, "kiosk-k1") as kiosk,
        _client(office.url, Role.AGENT, "agent-a1") as agent,
    ):
        await kiosk.wait_connected()
        await agent.wait_connected()
        await office.hub.send_to(KIOSK, CallInvite(call_id=CALL, agent_id="a1", kiosk_id="k1", ticket="A017"))
        invite = await _expect(kiosk, CallInvite)
        assert (invite.ticket, invite.seq) == ("A017", 1)
        await kiosk.send(CallAccept(call_id=CALL))
        assert (await _expect(agent, CallAccept)).call_id == CALL
        for party in (KIOSK, AGENT):
            await office.hub.send_to(party, CallState(call_id=CALL, state=CallStateName.NEGOTIATING))
        await _expect(kiosk, CallState)
        await _expect(agent, CallState)
        assert kiosk.active_call == agent.active_call == CALL
        await agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0 offer"))
        offer = await _expect(kiosk, Description)
        assert offer.sdp == "v=0 offer"
        await kiosk.send(Description(call_id=CALL, sdp_type="answer", sdp="v=0 answer"))
        await kiosk.send(Candidate(call_id=CALL, candidate=None))
        assert (await _expect(agent, Description)).sdp_type == "answer"
        assert (await _expect(agent, Candidate)).candidate is None
        assert kiosk.last_seq == offer.seq
        await agent.send(HwRequest(call_id=CALL, request_id="hw-1", action="read_id_card"))
        request = await _expect(kiosk, HwRequest)
        await kiosk.send(HwResult(call_id=CALL, request_id=request.request_id, outcome="consent_refused"))
        result = await _expect(agent, HwResult)
        assert (result.request_id, result.outcome, result.ok) == ("hw-1", "consent_refused", False)
        await office.hub.send_to(AGENT, Event(topic="queue.updated", payload={"waiting": 2}))
        assert (await _expect(agent, Event)).payload == {"waiting": 2}


async def test_stranger_is_refused_and_audited(office: MiniOffice) -> None:
    """A kiosk that is not a party gets not_a_party; the refusal is audited; the call is untouched."""
    office.calls.add(CALL)
    async with (
        _client(office.url, Role.KIOSK, "kiosk-k2") as stranger,
        _client(office.url, Role.AGENT, "agent-a1") as agent,
    ):
        await stranger.wait_connected()
        await agent.wait_connected()
        await stranger.send(CallEnd(id="m1", call_id=CALL))
        error = await _expect(stranger, ErrorMessage)
        assert (error.code, error.ref, error.call_id) == (ErrorCode.NOT_A_PARTY, "m1", CALL)
        await stranger.send(CallEnd(id="m2", call_id="no-such-call"))
        assert (await _expect(stranger, ErrorMessage)).code is ErrorCode.UNKNOWN_CALL
        assert [(a.party, a.code) for a in office.audits] == [
            (STRANGER, ErrorCode.NOT_A_PARTY),
            (STRANGER, ErrorCode.UNKNOWN_CALL),
        ]
        await agent.send(CallEnd(call_id="other"))
        assert (await _expect(agent, ErrorMessage)).code is ErrorCode.UNKNOWN_CALL


async def test_malformed_frames_do_not_affect_other_connections(
    office: MiniOffice, pair: tuple[SignalingClient, SignalingClient]
) -> None:
    """Garbage from one socket gets errors and finally a 4400 close; the call's sockets carry on."""
    from websockets.asyncio.client import connect

    kiosk, agent = pair
    async with connect(office.url, additional_headers=auth("kiosk-k2")) as raw:
        await raw.send(serialize(Ping()))
        await raw.send('{"type":"hello"}')
        assert '"pong"' in str(await raw.recv())
        assert '"welcome"' in str(await raw.recv())
        for _ in range(11):
            await raw.send("{garbage")
        frames = []
        closed: ConnectionClosedError | None = None
        while closed is None:
            try:
                frames.append(await raw.recv())
            except ConnectionClosedError as err:
                closed = err
        assert raw.close_code == 4400
        assert len(frames) == 11
        assert '"too_many_errors"' in str(frames[-1])
    await agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0"))
    assert (await _expect(kiosk, Description)).sdp == "v=0"


async def test_dropped_socket_reconnects_resumes_and_flushes(
    office: MiniOffice, pair: tuple[SignalingClient, SignalingClient]
) -> None:
    """After the kiosk's socket drops: reconnect, resume with last seq, replay missed, flush queued."""
    kiosk, agent = pair
    await agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0 first"))
    first = await _expect(kiosk, Description)
    socket = office.sockets[KIOSK]
    kiosk.url = "ws://127.0.0.1:9/"  # keep the kiosk away until the agent's message is logged
    socket.transport.abort()
    await _until(lambda: _not(kiosk.connected))
    await kiosk.send(Candidate(call_id=CALL, candidate=IceCandidate(candidate="candidate:queued")))
    await agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0 missed"))
    await _until(lambda: _logged(office, "v=0 missed"))
    kiosk.url = office.url
    missed = await _expect(kiosk, Description)
    assert missed.sdp == "v=0 missed"
    assert missed.seq is not None and first.seq is not None and missed.seq > first.seq
    resumed = await _expect(kiosk, CallState)
    assert (resumed.call_id, resumed.state) == (CALL, CallStateName.NEGOTIATING)
    queued = await _expect(agent, Candidate)
    assert queued.candidate is not None and queued.candidate.candidate == "candidate:queued"
    assert kiosk.connects == 2


async def _not(value: bool) -> bool:
    return not value


async def test_office_restart_mid_call_resumes(office: MiniOffice) -> None:
    """Both parties reconnect to a restarted office on the same port, resume and exchange again."""
    office.calls.add(CALL, CallStateName.CONNECTED)
    kiosk = _client(office.url, Role.KIOSK, "kiosk-k1")
    agent = _client(office.url, Role.AGENT, "agent-a1")
    async with kiosk, agent:
        await kiosk.wait_connected()
        await agent.wait_connected()
        for party in (KIOSK, AGENT):
            await office.hub.send_to(party, CallState(call_id=CALL, state=CallStateName.CONNECTED))
        seq_before_restart = (await _expect(kiosk, CallState)).seq or 0
        await _expect(agent, CallState)
        await office.stop()
        await _until(lambda: _not(kiosk.connected or agent.connected))
        bus = InProcessBus()
        restarted = MiniOffice(bus, InMemoryPresence(), office.calls, "office-a2", port=office.port)
        await restarted.start()
        try:
            assert (await _expect(kiosk, CallState)).state is CallStateName.CONNECTED
            assert (await _expect(agent, CallState)).state is CallStateName.CONNECTED
            assert kiosk.welcome is not None and kiosk.welcome.instance == "office-a2"
            await kiosk.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0 renegotiate", generation=1))
            assert (await _expect(agent, Description)).generation == 1
            await agent.send(Description(call_id=CALL, sdp_type="answer", sdp="v=0 answer", generation=1))
            answer = await _expect(kiosk, Description)
            assert answer.seq is not None and answer.seq > seq_before_restart
        finally:
            await kiosk.close()
            await agent.close()
            await restarted.stop()
            await bus.close()
        await office.start()  # the fixture stops it again


async def test_newer_connection_replaces_older(office: MiniOffice) -> None:
    """A second connection of the same kiosk closes the first with 4409; the first stops for good."""
    first = _client(office.url, Role.KIOSK, "kiosk-k1")
    second = _client(office.url, Role.KIOSK, "kiosk-k1")
    async with first:
        await first.wait_connected()
        async with second:
            await second.wait_connected()
            with pytest.raises(ConnectionRejected) as info:
                async with asyncio.timeout(5):
                    await first.recv()
            assert info.value.close_code == 4409
            assert second.connected


async def test_silent_office_is_detected_and_reconnected() -> None:
    """An office that welcomes but never answers pings is declared dead and reconnected to."""
    connections = 0

    async def mute(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await ws.recv()
        await ws.send(
            serialize(Welcome(connection_id="m", role=Role.KIOSK, party_id="k1", heartbeat_interval=0.05))
        )
        async for _ in ws:
            pass

    async with serve(mute, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with _client(f"ws://127.0.0.1:{port}/", Role.KIOSK, "k") as client:
            await client.wait_connected()
            await _until(lambda: _at_least(lambda: client.connects, 3))
    assert connections >= 3


async def _at_least(value: Callable[[], int], n: int) -> bool:
    return value() >= n


async def test_outbox_is_bounded_while_disconnected() -> None:
    """Messages queue while no office is reachable, up to max_outbox, then OutboxFull."""
    client = _client("ws://127.0.0.1:9/", Role.KIOSK, "k", max_outbox=2)
    async with client:
        await client.send(CallEnd(call_id=CALL))
        await client.send(CallEnd(call_id=CALL))
        with pytest.raises(OutboxFull):
            await client.send(CallEnd(call_id=CALL))
        with pytest.raises(LocalProtocolError):
            await client.send(Ping())


@pytest.mark.redis
async def test_kiosk_and_agent_on_different_instances(redis_url: str, unique_prefix: str) -> None:
    """Through Redis, a kiosk on instance A and an agent on instance B complete a call exchange."""
    calls = MemoryCalls()
    calls.add(CALL)
    offices = [
        MiniOffice(
            RedisBus.from_url(redis_url, prefix=unique_prefix),
            RedisPresence.from_url(redis_url, prefix=unique_prefix),
            calls,
            name,
        )
        for name in ("office-a", "office-b")
    ]
    for office in offices:
        await office.start()
    kiosk = _client(offices[0].url, Role.KIOSK, "kiosk-k1")
    agent = _client(offices[1].url, Role.AGENT, "agent-a1")
    try:
        async with kiosk, agent:
            await kiosk.wait_connected()
            await agent.wait_connected()
            assert await offices[1].hub.presence.online(Role.KIOSK) == {"k1"}
            await offices[1].hub.send_to(KIOSK, CallInvite(call_id=CALL, agent_id="a1", kiosk_id="k1"))
            await _expect(kiosk, CallInvite)
            await kiosk.send(CallAccept(call_id=CALL))
            await _expect(agent, CallAccept)
            for party in (KIOSK, AGENT):
                await offices[0].hub.send_to(party, CallState(call_id=CALL, state=CallStateName.NEGOTIATING))
            await _expect(kiosk, CallState)
            await _expect(agent, CallState)
            await agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0 cross"))
            assert (await _expect(kiosk, Description)).sdp == "v=0 cross"
            await kiosk.send(Description(call_id=CALL, sdp_type="answer", sdp="v=0 back"))
            assert (await _expect(agent, Description)).sdp == "v=0 back"
    finally:
        for office in offices:
            await office.stop()
            await office.hub.bus.close()
            await office.hub.presence.close()


class _FlakyBus(InProcessBus):
    """An in-process bus whose replay log fails once on demand, like Redis going away briefly."""

    fail_next = False

    async def next_seq(self, key: str) -> int:
        if self.fail_next:
            self.fail_next = False
            raise BusError("injected failure")
        return await super().next_seq(key)


async def test_bus_failure_closes_1011_and_client_reconnects() -> None:
    """A bus failure while relaying closes that socket with 1011; the client reconnects and resumes."""
    calls = MemoryCalls()
    calls.add(CALL, CallStateName.CONNECTED)
    bus = _FlakyBus()
    office = MiniOffice(bus, InMemoryPresence(), calls, "office-a")
    await office.start()
    try:
        async with _client(office.url, Role.AGENT, "agent-a1") as agent:
            await agent.wait_connected()
            first_socket = office.sockets[AGENT]
            agent.set_active_call(CALL)
            bus.fail_next = True
            await agent.send(CallEnd(call_id=CALL))
            await _until(lambda: _at_least(lambda: agent.connects, 2))
            assert first_socket.close_code == 1011
            assert (await _expect(agent, CallState)).state is CallStateName.CONNECTED
    finally:
        await office.stop()
        await bus.close()


async def test_messages_iterator_ends_on_close(office: MiniOffice) -> None:
    """messages() yields what the office sends and ends cleanly when the client is closed."""
    client = _client(office.url, Role.AGENT, "agent-a1")
    client.start()
    await client.wait_connected()
    got: list[BaseMessage] = []

    async def consume() -> None:
        async for message in client.messages():
            got.append(message)

    consumer = asyncio.create_task(consume())
    await office.hub.send_to(AGENT, Event(topic="board.refresh"))
    await _until(lambda: _at_least(lambda: len(got), 1))
    await client.close()
    await asyncio.wait_for(consumer, 5)
    assert [m.type for m in got] == ["event"]


async def test_shared_channels_and_presence_hook() -> None:
    """Agents hear their office's event channel, kiosks do not; presence changes reach the hook."""
    calls = MemoryCalls()
    bus, presence = InProcessBus(), InMemoryPresence()
    changes: list[tuple[str, bool]] = []

    async def channels(party: Party) -> list[str]:
        return [channel_for_office_events("o1")] if party.role is Role.AGENT else []

    async def on_presence(party: Party, online: bool) -> None:
        changes.append((party.id, online))

    office = MiniOffice(bus, presence, calls, "office-a", extra_channels=channels, on_presence=on_presence)
    await office.start()
    try:
        async with _client(office.url, Role.AGENT, "agent-a1") as agent:
            async with _client(office.url, Role.KIOSK, "kiosk-k1") as kiosk:
                await agent.wait_connected()
                await kiosk.wait_connected()
                await office.hub.publish(channel_for_office_events("o1"), Event(topic="queue.updated"))
                assert (await _expect(agent, Event)).topic == "queue.updated"
                await office.hub.send_to(KIOSK, Event(topic="kiosk.only"))
                assert (await _expect(kiosk, Event)).topic == "kiosk.only"
            await _until(lambda: _at_least(lambda: len(changes), 3))
        assert sorted(changes[:2]) == [("a1", True), ("k1", True)]
        assert changes[2] == ("k1", False)
    finally:
        await office.stop()
        await bus.close()


async def test_replaced_connection_does_not_announce_offline() -> None:
    """When a newer connection replaces an older one, no offline change is announced for the party."""
    bus, presence = InProcessBus(), InMemoryPresence()
    changes: list[tuple[str, bool]] = []

    async def on_presence(party: Party, online: bool) -> None:
        changes.append((party.id, online))

    office = MiniOffice(bus, presence, MemoryCalls(), "office-a", on_presence=on_presence)
    await office.start()
    try:
        async with _client(office.url, Role.KIOSK, "kiosk-k1") as first:
            await first.wait_connected()
            async with _client(office.url, Role.KIOSK, "kiosk-k1") as second:
                await second.wait_connected()
                with pytest.raises(ConnectionRejected):
                    async with asyncio.timeout(5):
                        await first.recv()
                assert changes == [("k1", True), ("k1", True)]
                assert await presence.is_online(Role.KIOSK, "k1")
        await _until(lambda: _at_least(lambda: len(changes), 3))
        assert changes[2:] == [("k1", False)]
    finally:
        await office.stop()
        await bus.close()


async def test_reconnect_sends_hello_resume_then_queued_frames_in_order() -> None:
    """On the wire after a drop: hello, resume(call, last seq), then the frames queued meanwhile."""
    sessions: list[list[dict[str, Any]]] = []
    second_done = asyncio.Event()

    async def recorder(ws: ServerConnection) -> None:
        frames: list[dict[str, Any]] = []
        sessions.append(frames)
        frames.append(json.loads(await ws.recv()))
        await ws.send(serialize(Welcome(connection_id=f"c{len(sessions)}", role=Role.KIOSK, party_id="k1")))
        if len(sessions) == 1:
            await ws.send(serialize(CallState(call_id=CALL, state=CallStateName.CONNECTED, seq=4)))
            await ws.wait_closed()
            return
        while len([f for f in frames if f["type"] != "ping"]) < 4:
            frames.append(json.loads(await ws.recv()))
        second_done.set()
        await ws.wait_closed()

    async with serve(recorder, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with _client(f"ws://127.0.0.1:{port}/", Role.KIOSK, "k") as client:
            await client.wait_connected()
            await _expect(client, CallState)
            assert (client.active_call, client.last_seq) == (CALL, 4)
            for connection in server.connections:
                connection.transport.abort()
            await _until(lambda: _not(client.connected))
            await client.send(Candidate(call_id=CALL, candidate=None))
            await client.send(CallEnd(call_id=CALL))
            async with asyncio.timeout(5):
                await second_done.wait()
    frames = [f for f in sessions[1] if f["type"] != "ping"]
    assert [f["type"] for f in frames[:4]] == ["hello", "resume", "candidate", "call.end"]
    assert (frames[1]["call_id"], frames[1]["last_seq"]) == (CALL, 4)


@pytest.mark.redis
async def test_resume_on_another_instance_replays_from_redis(redis_url: str, unique_prefix: str) -> None:
    """A kiosk that drops from instance A and comes back on B gets what it missed, from Redis."""
    calls = MemoryCalls()
    calls.add(CALL, CallStateName.CONNECTED)
    a, b = (
        MiniOffice(
            RedisBus.from_url(redis_url, prefix=unique_prefix),
            RedisPresence.from_url(redis_url, prefix=unique_prefix),
            calls,
            name,
        )
        for name in ("office-a", "office-b")
    )
    await a.start()
    await b.start()
    kiosk = _client(a.url, Role.KIOSK, "kiosk-k1")
    agent = _client(b.url, Role.AGENT, "agent-a1")
    try:
        async with kiosk, agent:
            await kiosk.wait_connected()
            await agent.wait_connected()
            for party in (KIOSK, AGENT):
                await a.hub.send_to(party, CallState(call_id=CALL, state=CallStateName.CONNECTED))
            await _expect(kiosk, CallState)
            await _expect(agent, CallState)
            kiosk.url = "ws://127.0.0.1:9/"  # unreachable while the agent sends
            await a.stop()
            await _until(lambda: _not(kiosk.connected))
            await agent.send(Description(call_id=CALL, sdp_type="offer", sdp="v=0 while away", generation=1))
            await _until(lambda: _logged(b, "v=0 while away"))
            kiosk.url = b.url  # the load balancer sends the reconnect to the other instance
            missed = await _expect(kiosk, Description)
            assert missed.sdp == "v=0 while away"
            resumed = await _expect(kiosk, CallState)
            assert resumed.seq is not None and missed.seq is not None and resumed.seq > missed.seq
            assert kiosk.welcome is not None and kiosk.welcome.instance == "office-b"
    finally:
        await b.stop()
        for office in (a, b):
            await office.hub.bus.close()
            await office.hub.presence.close()


async def _logged(office: MiniOffice, text: str) -> bool:
    return any(text in entry for entry in await office.hub.bus.log_since(f"kiosk.k1.{CALL}", 0))
