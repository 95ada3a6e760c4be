"""Arranging end-to-end scenes: an office with a station (and the seeded catalog) in a real office
process, and an enrolled kiosk runtime connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiortc import RTCIceServer
from sqlalchemy.orm import Session

from kiosk.config import KioskSettings, TokenStore
from kiosk.devices import DeviceService, auto_grant
from kiosk.enroll import enroll
from kiosk.media import SyntheticVideoTrack, ToneAudioTrack
from kiosk.office_client import OfficeClient
from kiosk.peer import PeerSettings
from kiosk.runtime import KioskRuntime
from office import enrollment
from office.audit import Actor
from office.models import Office, Station
from office.seed_catalog import seed_catalog
from signaling.client import SignalingClient
from signaling.messages import Role as SignalingRole
from tests.conftest import TestDatabase
from tests.e2e.conftest import LiveOffice, start_office

__all__ = ["enrolled_kiosk", "seed_office", "start_seeded_office"]


def seed_office(db: TestDatabase, code: str = "E2E") -> tuple[int, int]:
    """One street office with one station; returns (office id, station id)."""
    with Session(db.engine) as s, s.begin():
        office = Office(code=code, name="端到端测试街道", name_en="E2E Office", timezone="Asia/Shanghai")
        s.add(office)
        s.flush()
        station = Station(office_id=office.id, code="S1", name="梅园社区服务站", name_en="Meiyuan Station")
        s.add(station)
        s.flush()
        return office.id, station.id


def start_seeded_office(
    db: TestDatabase, tmp_path: Path, *, catalog: bool = True, host: str = "127.0.0.1"
) -> LiveOffice:
    """``doorstep office run`` on ``db`` with an office, a station and (by default) the catalog."""
    office_id, station_id = seed_office(db)
    live = start_office(db, tmp_path, host=host)
    live.office_id, live.station_id = office_id, station_id
    if catalog:
        seed_catalog(live.ctx)
    return live


@asynccontextmanager
async def enrolled_kiosk(
    office: LiveOffice,
    tmp_path: Path,
    *,
    peer_settings: PeerSettings,
    video: tuple[int, int, float] = (320, 240, 15),
    ice_servers: Callable[[OfficeClient], Awaitable[tuple[RTCIceServer, ...]]] | None = None,
) -> AsyncIterator[tuple[KioskRuntime, OfficeClient]]:
    """A kiosk enrolled with a one-time code; its runtime connected to the office's signaling."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    settings = KioskSettings(office_url=office.url, state_dir=tmp_path / "kiosk")
    await enroll(settings, code)
    token = TokenStore(settings.state_dir).load()
    assert token is not None
    client = OfficeClient(settings.office_url, token)
    width, height, fps = video
    runtime = KioskRuntime(
        SignalingClient(
            settings.signaling_url(), SignalingRole.KIOSK, headers={"Authorization": f"Bearer {token}"}
        ),
        DeviceService({"idcard": "sim://idcard?card=resident-male"}, consent=auto_grant),
        lambda: [SyntheticVideoTrack(width, height, fps), ToneAudioTrack()],
        peer_settings=peer_settings,
        report_call=client.report_call,
        uploads=client,
        ice_servers=None if ice_servers is None else (lambda: ice_servers(client)),
    )
    async with client, runtime:
        yield runtime, client
