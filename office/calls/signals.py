"""Party ids, the hub's view of call records, and telling parties what happened to a call.

Party ids on the signaling protocol are ``agent-<user id>`` and ``kiosk-<kiosk id>``.
:class:`DbCallDirectory` answers the hub's look-ups from the ``calls`` table (so every office
instance sees the same parties). Service functions return :class:`Notice` values; the WebSocket
endpoint awaits :func:`announce` on the hub's loop, worker threads (REST handlers, periodic jobs)
use :func:`deliver`, which hands the coroutine to that loop and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from office.context import OfficeContext
from office.models import Call
from signaling.hub import CallInfo, SignalingHub
from signaling.messages import BaseMessage, CallMessage, CallStateName, Role
from signaling.relay import CallParties, Party

__all__ = [
    "DbCallDirectory",
    "Notice",
    "agent_party",
    "announce",
    "deliver",
    "kiosk_party",
    "parse_party",
    "parties_of",
    "run_on_hub",
]

log = logging.getLogger("office.calls")
T = TypeVar("T")
_HUB_WAIT_S = 10.0


def agent_party(user_id: int) -> Party:
    """The signaling party of an agent (or supervisor) user."""
    return Party(Role.AGENT, f"agent-{user_id}")


def kiosk_party(kiosk_id: int) -> Party:
    """The signaling party of a kiosk."""
    return Party(Role.KIOSK, f"kiosk-{kiosk_id}")


def parse_party(party: Party) -> int:
    """The user or kiosk id behind a party id (``ValueError`` for a foreign id)."""
    prefix = "agent-" if party.role is Role.AGENT else "kiosk-"
    if not party.id.startswith(prefix):
        raise ValueError("not an office party id")
    return int(party.id[len(prefix) :])


def parties_of(call: Call) -> CallParties:
    """The two signaling parties of a call row."""
    return CallParties(agent_party(call.agent_id).id, kiosk_party(call.kiosk_id).id)


@dataclass(frozen=True)
class Notice:
    """Messages for the two parties of a call (each goes to every listed party)."""

    parties: CallParties
    messages: tuple[BaseMessage, ...]
    #: Only these parties (default: both).
    to: tuple[Party, ...] | None = None


async def announce(hub: SignalingHub, notices: Iterable[Notice]) -> None:
    """Send each notice's messages to its parties, wherever they are connected."""
    for notice in notices:
        targets = notice.to if notice.to is not None else (notice.parties.agent, notice.parties.kiosk)
        for message in notice.messages:
            if isinstance(message, CallMessage):
                hub.remember_parties(message.call_id, notice.parties)
            for party in targets:
                await hub.send_to(party, message)


def run_on_hub(ctx: OfficeContext, coro: Coroutine[Any, Any, T]) -> T | None:
    """Run ``coro`` on the hub's loop from a worker thread and wait; ``None`` without a hub.

    Must not be called on the hub's own loop (use ``await`` there).
    """
    loop = ctx.hub_loop
    if loop is None or loop.is_closed():
        coro.close()
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("run_on_hub called on the hub's loop; await the coroutine instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=_HUB_WAIT_S)


def deliver(ctx: OfficeContext, notices: list[Notice]) -> None:
    """From a worker thread: announce ``notices`` through the hub (no-op without signaling)."""
    if notices and ctx.hub is not None:
        run_on_hub(ctx, announce(ctx.hub, notices))


class DbCallDirectory:
    """The hub's :class:`~signaling.hub.CallDirectory` over the ``calls`` table."""

    def __init__(self, ctx: OfficeContext) -> None:
        self._ctx = ctx

    def lookup_sync(self, call_id: str) -> CallInfo | None:
        """The call's parties and state, or ``None``."""
        with self._ctx.read_engine.connect() as conn:
            row = conn.execute(
                select(Call.agent_id, Call.kiosk_id, Call.state).where(Call.id == call_id)
            ).first()
        if row is None:
            return None
        parties = CallParties(agent_party(row.agent_id).id, kiosk_party(row.kiosk_id).id)
        return CallInfo(parties, CallStateName(row.state))

    async def lookup(self, call_id: str) -> CallInfo | None:
        """See :meth:`lookup_sync` (run in a worker thread)."""
        return await run_in_threadpool(self.lookup_sync, call_id)
