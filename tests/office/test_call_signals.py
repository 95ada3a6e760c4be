"""office.calls.signals.announce: the hub learns the parties of the calls the office announces."""

from __future__ import annotations

from office.calls.signals import Notice, announce
from signaling import hub as hub_module
from signaling.bus import InProcessBus
from signaling.hub import CallInfo, SignalingHub
from signaling.messages import CallInvite, CallStateName
from signaling.presence import InMemoryPresence
from signaling.relay import CallParties

PARTIES = CallParties("agent-1", "kiosk-1")


class CountingCalls:
    """Call records that count the hub's look-ups."""

    def __init__(self) -> None:
        self.calls: dict[str, CallInfo] = {}
        self.lookups = 0

    async def lookup(self, call_id: str) -> CallInfo | None:
        self.lookups += 1
        return self.calls.get(call_id)


async def test_parties_announced_by_the_office_are_relayed_without_a_look_up() -> None:
    """The office announces the call it created: the hub keeps its parties, so the kiosk's accept
    and offer need no look-up; other calls are still looked up once, and the remembered calls
    are bounded (oldest first out)."""
    calls = CountingCalls()
    hub = SignalingHub(InProcessBus(), InMemoryPresence(), calls, instance_id="i1")
    invite = CallInvite(call_id="call-9", agent_id="agent-1", kiosk_id="kiosk-1", ticket="A001")
    await announce(hub, [Notice(PARTIES, (invite,))])
    assert await hub.parties("call-9") == PARTIES and calls.lookups == 0
    calls.calls["call-10"] = CallInfo(PARTIES, CallStateName.CREATED)
    assert await hub.parties("call-10") == PARTIES and calls.lookups == 1
    assert await hub.parties("call-10") == PARTIES and calls.lookups == 1
    assert await hub.parties("call-11") is None and calls.lookups == 2
    for n in range(hub_module._PARTIES_KEPT):
        hub.remember_parties(f"c{n}", PARTIES)
    assert (
        await hub.parties("call-9") is None and calls.lookups == 3
    )  # forgotten, and unknown to the directory
    await hub.bus.close()
