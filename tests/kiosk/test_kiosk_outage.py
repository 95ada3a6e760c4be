"""A media-path blackout (every ICE datagram dropped) mid-call: new peer connections until media returns."""

from __future__ import annotations

from typing import Any

import aioice.ice
import pytest

from agent_console.headless import HeadlessAgent
from kiosk.runtime import KioskRuntime
from tests.kiosk.relay import Relay

CallPair = tuple[Relay, KioskRuntime, HeadlessAgent]


class Blackout:
    """Drops every datagram aioice receives while ``on`` (a userspace stand-in for netem loss 100 %)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = False
        self.dropped = 0
        original = aioice.ice.StunProtocol.datagram_received
        blackout = self

        def datagram_received(protocol: aioice.ice.StunProtocol, data: Any, addr: Any) -> None:
            if blackout.on:
                blackout.dropped += 1
                return
            original(protocol, data, addr)

        monkeypatch.setattr(aioice.ice.StunProtocol, "datagram_received", datagram_received)


async def test_blackout_then_media_returns_on_a_new_generation(
    call_pair: CallPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Media dies in a blackout; the kiosk keeps renegotiating; once it ends, frames flow again both ways."""
    relay, kiosk, agent = call_pair
    blackout = Blackout(monkeypatch)
    await relay.start_call()
    await agent.wait_for(
        lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= 10, within=10
    )
    assert kiosk.call is not None
    blackout.on = True
    await agent.wait_for(lambda: kiosk.call is not None and kiosk.call.generation >= 2, within=12)
    attempts_during = kiosk.call.attempts
    blackout.on = False
    kiosk_before = kiosk.call.frames_received.get("video", 0)
    agent_before = agent.frames_received.get("video", 0)
    await agent.wait_for(
        lambda: (
            kiosk.call is not None
            and kiosk.call.frames_received.get("video", 0) >= kiosk_before + 10
            and agent.frames_received.get("video", 0) >= agent_before + 10
        ),
        within=10,
    )
    assert blackout.dropped > 0
    assert attempts_during >= 3  # generation 0, then at least two attempts that could not connect
    assert agent.peer is not None and agent.peer.generation == kiosk.call.generation
