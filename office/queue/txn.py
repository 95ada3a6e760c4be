"""Write transactions for the queue, fair on SQLite.

On SQLite every writer takes the database lock at ``BEGIN IMMEDIATE``; threads that find it taken
sleep in SQLite's busy handler with growing back-off, so under 50 concurrent writers a few wait for
seconds while others pass. Within one office process the queue's writers therefore also queue on a
per-engine :class:`threading.Lock` (waiters are woken as soon as it is released) before beginning. The
database lock stays the guarantee; this lock only makes waiting short and fair. PostgreSQL writers
never take it: they rely on row locks (``SKIP LOCKED``) and state-checked updates.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from office.context import OfficeContext

__all__ = ["writing"]

_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _lock_for(engine: Engine) -> threading.Lock:
    with _guard:
        lock = _locks.get(engine)
        if lock is None:
            lock = _locks[engine] = threading.Lock()
        return lock


@contextmanager
def writing(ctx: OfficeContext) -> Iterator[Session]:
    """One write unit of work (commit on success, roll back on error), serialized fairly on SQLite."""
    if ctx.engine.dialect.name == "sqlite":
        with _lock_for(ctx.engine), ctx.db() as s, s.begin():
            yield s
    else:
        with ctx.db() as s, s.begin():
            yield s
