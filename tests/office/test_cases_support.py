"""Shared helpers for the case and document tests (no tests here): a live call with a kiosk that
uploads an identity and stills, images (valid and hostile), and audit/log inspection."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import WebSocketTestSession

from office.models import AuditEvent, ServiceMaterial
from tests.office.conftest import OfficeHarness
from tests.office.test_calls_support import CallRig, accept_call, build_rig
from tests.office.test_queue_support import YOUNG_ID

#: The simulated card's unmasked fields (the name and number must never show up in audit or logs).
CARD: dict[str, Any] = {
    "name": "张三丰",
    "sex": "男",
    "nation": "汉",
    "birth_date": "1990-01-01",
    "address": "北京市东城区景山前街4号",
    "id_number": YOUNG_ID,
    "issuer": "北京市公安局东城分局",
    "valid_from": "2020-01-01",
    "valid_to": "2040-01-01",
    "card_type": "resident",
}


def jpeg(width: int = 640, height: int = 480) -> bytes:
    """A real JPEG of ``width`` × ``height``."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG."""
    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, "PNG")
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (one IDAT of a few zero rows)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    idat = zlib.compress(b"\x00" * (width // 8 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pdf() -> bytes:
    """A minimal PDF."""
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class LiveCall:
    """A rig with a call accepted by the kiosk (both sockets open)."""

    rig: CallRig
    ticket_id: int
    call_id: str
    kws: WebSocketTestSession
    aws: WebSocketTestSession

    @property
    def h(self) -> OfficeHarness:
        """The office harness."""
        return self.rig.h

    def upload_identity(self, card: dict[str, Any] | None = None) -> dict[str, Any]:
        """The kiosk stores the card; the response JSON."""
        r = self.rig.kiosk.post(f"/api/kiosk/calls/{self.call_id}/identity", json=card or CARD)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def upload(
        self, body: bytes, content_type: str = "image/jpeg", kind: str = "page", request_id: str = "hw-1"
    ) -> Any:
        """The kiosk uploads a document; the raw response."""
        return self.rig.kiosk.post(
            f"/api/kiosk/calls/{self.call_id}/documents",
            content=body,
            headers={"Content-Type": content_type, "X-Document-Kind": kind, "X-Request-Id": request_id},
        )

    def materials(self, code: str = "GOV-SSC-APPLY") -> list[int]:
        """The material ids of a seeded service."""
        with self.h.ctx.read_db() as s:
            return list(
                s.scalars(
                    select(ServiceMaterial.id)
                    .where(ServiceMaterial.service_id == self.rig.qh.services[code])
                    .order_by(ServiceMaterial.position)
                )
            )


@contextmanager
def live_call(rig: CallRig) -> Iterator[LiveCall]:
    """Open both sockets and accept a call."""
    with rig.kiosk_socket() as kws, rig.agent_socket() as aws:
        ticket_id, call_id = accept_call(rig, kws, aws)
        yield LiveCall(rig, ticket_id, call_id, kws, aws)


def audit_rows(h: OfficeHarness, prefix: str = "") -> list[AuditEvent]:
    """Audit rows (optionally of actions starting with ``prefix``), oldest first."""
    with h.ctx.read_db() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if prefix:
            q = q.where(AuditEvent.action.startswith(prefix))
        return list(s.scalars(q))


def assert_no_personal_data(text: str) -> None:
    """None of the card's identifying values appear in ``text``."""
    for key in ("name", "id_number", "address"):
        assert CARD[key] not in text, key
    assert CARD["id_number"][6:14] not in text


@pytest.fixture
def crig(harness: OfficeHarness) -> CallRig:
    """A call rig on SQLite."""
    return build_rig(harness)
