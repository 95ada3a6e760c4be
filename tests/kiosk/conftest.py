"""Fixtures for kiosk tests: a test-local signaling relay, a kiosk runtime and a headless agent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_console.headless import HeadlessAgent
from kiosk.devices import DeviceService, auto_grant
from kiosk.media import SyntheticVideoTrack, ToneAudioTrack
from kiosk.peer import PeerSettings
from kiosk.runtime import KioskRuntime
from signaling.backoff import Backoff
from signaling.client import SignalingClient
from signaling.messages import Role
from tests.kiosk.relay import Relay, running_relay

FAST = PeerSettings(heartbeat_interval=0.5, dead_after=2.0, connect_timeout=3.0, retry_delay=0.3)


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    """The signaling relay on a loopback port."""
    async with running_relay() as r:
        yield r


def kiosk_runtime(relay: Relay, **kwargs: object) -> KioskRuntime:
    """A kiosk runtime with a synthetic 320×240@15 camera, a tone and the simulated ID-card reader."""
    client = SignalingClient(
        relay.url, Role.KIOSK, headers={"Authorization": "Bearer kiosk-token"}, client_name="kiosk-test"
    )
    devices = DeviceService(
        {
            "idcard": "sim://idcard?card=resident-male",
            "document_camera": "sim://document_camera?width=1600&height=1200",
        },
        consent=auto_grant,
    )
    return KioskRuntime(
        client,
        devices,
        lambda: [SyntheticVideoTrack(320, 240, 15, stamped=True), ToneAudioTrack()],
        peer_settings=FAST,
        **kwargs,  # type: ignore[arg-type]
    )


def headless_agent(relay: Relay) -> HeadlessAgent:
    """A headless agent on the relay (no HTTP: the test plays the office)."""
    client = SignalingClient(
        relay.url,
        Role.AGENT,
        headers={"Authorization": "Bearer agent-token"},
        client_name="agent-test",
        backoff=Backoff(),
    )
    return HeadlessAgent(client, heartbeat_interval=0.5)


@pytest.fixture
async def call_pair(relay: Relay) -> AsyncIterator[tuple[Relay, KioskRuntime, HeadlessAgent]]:
    """A kiosk and an agent, both connected; no call yet."""
    kiosk = kiosk_runtime(relay)
    agent = headless_agent(relay)
    async with kiosk, agent:
        yield relay, kiosk, agent
