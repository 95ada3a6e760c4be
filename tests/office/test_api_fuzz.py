"""Schemathesis over the OpenAPI schema: generated valid and invalid requests never cause a 500.

Runs as an admin (the role admitted to the most routes, so bodies are validated rather than refused
at the door) and checks Schemathesis' server-error and schema-conformance checks on every operation.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from office.auth import SESSION_COOKIE
from office.clock import FakeClock
from office.db import make_engine
from office.models import Role
from tests.conftest import TestDatabase
from tests.office.conftest import OfficeHarness, build_harness

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class FuzzTarget:
    """One app shared by every operation's run (state accumulates; only responses are judged)."""

    harness: OfficeHarness
    headers: dict[str, str]
    schema: Any


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[FuzzTarget]:
    """An office with an admin session and its loaded OpenAPI schema, once per module."""
    path = tmp_path_factory.mktemp("fuzz") / "office.db"
    shutil.copyfile(sqlite_template, path)
    db = TestDatabase("sqlite", f"sqlite:///{path}", make_engine(f"sqlite:///{path}"))
    h = build_harness(db, FakeClock())
    admin = h.login(Role.ADMIN)
    headers = {
        "Cookie": f"{SESSION_COOKIE}={admin.cookies.get(SESSION_COOKIE)}",
        "X-CSRF-Token": admin.headers["X-CSRF-Token"],
    }
    yield FuzzTarget(h, headers, schemathesis.openapi.from_asgi("/openapi.json", h.app))
    for c in h.clients:
        c.__exit__(None, None, None)
    db.engine.dispose()


def _operations() -> list[tuple[str, str]]:
    from office.app import create_app
    from office.settings import Settings

    app = create_app(Settings(database_url="sqlite:///:memory:"))
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in sorted(paths.items()) for method in sorted(item)]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_server_errors_and_responses_match_the_schema(method: str, path: str, target: FuzzTarget) -> None:
    """Whatever the generated input, the operation answers with a documented non-5xx response."""
    headers = target.headers
    if path == "/api/auth/logout" or path.startswith("/api/auth/sessions/"):
        headers = {**headers, "X-CSRF-Token": "not-the-token"}  # keep the admin session alive
    operation = target.schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        case.validate_response(response, checks=CHECKS)

    check()
