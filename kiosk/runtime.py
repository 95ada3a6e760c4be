"""The kiosk process's main loop: signaling messages in, calls, media and devices out.

:class:`KioskRuntime` reads the :class:`~signaling.client.SignalingClient` (which reconnects and
resumes by itself) and:

- on ``call.invite`` accepts the call (``call.decline`` ``busy`` when one is already running) and
  at once starts the call's :class:`~kiosk.media_session.MediaSession` with its generation-0
  offer: the spare connection and offer built while the kiosk was idle
  (:class:`~kiosk.warm.WarmOffer`), or one built now (peer connection, tracks, ICE gathering)
  while the office records the accept. The offer goes out as soon as it is ready (the accept has
  put the connection ``in_call``), and the session renegotiates on failure from then on. A
  call's first active ``call.state`` starts the session too (after a kiosk restart, the office's
  resume);
- keeps the station's ICE servers fresh in the background (:class:`~kiosk.ice.IceServerCache`),
  so no call waits for ``GET /api/calls/ice-servers``;
- forwards the call's ``description`` and ``candidate`` messages to the media session;
- runs ``hw.request`` through :class:`~kiosk.devices.DeviceService` (consent first) in the
  background, answering ``hw.progress`` and ``hw.result``;
- ends the media on ``call.end``, ``call.cancel`` or ``call.state`` ``ended``;
- reports device health every ``health_interval_s`` through ``report_health``.

Seam for the resident UI (``kiosk/web.py``): ``on_call(call_id | None)`` and ``on_hw`` (each
stage and the result of an agent's hardware request) observers, the ``consent`` hook of the device service, and :attr:`call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiortc import RTCIceServer
from pydantic import JsonValue

from kiosk.devices import DeviceService, HwOutcomeData
from kiosk.ice import IceServerCache, IceServersSource
from kiosk.media_session import MediaSession
from kiosk.peer import BlobNotSent, CallPeer, PeerSettings, TrackFactory
from kiosk.warm import WarmOffer
from signaling.client import SignalingClient
from signaling.errors import SignalingError
from signaling.messages import (
    BaseMessage,
    CallAccept,
    CallCancel,
    CallDecline,
    CallEnd,
    CallInvite,
    CallState,
    CallStateName,
    Candidate,
    Description,
    DiagRequest,
    DiagResult,
    HwAction,
    HwOutcome,
    HwProgress,
    HwRequest,
    HwResult,
)

__all__ = [
    "CallReporter",
    "HealthReporter",
    "HwObserver",
    "IceServersSource",
    "KioskRuntime",
    "PersonalDataUploads",
]

logger = logging.getLogger(__name__)

HealthReporter = Callable[[dict[str, Any]], Awaitable[None]]
"""Send one device-health report to the office (or log it)."""

CallReporter = Callable[[str, str], Awaitable[None]]
"""Tell the office ``(call_id, "connected" | "reconnecting")`` (``POST /api/calls/{id}/report``)."""

HwObserver = Callable[[HwRequest, str, HwOutcomeData | None], None]
"""Told each stage of an agent's hardware request (``awaiting_consent`` … ``sending_still``) and,
with stage ``"result"``, its outcome (the resident UI shows progress, the result and document stills)."""


class PersonalDataUploads(Protocol):
    """The office's record of what the devices read (contract C1; :class:`kiosk.office_client.OfficeClient`)."""

    async def upload_identity(self, call_id: str, identity: dict[str, str]) -> str: ...

    async def upload_document(
        self, call_id: str, body: bytes, *, mime: str = "image/jpeg", kind: str = "page", request_id: str = ""
    ) -> int: ...

    async def record_verification(
        self, call_id: str, *, matched: bool, score: int, kind: str = "fingerprint"
    ) -> None: ...


