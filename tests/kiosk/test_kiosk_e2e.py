"""End to end through a real office process: enroll, take a number, call next, video call, ID card, hang up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from agent_console.headless import HeadlessAgent
from kiosk.config import TokenStore
from kiosk.office_client import OfficeClient
from kiosk.runtime import KioskRuntime
from office import enrollment
from office.audit import Actor
from office.models import Role, Service
from signaling.messages import HwAction, HwOutcome
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import LiveOffice
from tests.e2e.stations import enrolled_kiosk, start_seeded_office
from tests.kiosk.conftest import FAST

pytestmark = pytest.mark.e2e


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """``doorstep office run`` on SQLite with one station and the seeded catalog."""
    live = start_seeded_office(sqlite_db, tmp_path)
    yield live
    live.stop()


@pytest.fixture
async def kiosk(office: LiveOffice, tmp_path: Path) -> AsyncIterator[tuple[KioskRuntime, OfficeClient]]:
    """A kiosk enrolled with a one-time code, its runtime connected to the office's signaling."""
    async with enrolled_kiosk(office, tmp_path, peer_settings=FAST, ice_servers=_no_servers) as pair:
        yield pair


async def _no_servers(client: OfficeClient) -> tuple[()]:
    assert await client.ice_servers() == []  # nothing configured: host candidates only
    return ()


async def test_a_whole_service_call_through_the_office(
    office: LiveOffice, kiosk: tuple[KioskRuntime, OfficeClient]
) -> None:
    """Kiosk ticket → agent call-next → POST /api/calls → invite/accept → media both ways → ID card → hang-up."""
    runtime, kiosk_client = kiosk
    password = office.add_user("agent1", Role.AGENT)
    agent = await HeadlessAgent.login(office.url, "agent1", password, heartbeat_interval=0.5)
    async with agent:
        await agent.set_available()
        with office.ctx.read_db() as s:
            service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
        assert service_id is not None
        ticket = await kiosk_client.issue_ticket(service_id, idempotency_key=uuid.uuid4().hex)
        offered = await agent.call_next()
        assert offered is not None and offered["id"] == ticket["id"]
        call = await agent.start_call(ticket["id"])
        call_id = call["id"]
        await agent.wait_for(lambda: agent.frames_received.get("video", 0) >= 10, within=15)
        await agent.wait_for(
            lambda: runtime.call is not None and runtime.call.frames_received.get("video", 0) >= 10, within=10
        )
        assert runtime.call_id == call_id
        await agent.wait_for(
            lambda: runtime.call is not None and runtime.call.reported_state == "connected", within=10
        )
        assert agent.http is not None
        record = (await agent.http.get(f"/api/calls/{call_id}")).json()
        assert record["state"] == "connected" and record["setup_ms"] is not None
        result = await agent.request_hw(HwAction.READ_ID_CARD, within=15)
        assert result.outcome is HwOutcome.OK and result.data is not None
        assert result.data["id_number"] == "3101**********0018"
        await agent.hang_up("completed")
        await agent.wait_for(lambda: runtime.call is None, within=10)
        # The relay forwards call.end to the kiosk before the office has recorded the end.
        for _ in range(50):
            record = (await agent.http.get(f"/api/calls/{call_id}")).json()
            if record["state"] == "ended":
                break
            await asyncio.sleep(0.1)
        assert record["state"] == "ended" and record["end_reason"] == "completed"
    assert "310101198001010018" not in office.logs()


def test_doorstep_kiosk_enroll_then_run_comes_online(office: LiveOffice, tmp_path: Path) -> None:
    """`doorstep kiosk enroll CODE`, then `run` comes online and Ctrl-C stops it; a bad token exits 1."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    env = {
        **os.environ,
        "KIOSK_OFFICE_URL": office.url,
        "KIOSK_STATE_DIR": str(tmp_path / "kiosk"),
        "KIOSK_VIDEO_WIDTH": "320",
        "KIOSK_VIDEO_HEIGHT": "240",
    }
    cli = [sys.executable, "-m", "doorstep.cli", "kiosk"]
    enrolled = subprocess.run(
        [*cli, "enroll", code], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert "enrolled: kiosk" in enrolled.stdout
    token = TokenStore(tmp_path / "kiosk").load()
    assert token is not None and token not in enrolled.stdout + enrolled.stderr
    office.add_user("tech1", Role.ADMIN)
    admin = office.login("tech1")
    log_path = tmp_path / "kiosk.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*cli, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT * 2
        online: list[int] = []
        while time.monotonic() < deadline and not online and proc.poll() is None:
            online = admin.get("/api/calls/kiosks-online").json()["kiosk_ids"]
            time.sleep(0.1)
        assert online, log_path.read_text(errors="replace")[-2000:]
    finally:
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=TIMEOUT)
        admin.close()
    logs = log_path.read_text(errors="replace")
    assert returncode == 0, logs[-2000:]
    assert token not in logs and code not in logs
    TokenStore(tmp_path / "kiosk").save("revoked-or-forged-token")
    refused = subprocess.run([*cli, "run"], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert refused.returncode == 1 and "enroll again" in refused.stderr
    assert "revoked-or-forged-token" not in refused.stdout + refused.stderr
