"""Shared set-up for the booking tests: a service, agents on a rota, valid ID numbers (no tests here)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from office import enrollment
from office.audit import Actor
from office.booking.identity import gb11643_check_char
from office.models import AgentSkill, Role, RotaShift, Service, ServiceCategory, User
from tests.office.conftest import OfficeHarness

SH = ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"
_SEQ = itertools.count(1)


def id_number(serial: int = 1, birth: str = "19800101") -> str:
    """A valid GB 11643 number (area 110105) with sequence ``serial``."""
    first17 = f"110105{birth}{serial % 1000:03d}"
    return first17 + gb11643_check_char(first17)


def local(y: int, mo: int, d: int, h: int, mi: int = 0, zone: ZoneInfo = SH) -> datetime:
    """An aware instant from office-local wall time, in UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=zone).astimezone(UTC)


def add_service(
    h: OfficeHarness, *, minutes: int = 30, skill: str = "", code: str = "S1", prefix: str = "A"
) -> int:
    """Create a bookable service; returns its id."""
    with h.ctx.db() as s, s.begin():
        cat = s.scalar(select(ServiceCategory).where(ServiceCategory.code == "gov"))
        if cat is None:
            cat = ServiceCategory(code="gov", name="政务服务")
            s.add(cat)
            s.flush()
        svc = Service(
            code=code,
            category_id=cat.id,
            name=f"测试服务{code}",
            name_en=f"Test service {code}",
            queue_prefix=prefix,
            expected_minutes=minutes,
            skill=skill,
        )
        s.add(svc)
        s.flush()
        return svc.id


def add_agents(
    h: OfficeHarness,
    n: int,
    *,
    weekdays: range | tuple[int, ...] = range(7),
    start: time = time(9),
    end: time = time(17),
    skills: tuple[str, ...] = (),
) -> list[int]:
    """Create ``n`` agents on the rota; returns their user ids."""
    ids: list[int] = []
    for _ in range(n):
        with h.ctx.db() as s, s.begin():
            # Agents here never log in: skip the (deliberately slow) password hash.
            user = User(
                username=f"agent{next(_SEQ)}",
                display_name="Test agent",
                role=Role.AGENT,
                office_id=h.office_id,
                password_hash="!",
            )
            s.add(user)
            s.flush()
            uid = user.id
            for wd in weekdays:
                s.add(
                    RotaShift(
                        office_id=h.office_id,
                        user_id=uid,
                        weekday=wd,
                        start_min=start.hour * 60 + start.minute,
                        end_min=end.hour * 60 + end.minute,
                    )
                )
            for sk in skills:
                s.add(AgentSkill(user_id=uid, skill=sk))
        ids.append(uid)
    return ids


@dataclass
class Kiosk:
    """A kiosk client and the ids it acts under."""

    client: TestClient
    kiosk_id: int


def kiosk(h: OfficeHarness) -> Kiosk:
    """An enrolled kiosk at the harness station (enrolled directly, without an admin login)."""
    code = enrollment.register(h.ctx, station_id=h.station_id, name="k", actor=Actor("system")).code
    issued = enrollment.enroll(h.ctx, code, ip="127.0.0.1")
    return Kiosk(h.kiosk_client(issued.token), issued.kiosk.id)


def book(
    k: Kiosk, service_id: int, starts_at: datetime, serial: int = 1, phone: str | None = PHONE
) -> dict[str, object]:
    """Hold and confirm through the API; returns the booking JSON (asserting success)."""
    r = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": service_id, "starts_at": starts_at.isoformat()}
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    body: dict[str, object] = {
        "hold_token": hold["hold_token"],
        "id_number": id_number(serial),
        "id_source": "manual" if phone else "card",
    }
    if phone:
        body["phone"] = phone
    r = k.client.post(f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm", json=body)
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result
