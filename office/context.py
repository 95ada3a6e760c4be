"""The per-app service container handed to routes through ``request.app.state.ctx``.

Built once by :func:`office.app.create_app` from settings; tests build their own, with a fake clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from office.clock import Clock, SystemClock
from office.crypto import PersonalDataCipher
from office.db import READONLY_OPTION, make_engine, make_read_session_factory, make_session_factory
from office.events import EventHub
from office.metrics import Metrics
from office.security import PasswordHashing
from office.settings import Settings
from signaling.bus import Bus
from signaling.hub import SignalingHub

__all__ = ["OfficeContext"]


@dataclass
class OfficeContext:
    """Everything a request handler may need: settings, database, clock, crypto, metrics, events."""

    settings: Settings
    engine: Engine
    db: sessionmaker[Session]
    read_db: sessionmaker[Session]
    read_engine: Engine
    clock: Clock
    cipher: PersonalDataCipher
    passwords: PasswordHashing
    metrics: Metrics = field(default_factory=Metrics)
    events: EventHub = field(default_factory=EventHub)
    #: The signaling bus, hub and the event loop they run on; set by the app's lifespan.
    bus: Bus | None = None
    hub: SignalingHub | None = None
    hub_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def build(
        cls, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
    ) -> OfficeContext:
        """Create engine and helpers from settings (``engine`` may be given by tests)."""
        eng = engine or make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=eng,
            db=make_session_factory(eng),
            read_db=make_read_session_factory(eng),
            read_engine=eng.execution_options(**{READONLY_OPTION: True}),
            clock=clock or SystemClock(),
            cipher=PersonalDataCipher(settings),
            passwords=PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_kib),
        )
