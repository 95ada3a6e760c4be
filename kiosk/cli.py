"""``doorstep kiosk``: ``enroll CODE`` once, then ``run`` (and ``launch`` the browser on its page).

``run`` loads :class:`~kiosk.config.KioskSettings` (``KIOSK_*``), reads the device token from the
state directory, checks it with the office, keeps the signaling connection, answers calls and
hardware requests, reports device health every ``health_interval_s`` and serves the resident UI
on ``ui_host:ui_port`` when ``kiosk.web`` provides ``create_app(runtime, settings)`` (the UI is
built separately; without it the kiosk runs headless and says so).

Exit codes: 0 normal stop, 1 runtime failure (office refused the token), 2 usage/configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import sys
from typing import Any

import uvicorn
from aiortc import RTCIceServer
from pydantic import ValidationError

from kiosk.config import KioskSettings, TokenStore
from kiosk.devices import ConsentHook, DeviceService, auto_grant, auto_refuse
from kiosk.document_live import DocumentFeed, DocumentVideoTrack
from kiosk.enroll import enroll
from kiosk.ice import IceConfig
from kiosk.media import (
    CameraVideoTrack,
    LatestFrameCamera,
    SyntheticVideoTrack,
    ToneAudioTrack,
    open_microphone,
)
from kiosk.office_client import OfficeClient, OfficeError, OfficeUnreachable
from kiosk.peer import PeerSettings, TrackFactory
from kiosk.runtime import KioskRuntime
from kiosk.ui_video import FrameTap, Speaker
from signaling.client import SignalingClient
from signaling.errors import ConnectionRejected
from signaling.messages import Role

__all__ = ["main", "run"]

logger = logging.getLogger(__name__)


async def _pending_consent(request: Any) -> bool:
    """``KIOSK_CONSENT=ui`` before the UI registered its hook: refuse rather than read unasked."""
    logger.warning("consent for %s refused: no resident UI is attached", request.action)
    return False


def _consent(settings: KioskSettings) -> ConsentHook:
    return {"grant": auto_grant, "refuse": auto_refuse, "ui": _pending_consent}[settings.consent]


def _track_factory(
    settings: KioskSettings, self_view: FrameTap | None = None, document: DocumentFeed | None = None
) -> tuple[TrackFactory, LatestFrameCamera | None]:
    """Fresh tracks per peer connection: face camera video, audio, then (with ``document``) the
    document camera's live view as the second video m-line (kiosk.document_live)."""
    camera: LatestFrameCamera | None = None
    if settings.face_camera_url:
        from hardware import open_device
        from hardware.camera.device import Camera

        device = open_device("face_camera", settings.face_camera_url, stats_dir=settings.state_dir / "stats")
        assert isinstance(device, Camera)
        device.open()
        device.claim()
        device.enable()
        camera = LatestFrameCamera(device.read_frame)
        camera.start()

    def make() -> list[Any]:
        video: Any = (
            CameraVideoTrack(camera, settings.video_fps)
            if camera is not None
            else SyntheticVideoTrack(settings.video_width, settings.video_height, settings.video_fps)
        )
        audio = open_microphone(settings.microphone) if settings.microphone else ToneAudioTrack()
        tracks = [video if self_view is None else self_view.wrap(video), audio]
        return tracks if document is None else [*tracks, DocumentVideoTrack(document)]

    return make, camera


