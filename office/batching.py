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
from typing import Generic, TypeVar, cast

from anyio import to_thread

__all__ = ["Combiner", "combiner_for"]

P = TypeVar("P")
R = TypeVar("R")


class _Entry(Generic[P, R]):
    """One request waiting in a combiner: woken once, to lead a batch or with its outcome."""

    __slots__ = ("lead", "outcome", "press", "wake")

    def __init__(self, press: P, loop: asyncio.AbstractEventLoop) -> None:
        self.press = press
        #: Resolved True when this entry is to lead the next batch, False when its outcome is set.
        self.wake: asyncio.Future[bool] = loop.create_future()
        self.lead = False
        self.outcome: R | BaseException | None = None

    def result(self) -> R:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return cast(R, self.outcome)


class Combiner(Generic[P, R]):
    """Runs ``work(presses) -> outcomes`` (same length, same order) for presses (requests) that
    arrive together, one batch at a time, in a worker thread.

    A request costs one future on the event loop (no task, no ``asyncio.wait``): it is woken once,
    either to lead the next batch or with its outcome already stored on its entry.
    """

    def __init__(self, work: Callable[[Sequence[P]], Sequence[R | BaseException]]) -> None:
        self._work = work
        self._waiting: list[_Entry[P, R]] = []
        self._busy = False

    async def submit(self, press: P) -> R:
        """The outcome of ``press`` (its exception re-raised), from whichever batch carried it."""
        entry: _Entry[P, R] = _Entry(press, asyncio.get_running_loop())
        self._waiting.append(entry)
        if self._busy:
            try:
                lead = await entry.wake
            except asyncio.CancelledError:
                self._withdraw(entry)
                raise
            if not lead:
                return entry.result()
        else:
            self._busy = True
            entry.lead = True
        # Shielded: once a batch starts, its presses get their outcomes (and the next batch its
        # leader) even if this request is cancelled meanwhile.
        await asyncio.shield(self._run_batch())
        return entry.result()

    def _withdraw(self, entry: _Entry[P, R]) -> None:
        """A press cancelled before its batch started: drop it, and pass on its leadership."""
        if entry not in self._waiting:
            return  # already in a running batch, which will finish without it
        self._waiting.remove(entry)
        if entry.lead:
            self._next_leader()

    def _next_leader(self) -> None:
        if self._waiting:
            leader = self._waiting[0]  # the next batch is led by the first press that queued
            leader.lead = True
            leader.wake.set_result(True)
        else:
            self._busy = False

    async def _run_batch(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            outcomes = await to_thread.run_sync(self._work, [e.press for e in batch])
        except BaseException as err:  # the whole batch failed: every press sees the error
            outcomes = [err] * len(batch)
        for entry, outcome in zip(batch, outcomes, strict=True):
            entry.outcome = outcome
            if not entry.wake.done():  # the leader's is; a cancelled waiter's too
                entry.wake.set_result(False)
        self._next_leader()


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
