"""ICE servers for the kiosk's calls, fetched ahead of the calls and reused while they are fresh.

The office gives each station its STUN/TURN servers (``GET /api/calls/ice-servers``); the TURN
credentials are coturn REST credentials valid for ``ttl_s`` seconds. Fetching them when a call
comes in would put an HTTP round trip on the call's set-up path, so :class:`IceServerCache`
fetches them when the kiosk starts and again before half their lifetime has passed; a call takes
what is cached, and its credentials then have at least half their lifetime left. (A call that
outlives them keeps its TURN allocation only as long as coturn accepts the credential; a
renegotiation takes fresh ones.)

A source that gives servers without a lifetime (a plain tuple) is used one call at a time: the
servers fetched at start, or when a call is invited, serve that one call.

When nothing fresh is cached (the office was unreachable) a call fetches, waits at most
``timeout_s`` and goes on without servers: host candidates still connect on a LAN, and no TURN is
better than no call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCIceServer

__all__ = ["IceConfig", "IceServerCache", "IceServersSource", "retry_delay"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IceConfig:
    """ICE servers and how long their credentials stay valid from the moment they were fetched."""

    servers: tuple[RTCIceServer, ...]
    ttl_s: float


IceServersSource = Callable[[], Awaitable[tuple[RTCIceServer, ...] | IceConfig]]
"""Fetch the ICE servers (``GET /api/calls/ice-servers``): with their lifetime, or a plain tuple for one call."""

_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def retry_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row (1 s up to 1 min)."""
    return _RETRY_S[min(failures, len(_RETRY_S) - 1)]


class IceServerCache:
    """The station's ICE servers, kept fresh in the background (see the module docstring).

    ``fresh_fraction``: cached servers are handed out until this fraction of their lifetime has
    passed; :meth:`run` refetches a little earlier (``refresh_fraction``), so a call never waits.
    """

    def __init__(
        self,
        source: IceServersSource,
        *,
        clock: Callable[[], float] = time.monotonic,
        fresh_fraction: float = 0.5,
        refresh_fraction: float = 0.4,
        timeout_s: float = 3.0,
    ) -> None:
        if not 0 < refresh_fraction <= fresh_fraction < 1:
            raise ValueError("need 0 < refresh_fraction <= fresh_fraction < 1")
        self.source = source
        self.clock = clock
        self.fresh_fraction = fresh_fraction
        self.refresh_fraction = refresh_fraction
        self.timeout_s = timeout_s
        self.fetches = 0
        self._servers: tuple[RTCIceServer, ...] | None = None
        self._fetched_at = 0.0
        self._ttl_s: float | None = None
        self._fetching: asyncio.Future[tuple[RTCIceServer, ...]] | None = None

    def fresh(self) -> tuple[RTCIceServer, ...] | None:
        """The cached servers if they may still be handed out, else ``None``."""
        if self._servers is None:
            return None
        if self._ttl_s is not None and self.clock() - self._fetched_at > self._ttl_s * self.fresh_fraction:
            return None
        return self._servers

    def take(self) -> tuple[RTCIceServer, ...] | None:
        """The servers for a new call if fresh ones are cached (a one-call entry is used up)."""
        servers = self.fresh()
        if servers is not None and self._ttl_s is None:
            self._servers = None
        return servers

    def prefetch(self) -> None:
        """Start fetching in the background unless fresh servers are cached or a fetch runs."""
        if self.fresh() is None:
            self._fetch()

    async def get(self) -> tuple[RTCIceServer, ...]:
        """The servers for a new call: cached ones, or a fetch; no servers when the fetch fails."""
        servers = self.take()
        if servers is not None:
            return servers
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.shield(self._fetch())
        except Exception as err:  # no TURN is better than no call: host candidates still work
            logger.warning("ICE servers unavailable (%s); using none", type(err).__name__)
            return ()
        return self.take() or ()

    async def run(self) -> None:
        """Keep the cache fresh until cancelled (retrying with backoff while the office is unreachable).

        Returns after the first fetch when the source gives no lifetime (one call at a time).
        """
        failures = 0
        while True:
            try:
                await self._fetch()
            except Exception as err:  # the office may be restarting: retry later
                delay = retry_delay(failures)
                failures += 1
                logger.info("ICE servers not fetched (%s); retry in %.0f s", type(err).__name__, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if self._ttl_s is None:
                return
            due = self._fetched_at + self._ttl_s * self.refresh_fraction
            await asyncio.sleep(max(1.0, due - self.clock()))

    def close(self) -> None:
        """Cancel a fetch in flight."""
        if self._fetching is not None:
            self._fetching.cancel()
            self._fetching = None

    def _fetch(self) -> asyncio.Future[tuple[RTCIceServer, ...]]:
        """The fetch in flight, or a new one (one at a time)."""
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.ensure_future(self._fetch_once())
            self._fetching.add_done_callback(_consume)
        return self._fetching

    async def _fetch_once(self) -> tuple[RTCIceServer, ...]:
        started = self.clock()
        result = await self.source()
        self.fetches += 1
        if isinstance(result, IceConfig):  # no lifetime given (0): one call at a time
            servers, ttl = result.servers, (float(result.ttl_s) if result.ttl_s > 0 else None)
        else:
            servers, ttl = tuple(result), None
        self._servers, self._fetched_at, self._ttl_s = servers, started, ttl
        return servers


def _consume(future: asyncio.Future[tuple[RTCIceServer, ...]]) -> None:
    """Retrieve a background fetch's exception so an unawaited failure is not reported as lost."""
    with contextlib.suppress(asyncio.CancelledError):
        future.exception()
