"""The office's periodic-job scheduler: runs each job repeatedly, survives failures, stops cleanly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from office.background import Job, Scheduler
from office.context import OfficeContext
from tests.conftest import TIMEOUT, TestDatabase, make_settings


async def test_jobs_repeat_and_a_failing_job_is_logged_and_retried(
    sqlite_db: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """A job runs again after its interval; one that raises is logged by type and keeps running."""
    ctx = OfficeContext.build(make_settings(sqlite_db), engine=sqlite_db.engine)
    runs: list[str] = []
    loop = asyncio.get_running_loop()
    enough = asyncio.Event()

    def note(name: str) -> None:
        runs.append(name)
        # a failure is logged after its run returns: the 4th run proves the 3rd failure was logged
        if runs.count("good") >= 3 and runs.count("bad") >= 4:
            loop.call_soon_threadsafe(enough.set)

    def good(_: OfficeContext) -> None:
        note("good")

    def bad(_: OfficeContext) -> None:
        note("bad")
        raise RuntimeError("boom 110105194912310021")

    scheduler = Scheduler(ctx, [Job("good", 0.01, good), Job("bad", 0.01, bad)])
    with caplog.at_level(logging.ERROR, logger="office.background"):
        scheduler.start()
        await asyncio.wait_for(enough.wait(), TIMEOUT)
        await scheduler.stop()
    failures = [r for r in caplog.records if r.getMessage() == "background job failed"]
    assert len(failures) >= 3
    assert all(r.__dict__["exc_type"] == "RuntimeError" for r in failures)
    assert "110105194912310021" not in caplog.text
    count = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == count  # stopped means stopped
