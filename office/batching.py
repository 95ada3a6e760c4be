"""Requests arriving together are served together: one worker-thread hop and one database round
trip (or transaction) for a whole batch (the DataLoader pattern).

When 50 agents press call-next at the same moment, 50 separate claims would each sort the same
queue and skip the same locked head rows, and 50 separate session look-ups would each take a thread
hop and a round trip. Instead, within one office process, requests are combined: the first finds
no batch running and leads one at once (no waiting for company); requests that arrive while a batch
runs queue up, and when it ends the first of them leads the next batch for all of them. A batch is
one call of ``work(requests)`` in a worker thread; it answers request by request (a value or the
exception that request alone would have raised), and an exception of the whole batch reaches every
request in it. Users: :func:`office.queue.calling.call_next_async` (claims, see
:func:`office.queue.claim.claim_many`) and :class:`office.auth.Allow` (session and device-token
look-ups, :func:`office.auth.resolve_sessions`).

Nothing here is a guarantee: two office processes batch independently and the database's row locks
and state-checked updates still decide who gets a ticket. A combiner lives on one event loop (the
app's) and is only touched from it; the batch itself runs off the loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from anyio import to_thread

__all__ = ["Combiner", "combiner_for"]

P = TypeVar("P")
R = TypeVar("R")


@dataclass(eq=False)
class _Entry(Generic[P, R]):
    press: P
    done: asyncio.Future[R] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    #: Set when this entry is to lead the next batch (it is still waiting for its own outcome).
    lead: asyncio.Event = field(default_factory=asyncio.Event)


class Combiner(Generic[P, R]):
    """Runs ``work(presses) -> outcomes`` (same length, same order) for presses (requests) that
    arrive together, one batch at a time, in a worker thread."""

    def __init__(self, work: Callable[[Sequence[P]], Sequence[R | BaseException]]) -> None:
        self._work = work
        self._waiting: list[_Entry[P, R]] = []
        self._busy = False

    async def submit(self, press: P) -> R:
        """The outcome of ``press`` (its exception re-raised), from whichever batch carried it."""
        entry: _Entry[P, R] = _Entry(press)
        self._waiting.append(entry)
        if not self._busy:
            self._busy = True
            entry.lead.set()
        lead: asyncio.Future[Any] = asyncio.ensure_future(entry.lead.wait())
        done: asyncio.Future[Any] = entry.done
        try:
            await asyncio.wait((lead, done), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._withdraw(entry)
            raise
        finally:
            lead.cancel()
        if not entry.done.done():
            # Shielded: once a batch starts, its presses get their outcomes (and the next batch
            # its leader) even if this request is cancelled meanwhile.
            await asyncio.shield(self._run_batch())
        return await entry.done

    def _withdraw(self, entry: _Entry[P, R]) -> None:
        """A press cancelled before its batch started: drop it, and pass on its leadership."""
        if entry not in self._waiting:
            return  # already in a running batch, which will finish without it
        self._waiting.remove(entry)
        if entry.lead.is_set():
            if self._waiting:
                self._waiting[0].lead.set()
            else:
                self._busy = False

    async def _run_batch(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            outcomes = await to_thread.run_sync(self._work, [e.press for e in batch])
        except BaseException as err:  # the whole batch failed: every press sees the error
            outcomes = [err] * len(batch)
        for entry, outcome in zip(batch, outcomes, strict=True):
            if entry.done.done():  # pragma: no cover - futures are only resolved here
                continue
            if isinstance(outcome, BaseException):
                entry.done.set_exception(outcome)
            else:
                entry.done.set_result(outcome)
        if self._waiting:
            self._waiting[0].lead.set()  # the next batch is led by the first press that queued
        else:
            self._busy = False


_combiners: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, str], tuple[object, object]]
] = weakref.WeakKeyDictionary()


def combiner_for(owner: object, make: Callable[[], Combiner[P, R]], *, name: str = "") -> Combiner[P, R]:
    """The combiner ``name`` of ``owner`` (an office context) on the running event loop, made on
    first use (one per kind of request: each name batches its own work)."""
    per_loop = _combiners.setdefault(asyncio.get_running_loop(), {})
    key = (id(owner), name)
    found = per_loop.get(key)
    if found is None or found[0] is not owner:
        found = per_loop[key] = (owner, make())
    return cast(Combiner[P, R], found[1])
