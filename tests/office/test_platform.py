"""Cross-cutting server behaviour: health, metrics, request IDs, body limits, errors, headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine

from office.app import UndeclaredAccess, create_app
from office.logs import JsonFormatter, scrub
from office.models import Role
from office.settings import Settings
from tests.conftest import TestDatabase, make_settings
from tests.office.conftest import OfficeHarness


def test_healthz_readyz_and_metrics(harness: OfficeHarness) -> None:
    """Liveness and readiness answer 200, and metrics count the requests by route template."""
    c = harness.client()
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json() == {"status": "ready"}
    c.get("/api/kiosks/5")  # unknown method/route mix: counted under its template or "other"
    text = c.get("/metrics").text
    assert 'doorstep_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert "doorstep_http_request_duration_seconds_bucket" in text


def test_readyz_reports_an_unreachable_database(sqlite_db: TestDatabase, clock: object) -> None:
    """With the database gone, /readyz answers 503 while /healthz still answers 200."""
    from fastapi.testclient import TestClient

    dead = create_engine("sqlite:////nonexistent-dir/x.db")
    app = create_app(make_settings(sqlite_db), engine=dead)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "not_ready"


def test_request_id_is_echoed_or_generated_and_unsafe_ids_replaced(harness: OfficeHarness) -> None:
    """A sane incoming X-Request-ID is echoed; a hostile one is replaced by a generated ID."""
    c = harness.client()
    assert c.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    rid = c.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers["x-request-id"]
    assert rid != "bad id\nwith newline"
    assert len(rid) == 32


def test_security_headers_and_no_store_on_api(harness: OfficeHarness) -> None:
    """Pages and API answers carry CSP and nosniff; API answers are not cacheable."""
    c = harness.client()
    r = c.get("/api/auth/me")
    assert r.headers["cache-control"] == "no-store"
    page = c.get("/console/login.html")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_oversized_bodies_are_refused_with_413_by_header_and_by_stream(harness: OfficeHarness) -> None:
    """Bodies over the limit get 413 whether declared by Content-Length or streamed without one."""
    c = harness.client()
    big = b'{"username": "' + b"x" * (1024 * 1024) + b'", "password": "y"}'
    r = c.post("/api/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(300):
            yield b"x" * 8192

    r = c.post("/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"username": 5, "password": []}', "application/json"),
        (b'{"username": "a", "password": "b", "extra": 1}', "application/json"),
        (b"username=a&password=b", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_malformed_bodies_get_a_clear_422_without_echoing_input(
    harness: OfficeHarness, body: bytes, content_type: str
) -> None:
    """Invalid JSON, wrong types, unknown fields and form posts get a 4xx with a clear code and
    field locations only (never the submitted values)."""
    r = harness.client().post("/api/auth/login", content=body, headers={"Content-Type": content_type})
    error = r.json()["error"]
    assert (r.status_code, error["code"]) in {(422, "invalid_input"), (400, "bad_request")}
    for field in error.get("fields", []):
        assert set(field) == {"loc", "type", "msg"}
    assert '"a"' not in r.text


def test_app_refuses_routes_without_access_declaration(
    sqlite_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default deny: adding a route with no Allow dependency makes create_app fail."""
    from fastapi import APIRouter

    from office.api import ROUTERS

    rogue = APIRouter()

    @rogue.get("/api/rogue")
    def _rogue() -> dict[str, str]:
        return {}

    import office.app as app_module

    monkeypatch.setattr(app_module, "ROUTERS", (*ROUTERS, rogue))
    with pytest.raises(UndeclaredAccess, match="/api/rogue"):
        create_app(make_settings(sqlite_db))


@pytest.mark.parametrize("name", ["secret_key", "data_encryption_key", "lookup_hash_key"])
def test_placeholder_secrets_are_refused_outside_development(name: str) -> None:
    """In production each placeholder secret stops start-up with an error naming the variable."""
    good: dict[str, Any] = {
        "secret_key": "prod-" + "Zq7" * 10,
        "data_encryption_key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "lookup_hash_key": "prod-" + "Lk9" * 10,
    }
    good[name] = "change-me"
    with pytest.raises(ValueError, match=f"OFFICE_{name.upper()}"):
        Settings(environment="production", **good)
    Settings(environment="development")  # development accepts the placeholders


def test_bad_settings_values_are_refused() -> None:
    """Unknown zones, databases and malformed keys are configuration errors."""
    cases: list[dict[str, Any]] = [
        {"timezone": "Mars/Olympus"},
        {"database_url": "mysql://x"},
        {"data_encryption_key": "short"},
    ]
    for bad in cases:
        with pytest.raises(ValueError):
            Settings(**bad)


def test_production_argon2_cost_is_strong_by_default() -> None:
    """Unless configured otherwise, password hashes use argon2's recommended cost."""
    s = Settings()
    assert (s.argon2_time_cost, s.argon2_memory_kib) == (3, 65536)


def test_log_lines_are_json_and_never_carry_id_numbers_or_tokens() -> None:
    """The JSON formatter masks ID numbers and tokens even when they slip into a message or extra."""
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "card 11010519491231002X read", (), None)
    record.token = "dk_" + "A" * 40
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert "11010519491231002X" not in line
    assert "1101**********002X" in payload["msg"]
    assert payload["token"] == "dk_***"
    assert scrub("line\ninjection") == "line\\ninjection"


def test_server_logs_of_a_session_contain_no_personal_data(
    harness: OfficeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Logging in, failing and enrolling write audit/access logs without passwords or tokens."""
    caplog.set_level(logging.INFO)
    name = harness.add_user(Role.AGENT)
    harness.client().post("/api/auth/login", json={"username": name, "password": "Wrong-password-9"})
    _, token = harness.enroll_kiosk()
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "Wrong-password-9" not in formatted
    assert token not in formatted
    assert '"action": "auth.login"' in formatted
