"""Demo data: one street office, three stations with a kiosk each, one user per role.

Only for development: :func:`seed_demo` refuses any other environment. Idempotent: running it again
leaves existing rows alone and (re)issues enrollment codes only for kiosks not yet enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from office import accounts, enrollment
from office.audit import Actor
from office.context import OfficeContext
from office.models import Kiosk, Office, Role, Station, User
from office.seed_catalog import seed_catalog
from office.settings import Environment

__all__ = ["DEMO_USERS", "DemoSeed", "seed_demo"]

#: username, display name, role, password (development only; printed by ``make demo``).
DEMO_USERS: tuple[tuple[str, str, Role, str], ...] = (
    ("agent1", "王晓燕", Role.AGENT, "Agent-demo-1"),
    ("agent2", "李建国", Role.AGENT, "Agent-demo-2"),
    ("supervisor", "陈主任", Role.SUPERVISOR, "Supervisor-demo-1"),
    ("technician", "赵工", Role.TECHNICIAN, "Technician-demo-1"),
    ("admin", "系统管理员", Role.ADMIN, "Admin-demo-1"),
)

_STATIONS = (
    ("S01", "梅园社区服务站", "Meiyuan Community Station"),
    ("S02", "桃林社区服务站", "Taolin Community Station"),
    ("S03", "竹溪社区服务站", "Zhuxi Community Station"),
)


@dataclass
class DemoSeed:
    """What the seed created or found; enrollment codes only for kiosks still to enroll."""

    office_id: int
    station_ids: list[int] = field(default_factory=list)
    kiosk_codes: dict[int, str] = field(default_factory=dict)


def seed_demo(ctx: OfficeContext) -> DemoSeed:
    """Create the demo organisation and accounts (development only)."""
    if ctx.settings.environment is not Environment.DEVELOPMENT:
        raise RuntimeError("demo data is only seeded in development")
    system = Actor("system", "seed")
    with ctx.db() as s, s.begin():
        office = s.scalar(select(Office).where(Office.code == "demo"))
        if office is None:
            office = Office(
                code="demo",
                name="示范街道办事处",
                name_en="Demo Street Office",
                timezone=ctx.settings.timezone,
            )
            s.add(office)
            s.flush()
        result = DemoSeed(office_id=office.id)
        for code, name, name_en in _STATIONS:
            st = s.scalar(select(Station).where(Station.office_id == office.id, Station.code == code))
            if st is None:
                st = Station(office_id=office.id, code=code, name=name, name_en=name_en)
                s.add(st)
                s.flush()
            result.station_ids.append(st.id)
        for username, display, role, password in DEMO_USERS:
            if s.scalar(select(User.id).where(User.username == username)) is None:
                accounts.create_user(
                    s,
                    username=username,
                    display_name=display,
                    role=role,
                    password=password,
                    office_id=None if role is Role.ADMIN else office.id,
                    enforce_policy=False,
                    hashing=ctx.passwords,
                )
        existing = {
            k.station_id: k for k in s.scalars(select(Kiosk).where(Kiosk.station_id.in_(result.station_ids)))
        }
    for i, station_id in enumerate(result.station_ids, start=1):
        kiosk = existing.get(station_id)
        if kiosk is None:
            issued = enrollment.register(ctx, station_id=station_id, name=f"kiosk-{i}", actor=system)
            result.kiosk_codes[issued.kiosk.id] = issued.code
        elif kiosk.enrolled_at is None:
            result.kiosk_codes[kiosk.id] = enrollment.issue_code(ctx, kiosk.id, actor=system).code
    seed_catalog(ctx)
    return result
