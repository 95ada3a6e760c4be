"""Live events to consoles over /ws/events, in process and across two instances over Redis."""

from __future__ import annotations

import json

import pytest
from starlette.websockets import WebSocketDisconnect

from office.app import create_app
from office.models import Role
from tests.conftest import TestDatabase, make_settings, require_redis
from tests.office.conftest import OfficeHarness, build_harness


def test_console_receives_its_office_events_and_anonymous_is_refused(harness: OfficeHarness) -> None:
    """A logged-in agent's socket gets an event published for its office; no cookie → close 4401."""
    agent = harness.login(Role.AGENT)
    with agent.websocket_connect("/ws/events") as ws:
        harness.ctx.events.publish(harness.office_id + 1000, "queue.issued", {"number": "Z999"})
        harness.ctx.events.publish(harness.office_id, "queue.issued", {"number": "A001"})
        message = json.loads(ws.receive_text())
    assert message["topic"] == "queue.issued"
    assert message["payload"] == {"number": "A001"}
    assert message["office_id"] == harness.office_id
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        harness.client().websocket_connect("/ws/events") as ws,
    ):
        ws.receive_text()
    assert refused.value.code == 4401


@pytest.mark.redis
def test_event_published_on_one_instance_reaches_a_console_on_another(
    database: TestDatabase, clock: object
) -> None:
    """Two apps sharing the database and Redis: an event published on A arrives on B's socket."""
    redis_url = require_redis()
    a = build_harness(database, clock, bus_url=redis_url)  # type: ignore[arg-type]
    b_engine = database.new_engine()
    b_app = create_app(make_settings(database, bus_url=redis_url), clock=clock, engine=b_engine)  # type: ignore[arg-type]
    agent_on_b = a.login(Role.AGENT)
    from fastapi.testclient import TestClient

    with TestClient(a.app), TestClient(b_app) as b:
        b.cookies.update(agent_on_b.cookies)
        with b.websocket_connect("/ws/events") as ws:
            a.ctx.events.publish(a.office_id, "queue.called", {"number": "A007", "window": 3})
            message = json.loads(ws.receive_text())
    assert message["payload"] == {"number": "A007", "window": 3}
    for c in a.clients:
        c.__exit__(None, None, None)
    b_engine.dispose()