class KioskRuntime:
    """One kiosk's calls over one signaling client."""

    def __init__(
        self,
        signaling: SignalingClient,
        devices: DeviceService,
        make_tracks: TrackFactory,
        *,
        peer_settings: PeerSettings | None = None,
        report_health: HealthReporter | None = None,
        health_interval_s: float = 60.0,
        on_call: Callable[[str | None], None] | None = None,
        report_call: CallReporter | None = None,
        ice_servers: IceServersSource | None = None,
        on_hw: HwObserver | None = None,
        uploads: PersonalDataUploads | None = None,
        warm_offer: bool = True,
    ) -> None:
        self.uploads = uploads
        self.on_hw = on_hw
        self.report_call = report_call
        self.ice = IceServerCache(ice_servers) if ice_servers is not None else None
        self.signaling = signaling
        self.devices = devices
        self.make_tracks = make_tracks
        self.peer_settings = peer_settings or PeerSettings()
        self.report_health = report_health
        self.health_interval_s = health_interval_s
        self.on_call = on_call
        self.call_id: str | None = None
        self.call: MediaSession | None = None
        signaling.on_connected = self._on_signaling_connected
        self.invites: list[CallInvite] = []
        self._preparing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._main: list[asyncio.Task[None]] = []
        self._closing = False
        self.warm = (
            WarmOffer(
                self._spare_peer,
                self._servers_now,
                lambda: self.call_id is not None or self._closing,
                prefetch=None if self.ice is None else self.ice.prefetch,
            )
            if warm_offer
            else None
        )

    def _on_signaling_connected(self, connects: int) -> None:
        """Signaling came back after a drop: if the call's media is not up, renegotiate now."""
        if connects > 1 and self.warm is not None:
            self.warm.invalidate()
        if connects > 1 and self.call is not None:
            self.call.network_back()

    async def start(self) -> None:
        """Connect signaling and start the message loop and the health reporter."""
        self.signaling.start()
        await self.signaling.wait_connected()
        self._main.append(asyncio.create_task(self._run(), name="kiosk-runtime"))
        if self.ice is not None:
            self._main.append(asyncio.create_task(self.ice.run(), name="kiosk-ice-servers"))
        if self.report_health is not None:
            self._main.append(asyncio.create_task(self._health_loop(), name="kiosk-health"))
        if self.warm is not None:
            self._main.append(asyncio.create_task(self.warm.run(), name="kiosk-warm-offer"))

    async def wait_stopped(self) -> None:
        """Wait until the message loop ends (the signaling client was rejected or closed)."""
        await self._main[0]

    async def close(self) -> None:
        """End the media, stop background work, close signaling and devices."""
        self._closing = True
        await self._end_media()
        for task in [*self._main, *self._tasks]:
            task.cancel()
        for task in [*self._main, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._main.clear()
        if self.warm is not None:
            await self.warm.close()
        if self.ice is not None:
            self.ice.close()
        await self.signaling.close()
        await self.devices.close()

    async def __aenter__(self) -> KioskRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- messages -------------------------------------------------------------------------------

    async def _run(self) -> None:
        async for message in self.signaling.messages():
            try:
                await self._handle(message)
            except SignalingError as err:
                logger.warning("kiosk: could not answer %s (%s)", message.type, type(err).__name__)
            except Exception:  # the one boundary: a bad frame must not stop the kiosk (no payload logged)
                logger.exception("kiosk: handling %s failed", message.type)

    async def _handle(self, message: BaseMessage) -> None:
        if isinstance(message, CallInvite):
            await self._on_invite(message)
        elif isinstance(message, CallState):
            await self._on_state(message)
        elif isinstance(message, Description | Candidate):
            if self.call is not None and message.call_id == self.call.call_id:
                await self.call.handle(message)
        elif isinstance(message, HwRequest):
            if message.call_id == self.call_id:
                self._spawn(self._on_hw(message), f"hw-{message.request_id}")
        elif isinstance(message, DiagRequest):
            self._spawn(self._on_diag(message), f"diag-{message.request_id}")
        elif isinstance(message, CallEnd | CallCancel) and message.call_id == self.call_id:
            logger.info("call %s ended by the agent (%s)", message.call_id, message.reason)
            await self._end_media()

    async def _on_invite(self, invite: CallInvite) -> None:
        self.invites.append(invite)
        if self.call_id == invite.call_id:
            # sent again by the office (we reconnected while it rang): our accept may have been
            # lost with the old connection; the office ignores a second one
            await self.signaling.send(CallAccept(call_id=invite.call_id))
            return
        if self.call_id is not None:
            await self.signaling.send(CallDecline(call_id=invite.call_id, reason="busy"))
            return
        self.call_id = invite.call_id
        await self.signaling.send(CallAccept(call_id=invite.call_id))
        if self.call is None and self._preparing is None:
            # The offer is built while the office records the accept, not after (set-up time).
            self._preparing = asyncio.create_task(self._prepare(invite.call_id), name="kiosk-prepare")
        if self.on_call is not None:
            self.on_call(invite.call_id)

    async def _prepare(self, call_id: str) -> None:
        """Open the call's media session with its first offer and send the offer once it is ready."""
        session = await self._open_session(call_id)
        if self.call_id != call_id or self.call is not None:
            await session.close()  # the call ended (or was resumed) meanwhile
            return
        self.call = session
        session.start()

    async def _open_session(self, call_id: str) -> MediaSession:
        """The call's media session with its generation-0 offer ready or being built: the spare
        when one fits, else a new connection (ICE servers from the cache)."""
        servers = self._servers_now()
        spare = None if self.warm is None or servers is None else self.warm.take(servers)
        if spare is not None:
            if self.ice is not None:
                self.ice.take()  # a one-call entry is used up by this call
            session = self._session(call_id, spare.servers)
            session.adopt(spare.peer, spare.sdp)
            return session
        session = self._session(call_id, await self.ice.get() if self.ice is not None else ())
        session.prepare()
        return session

    def _session(self, call_id: str, servers: tuple[RTCIceServer, ...]) -> MediaSession:
        async def on_state(media_state: str) -> None:
            if self.report_call is not None:
                await self.report_call(call_id, media_state)

        settings = self._settings(servers)
        return MediaSession(call_id, self.signaling.send, self.make_tracks, settings, on_state=on_state)

    def _settings(self, servers: tuple[RTCIceServer, ...]) -> PeerSettings:
        if self.ice is None:
            return self.peer_settings
        return dataclasses.replace(self.peer_settings, ice_servers=servers)

    def _servers_now(self) -> tuple[RTCIceServer, ...] | None:
        """The ICE servers a call starting now would use (``None``: not fetched yet)."""
        return self.peer_settings.ice_servers if self.ice is None else self.ice.fresh()

    def _spare_peer(self, servers: tuple[RTCIceServer, ...]) -> CallPeer:
        return CallPeer(0, self.make_tracks(), self._settings(servers))

    async def _on_state(self, state: CallState) -> None:
        if state.state is CallStateName.ENDED:
            if state.call_id == self.call_id:
                logger.info("call %s ended (%s)", state.call_id, state.reason)
                await self._end_media()
            return
        if self.call_id is None:
            self.call_id = state.call_id  # resumed after a kiosk restart: rejoin the call
        if state.call_id != self.call_id:
            return
        preparing, self._preparing = self._preparing, None
        if preparing is not None:
            await asyncio.wait({preparing})  # the session, usually with its offer, is ready by now
            if not preparing.cancelled() and preparing.exception() is not None:
                logger.warning(
                    "call %s: media not prepared (%s)", state.call_id, type(preparing.exception()).__name__
                )
        if self.call is None:
            self.call = await self._open_session(state.call_id)
        self.call.start()

    async def _end_media(self) -> None:
        preparing, self._preparing = self._preparing, None
        if preparing is not None:
            preparing.cancel()
            await asyncio.wait({preparing})
        call, self.call = self.call, None
        had_call = self.call_id is not None
        self.call_id = None
        await self.devices.end_call()  # cancels what runs; the live document view goes off
        if call is not None:
            await call.close()
        if had_call and self.on_call is not None:
            self.on_call(None)
        if self.warm is not None:
            self.warm.wake()  # the next call's connection is built now

    async def _on_hw(self, request: HwRequest) -> None:
        async def progress(stage: str) -> None:
            if self.on_hw is not None:
                self.on_hw(request, stage, None)
            await self.signaling.send(
                HwProgress(call_id=request.call_id, request_id=request.request_id, stage=stage)
            )

        result = await self.devices.handle(request, progress)
        if self.on_hw is not None:
            self.on_hw(request, "result", result)
        data, outcome, error = result.data, result.outcome, result.error
        if outcome is HwOutcome.OK and self.uploads is not None:
            data = await self._upload(request, result, progress)
        if result.blobs:
            transfers: list[JsonValue] = []
            try:
                for name, blob in result.blobs:
                    transfer_id = f"{request.request_id}.{name}"
                    await progress(f"sending_{name}")
                    if self.call is None:
                        raise BlobNotSent(transfer_id)
                    digest = await self.call.send_blob(transfer_id, blob, name=name, mime="image/jpeg")
                    transfers.append(
                        {"name": name, "transfer_id": transfer_id, "bytes": len(blob), "sha256": digest}
                    )
                data = {**(data or {}), "transfers": transfers}
            except BlobNotSent:
                data, outcome, error = None, HwOutcome.FAILED, "transfer_interrupted"
        logger.info("hw %s %s: %s", request.request_id, request.action, outcome)
        await self.signaling.send(
            HwResult(
                call_id=request.call_id,
                request_id=request.request_id,
                outcome=outcome,
                data=data,
                error=error,
            )
        )

    async def _upload(
        self, request: HwRequest, result: HwOutcomeData, progress: Callable[[str], Awaitable[None]]
    ) -> dict[str, JsonValue]:
        """Send the office its record of a successful device result; the ``hw.result`` data to send.

        An upload failure never loses the result: the data says ``"upload": "failed"`` and the log
        names the error type only (no values).
        """
        assert self.uploads is not None
        data: dict[str, JsonValue] = dict(result.data or {})
        try:
            if request.action is HwAction.READ_ID_CARD and result.identity is not None:
                await progress("uploading_identity")
                data["resident_ref"] = await self.uploads.upload_identity(request.call_id, result.identity)
            elif request.action is HwAction.CAPTURE_DOCUMENT and result.blobs:
                ids: list[JsonValue] = []
                data["document_ids"] = ids
                for name, blob in result.blobs:
                    await progress(f"uploading_{name}")
                    kind = "straightened" if name == "page" else "page"
                    ids.append(
                        await self.uploads.upload_document(
                            request.call_id, blob, mime="image/jpeg", kind=kind, request_id=request.request_id
                        )
                    )
            elif request.action is HwAction.VERIFY_FINGERPRINT and "matched" in data:
                score = data.get("score")
                await self.uploads.record_verification(
                    request.call_id,
                    matched=data.get("matched") is True,
                    score=score if isinstance(score, int) and not isinstance(score, bool) else 0,
                )
        except Exception as err:  # the result still goes to the agent; the office record is missing
            logger.warning("hw %s: upload to the office failed (%s)", request.request_id, type(err).__name__)
            data["upload"] = "failed"
        return data

    # -- background -----------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_diag(self, request: DiagRequest) -> None:
        """A remote health check: run every device's internal check now, post the report with the
        request id (the office's record), then acknowledge with ``diag.result``."""
        error: str | None = None
        report: dict[str, dict[str, Any]] = {}
        try:
            report = await self.devices.health()
            if self.report_health is None:
                error = "no_reporter"
            else:
                await self.report_health(
                    {"devices": report, "in_call": self.call_id is not None, "request_id": request.request_id}
                )
        except Exception as err:  # the check must be answered even when the report could not go out
            logger.warning("remote health check %s failed (%s)", request.request_id, type(err).__name__)
            error = "report_failed"
        failing = tuple(sorted(kind for kind, entry in report.items() if not _device_ok(entry)))
        await self.signaling.send(
            DiagResult(
                request_id=request.request_id, ok=error is None and not failing, failing=failing, error=error
            )
        )

    async def _health_loop(self) -> None:
        assert self.report_health is not None
        while True:
            report = await self.devices.health()
            try:
                await self.report_health({"devices": report, "in_call": self.call_id is not None})
            except Exception as err:  # a failed report must not stop the kiosk; the next one retries
                logger.warning("device health report failed (%s)", type(err).__name__)
            await asyncio.sleep(self.health_interval_s)


def _device_ok(entry: dict[str, Any]) -> bool:
    """Whether one device's entry of a health report passed (``{"health": {"ok": …}}`` or ``{"ok": …}``)."""
    health = entry.get("health")
    if isinstance(health, dict):
        return health.get("ok") is True
    return entry.get("ok") is True