async def run(settings: KioskSettings) -> int:
    """Run the kiosk until SIGINT/SIGTERM or until the office rejects the token."""
    token = TokenStore(settings.state_dir).load()
    if token is None:
        print("doorstep kiosk: not enrolled; run `doorstep kiosk enroll CODE` first", file=sys.stderr)
        return 2
    office = OfficeClient(settings.office_url, token)
    try:
        identity = await office.me()
        logger.info("kiosk %s at station %s starting", identity.kiosk_id, identity.station_id)
        agent_video, self_view, speaker = FrameTap(), FrameTap(), Speaker(settings.speaker)
        document = DocumentFeed(fps=settings.document_live_fps, max_width=settings.document_live_width)
        make_tracks, camera = _track_factory(settings, self_view, document)
        devices = DeviceService(
            settings.device_urls(),
            consent=_consent(settings),
            stats_dir=settings.state_dir / "stats",
            document=document,
            office_name=identity.office_name,
            timezone=identity.timezone,
        )
        signaling = SignalingClient(
            settings.signaling_url(),
            Role.KIOSK,
            headers={"Authorization": f"Bearer {token}"},
            client_name="doorstep-kiosk/0.1",
        )

        async def report(health: dict[str, Any]) -> None:
            if not await office.report_health(health):
                logger.info("device health: %s", health)

        async def ice_servers() -> IceConfig:
            servers, ttl_s = await office.ice_servers_ttl()
            return IceConfig(
                tuple(
                    RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers
                ),
                ttl_s,
            )

        runtime = KioskRuntime(
            signaling,
            devices,
            make_tracks,
            peer_settings=PeerSettings(
                heartbeat_interval=settings.heartbeat_interval_s,
                dead_after=settings.media_dead_after_s,
                video_codec=settings.video_codec,
                tap=lambda track: speaker.wrap(agent_video.wrap(track)),
            ),
            report_health=report,
            health_interval_s=settings.health_interval_s,
            report_call=office.report_call,
            ice_servers=ice_servers,
            uploads=office,
        )
        ui = _ui_server(
            settings,
            runtime,
            office=office,
            identity=identity,
            agent_video=agent_video,
            self_video=self_view,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        _settle_heap()
        try:
            await runtime.start()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(runtime.wait_stopped())]
            ui_task = asyncio.ensure_future(_serve_ui(ui)) if ui is not None else None
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            if ui is not None and ui_task is not None:
                ui.should_exit = True
                await asyncio.gather(ui_task, return_exceptions=True)
        finally:
            await runtime.close()
            speaker.close()
            if camera is not None:
                camera.stop()
        return 0
    except (OfficeError, ConnectionRejected) as err:
        print(f"doorstep kiosk: the office refused this kiosk ({err}); enroll again", file=sys.stderr)
        return 1
    except OfficeUnreachable as err:
        print(f"doorstep kiosk: {err}", file=sys.stderr)
        return 1
    finally:
        await office.aclose()


def _settle_heap() -> None:
    """Freeze what start-up built (aiortc, PyAV, OpenCV, the UI app: ~100,000 objects) out of the
    cyclic garbage collector's view: a full collection then no longer walks it, which took ~45 ms
    here, a stall of the media pipeline each time it ran during a call."""
    gc.collect()
    gc.freeze()


def _ui_server(settings: KioskSettings, runtime: KioskRuntime, **kwargs: Any) -> uvicorn.Server | None:
    """The resident UI's server, if ``kiosk.web`` is installed (seam for the UI session)."""
    try:
        web = importlib.import_module("kiosk.web")
    except ImportError:
        logger.warning("no resident UI (kiosk.web) installed; running headless")
        return None
    app = web.create_app(runtime, settings, **kwargs)
    config = uvicorn.Config(app, host=settings.ui_host, port=settings.ui_port, log_level="warning")
    return uvicorn.Server(config)


async def _serve_ui(ui: uvicorn.Server) -> None:
    """Serve the UI; if it cannot (port taken), the kiosk keeps answering calls headless."""
    try:
        await ui.serve()
    except SystemExit:  # uvicorn exits when it cannot bind
        logger.error("resident UI could not start on its port; running headless")
    else:
        if ui.started:
            logger.info("resident UI stopped")


def main(argv: list[str]) -> int:
    """Entry point for ``doorstep kiosk``."""
    parser = argparse.ArgumentParser(prog="doorstep kiosk", description="station kiosk: enroll, run")
    sub = parser.add_subparsers(dest="command", required=True)
    p_enroll = sub.add_parser("enroll", help="exchange a one-time enrollment code for a device token")
    p_enroll.add_argument("code")
    sub.add_parser("run", help="run the kiosk (signaling, calls, devices, resident UI)")
    p_launch = sub.add_parser("launch", help="open the resident UI full-screen in Chromium's kiosk mode")
    p_launch.add_argument("--dry-run", action="store_true", help="print the browser command only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = KioskSettings()
    except ValidationError as err:
        print(f"doorstep kiosk: bad configuration:\n{err}", file=sys.stderr)
        return 2
    if args.command == "launch":
        from kiosk.launcher import launch

        return launch(settings, dry_run=args.dry_run)
    if args.command == "enroll":
        try:
            identity = asyncio.run(enroll(settings, args.code))
        except OfficeError as err:
            print(f"doorstep kiosk: enrollment refused ({err.code})", file=sys.stderr)
            return 1
        except OfficeUnreachable as err:
            print(f"doorstep kiosk: {err}", file=sys.stderr)
            return 1
        print(f"enrolled: kiosk {identity.kiosk_id} ({identity.name}) at {identity.station_name}")
        return 0
    return asyncio.run(run(settings))
