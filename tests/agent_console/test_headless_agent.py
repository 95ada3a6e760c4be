"""The headless agent's HTTP side against the real office app (in process): login, availability, call-next."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from agent_console.headless import AgentError, HeadlessAgent
from kiosk.office_client import OfficeClient
from office.models import Role
from tests.conftest import TestDatabase
from tests.office.conftest import PASSWORDS, OfficeHarness, build_harness
from tests.office.test_queue_support import build_queue_harness


@pytest.fixture
def office(sqlite_db: TestDatabase, clock: object) -> Iterator[OfficeHarness]:
    """An in-process office on SQLite with the catalog seeded."""
    h = build_harness(sqlite_db, clock)  # type: ignore[arg-type]
    yield h
    for c in h.clients:
        c.__exit__(None, None, None)


async def test_login_available_and_call_next_takes_the_kiosks_ticket(office: OfficeHarness) -> None:
    """The agent logs in (cookie + CSRF), goes available, and call-next offers the kiosk's ticket."""
    qh = build_queue_harness(office)
    name = office.add_user(Role.AGENT)
    transport = httpx.ASGITransport(app=office.app)
    agent = await HeadlessAgent.login("http://office.test", name, PASSWORDS[Role.AGENT], transport=transport)
    try:
        assert agent.csrf_token and agent.signaling.url == "ws://office.test/ws/signaling"
        assert agent.signaling.headers["Cookie"].startswith("doorstep_session=")
        state = await agent.set_available()
        assert state["state"] == "available"
        assert await agent.call_next() is None
        async with OfficeClient("http://office.test", qh.kiosk_token(), transport=transport) as kiosk:
            ticket = await kiosk.issue_ticket(qh.services["GOV-SSC-APPLY"], idempotency_key=uuid.uuid4().hex)
        offered = await agent.call_next()
        assert offered is not None and offered["id"] == ticket["id"] and offered["number"] == ticket["number"]
    finally:
        await agent.close()


async def test_wrong_password_is_an_agent_error(office: OfficeHarness) -> None:
    """A refused login raises AgentError with the office's status and code (no password in it)."""
    name = office.add_user(Role.AGENT)
    transport = httpx.ASGITransport(app=office.app)
    with pytest.raises(AgentError) as info:
        await HeadlessAgent.login("http://office.test", name, "wrong-password-123", transport=transport)
    assert info.value.status == 401 and info.value.code != "error"
    assert "wrong-password-123" not in str(info.value)
