"""Periodic work the office runs while it serves: ring time-outs, lost call parties, lapsed holds,
no-shows, reminders, the statistics rollup of finished days.

Each job is a plain synchronous function over the :class:`~office.context.OfficeContext`, run in a
worker thread on its own interval. Jobs are idempotent and safe on several office instances at once
(state-checked updates, unique keys), so no leader election is needed. A failing run is logged
(type only, no data) and retried at the next interval; it never stops the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from office.booking.maintenance import run_periodic
from office.booking.notify import Notifier
from office.calls.presence import process_call_timeouts
from office.cases.overdue import process_overdue
from office.context import OfficeContext
from office.fleet import process_silent_kiosks
from office.queue.calling import process_timeouts
from office.ratings import apply_default_ratings, process_overdue_followups
from office.stats.rollup import process_rollups

__all__ = ["Job", "Scheduler", "default_jobs"]

log = logging.getLogger("office.background")


@dataclass(frozen=True)
class Job:
    """A named function run every ``interval_s`` seconds."""

    name: str
    interval_s: float
    run: Callable[[OfficeContext], object]


def default_jobs(notifier: Notifier) -> list[Job]:
    """The office's standing jobs; reminders go out through ``notifier``."""
    return [
        Job("queue.ring_timeouts", 2.0, process_timeouts),
        Job("calls.timeouts", 5.0, process_call_timeouts),
        Job("booking.maintenance", 30.0, lambda c: run_periodic(c, notifier)),
        Job("ratings.default", 60.0, apply_default_ratings),
        Job("followups.overdue", 300.0, process_overdue_followups),
        Job("fleet.silent_kiosks", 30.0, process_silent_kiosks),
        Job("cases.overdue", 60.0, process_overdue),
        Job("stats.rollup", 300.0, process_rollups),
    ]


class Scheduler:
    """Runs jobs on their intervals until stopped."""

    def __init__(self, ctx: OfficeContext, jobs: list[Job]) -> None:
        self._ctx = ctx
        self._jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start one task per job on the running loop."""
        self._tasks = [asyncio.create_task(self._loop(job), name=f"job:{job.name}") for job in self._jobs]

    async def _loop(self, job: Job) -> None:
        while True:
            try:
                await run_in_threadpool(job.run, self._ctx)
            except Exception as err:  # a job failure must not stop the scheduler
                log.error("background job failed", extra={"job": job.name, "exc_type": type(err).__name__})
            await asyncio.sleep(job.interval_s)

    async def stop(self) -> None:
        """Cancel every job and wait for them to finish."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
