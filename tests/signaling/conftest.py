"""Fixtures for the signaling tests: golden frames and the Redis URL."""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def golden() -> dict[str, dict[str, Any]]:
    """Golden messages, one per type (and notable variants), keyed by name."""
    loaded: dict[str, dict[str, Any]] = json.loads(
        (HERE / "golden_messages.json").read_text(encoding="utf-8")
    )
    return loaded


def _redis_reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL; skips (or fails when DOORSTEP_REQUIRE_SERVICES=1) if unreachable."""
    url = os.environ.get("OFFICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _redis_reachable(url):
        reason = f"Redis not reachable at {url}"
        if os.environ.get("DOORSTEP_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def unique_prefix() -> str:
    """A channel/key prefix no other test uses."""
    return f"test-signaling-{uuid.uuid4().hex[:12]}:"
