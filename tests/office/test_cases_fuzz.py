"""Schemathesis over the case and personal-data routes, as the callers they admit (an agent, a
kiosk): generated valid and invalid requests never cause a 500 and every answer is documented.
(The generic fuzz test runs as an admin, whom these routes refuse at the door.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from office.auth import SESSION_COOKIE
from office.clock import FakeClock
from office.db import make_engine
from office.models import Role
from office.seed_catalog import seed_catalog
from tests.conftest import TestDatabase
from tests.office.conftest import build_harness
from tests.office.test_api_fuzz import CHECKS

_PREFIXES = ("/api/cases", "/api/documents", "/api/residents", "/api/kiosk/calls/")
_CALL_READS = ("/api/calls/{call_id}/resident", "/api/calls/{call_id}/documents")


@dataclass
class Target:
    """One app with an agent session and a kiosk token, and its schema."""

    agent: dict[str, str]
    kiosk: dict[str, str]
    schema: Any


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Target]:
    """An office with the catalog, an agent and an enrolled kiosk, once per module."""
    path = tmp_path_factory.mktemp("casefuzz") / "office.db"
    shutil.copyfile(sqlite_template, path)
    db = TestDatabase("sqlite", f"sqlite:///{path}", make_engine(f"sqlite:///{path}"))
    h = build_harness(db, FakeClock())
    seed_catalog(h.ctx)
    agent = h.login(Role.AGENT)
    _, token = h.enroll_kiosk()
    yield Target(
        agent={
            "Cookie": f"{SESSION_COOKIE}={agent.cookies.get(SESSION_COOKIE)}",
            "X-CSRF-Token": agent.headers["X-CSRF-Token"],
        },
        kiosk={"Authorization": f"Bearer {token}"},
        schema=schemathesis.openapi.from_asgi("/openapi.json", h.app),
    )
    for c in h.clients:
        c.__exit__(None, None, None)
    db.engine.dispose()


def _operations() -> list[tuple[str, str]]:
    from office.app import create_app
    from office.settings import Settings

    paths = create_app(Settings(database_url="sqlite:///:memory:")).openapi()["paths"]
    return [
        (method.upper(), path)
        for path, item in sorted(paths.items())
        if path.startswith(_PREFIXES) or path in _CALL_READS
        for method in sorted(item)
    ]


def test_the_fuzzed_routes_are_the_case_routes() -> None:
    """Every case, document, resident and kiosk-upload route is covered here."""
    ops = {path for _, path in _operations()}
    assert {"/api/cases", "/api/documents/{document_id}", "/api/residents/lookup"} <= ops
    assert "/api/kiosk/calls/{call_id}/documents" in ops and set(_CALL_READS) <= ops


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_server_errors_and_documented_answers(method: str, path: str, target: Target) -> None:
    """Whatever the generated input, the operation answers with a documented non-5xx response."""
    headers = target.kiosk if path.startswith("/api/kiosk/") else target.agent
    operation = target.schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        case.validate_response(response, checks=CHECKS)

    check()
