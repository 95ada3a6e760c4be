"""Kiosk HTTP side against the real office app (in process): enrollment, identity, errors, retries, CLI."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.cli import main
from kiosk.config import KioskSettings, TokenStore
from kiosk.enroll import enroll
from kiosk.office_client import OfficeClient, OfficeError, OfficeUnreachable, Unauthorized
from office.models import Role
from tests.conftest import TestDatabase
from tests.office.conftest import OfficeHarness, build_harness


@pytest.fixture
def office(sqlite_db: TestDatabase, clock: object) -> Iterator[OfficeHarness]:
    """An in-process office on SQLite with one station."""
    h = build_harness(sqlite_db, clock)  # type: ignore[arg-type]
    yield h
    for c in h.clients:
        c.__exit__(None, None, None)


def _code(h: OfficeHarness) -> str:
    admin = h.login(Role.ADMIN)
    r = admin.post("/api/kiosks", json={"station_id": h.station_id, "name": "k"})
    assert r.status_code == 201, r.text
    return str(r.json()["enrollment_code"])


async def test_enroll_stores_token_0600_and_identifies(office: OfficeHarness, tmp_path: Path) -> None:
    """Enrollment exchanges the code, checks the token with /api/kiosk/me and stores it 0600."""
    settings = KioskSettings(office_url="http://office.test", state_dir=tmp_path / "state")
    transport = httpx.ASGITransport(app=office.app)
    identity = await enroll(settings, _code(office), transport=transport)
    assert identity.station_id == office.station_id and identity.office_id == office.office_id
    store = TokenStore(settings.state_dir)
    token = store.load()
    assert token is not None
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert token not in repr(store) and token not in repr(settings)
    async with OfficeClient("http://office.test", token, transport=transport) as client:
        assert (await client.me()).kiosk_id == identity.kiosk_id
        assert len(await client.services()) >= 0


async def test_used_code_and_bad_token_are_clear_errors(office: OfficeHarness, tmp_path: Path) -> None:
    """A reused code is an OfficeError with the office's code; a wrong token is Unauthorized."""
    settings = KioskSettings(office_url="http://office.test", state_dir=tmp_path)
    transport = httpx.ASGITransport(app=office.app)
    code = _code(office)
    await enroll(settings, code, transport=transport)
    with pytest.raises(OfficeError) as info:
        await enroll(settings, code, transport=transport)
    assert info.value.status == 400 and info.value.code
    async with OfficeClient("http://office.test", "not-a-token", transport=transport) as client:
        with pytest.raises(Unauthorized) as denied:
            await client.me()
    assert "not-a-token" not in str(denied.value)


async def test_connection_errors_are_retried_with_backoff() -> None:
    """Connection errors and 503 are retried with doubling delays, then OfficeUnreachable."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(503)

    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    client = OfficeClient(
        "http://office.test", "t", transport=httpx.MockTransport(handler), attempts=4, sleep=sleep
    )
    async with client:
        with pytest.raises(OfficeUnreachable) as info:
            await client.me()
    assert len(calls) == 4 and sleeps == [0.5, 1.0, 2.0]
    assert info.value.attempts == 4


async def test_health_report_is_accepted(office: OfficeHarness) -> None:
    """The office's device-health endpoint (contract C5) takes the runtime's report: True."""
    _, token = office.enroll_kiosk()
    async with OfficeClient(
        "http://office.test", token, transport=httpx.ASGITransport(app=office.app)
    ) as client:
        assert await client.report_health({"devices": {}, "in_call": False}) is True


def test_cli_run_without_enrollment_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`doorstep kiosk run` before enrollment explains and exits 2; bad settings exit 2."""
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path))
    assert main(["run"]) == 2
    assert "not enrolled" in capsys.readouterr().err
    monkeypatch.setenv("KIOSK_OFFICE_URL", "ftp://nope")
    assert main(["run"]) == 2
