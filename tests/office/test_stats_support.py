"""Generated ticket histories with known answers for the statistics tests.

:class:`History` plays scripted ticket lives (through the real lifecycle table, so every event
sequence is legal) and stamps ``tickets`` / ``ticket_events`` rows the way
:func:`office.queue.transitions.step` does (the serving agent on every serving event). While it
plays, it records what happened in plain Python — issue time, first serve, serving segments per
agent, final state, who ended it — and :meth:`History.expected` derives every figure from that
record with :mod:`office.stats.percentiles`, never from the database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from office.models import (
    Office,
    Rating,
    Role,
    Service,
    ServiceCategory,
    Station,
    Ticket,
    TicketEvent,
    User,
)
from office.queue.lifecycle import TERMINAL_STATES, ticket_next
from office.stats.percentiles import mean, nearest_rank, rate

ZONE = "Asia/Shanghai"
TZ = ZoneInfo(ZONE)
WAIT_BINS_MIN = (0, 5, 10, 15, 20, 30, 45, 60)


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An office-local wall-clock time as aware UTC."""
    return datetime.combine(day, time(hh, mm, ss), tzinfo=TZ).astimezone(UTC)


@dataclass
class Life:
    """What the generator knows about one ticket (the independent record)."""

    station: int
    service: int
    issued_at: datetime
    business_date: date
    state: str = "waiting"
    agent: int | None = None
    ended_by: str = ""
    first_serve: datetime | None = None
    serving_since: datetime | None = None
    segments: list[tuple[int, float]] = field(default_factory=list)
    answered_by: list[int] = field(default_factory=list)
    events: list[tuple[datetime, str, str, str, int | None, str]] = field(default_factory=list)
    rating: tuple[int, bool, int | None] | None = None  # level, is_default, agent
    now: datetime = field(init=False)
    ticket_id: int | None = None
    predicted_wait_s: int | None = None

    def __post_init__(self) -> None:
        self.now = self.issued_at

    @property
    def wait_s(self) -> float | None:
        return (self.first_serve - self.issued_at).total_seconds() if self.first_serve else None

    @property
    def handling_s(self) -> float | None:
        return sum(sec for _, sec in self.segments) if self.state == "done" else None


class Player:
    """Drives one :class:`Life` through lifecycle events with explicit durations."""

    def __init__(self, life: Life) -> None:
        self.life = life

    def go(self, event: str, after_s: float, agent: int | None = None, by: str = "") -> Player:
        life = self.life
        life.now = life.now + timedelta(seconds=after_s)
        old = life.state
        new = ticket_next(old, event).value
        if event == "offer":
            life.agent = agent
        stamped_agent = life.agent
        if old == "serving" and life.serving_since is not None:
            assert life.agent is not None
            life.segments.append((life.agent, (life.now - life.serving_since).total_seconds()))
            life.serving_since = None
        if new == "serving":
            life.serving_since = life.now
            if event == "answer":
                assert life.agent is not None
                life.answered_by.append(life.agent)
                life.first_serve = life.first_serve or life.now
        life.events.append((life.now, event, old, new, stamped_agent, by))
        life.state = new
        if event in ("timeout", "decline", "transfer", "rejoin"):
            life.agent = None
        if new in TERMINAL_STATES:
            life.ended_by = by or ("staff" if event in ("complete", "mark_no_show") else "system")
        if event == "rejoin":
            life.ended_by = ""
        return self


@dataclass
class Expected:
    """Figures for a group of tickets, computed from the generator's record."""

    issued: int
    served: int
    completed: int
    no_show: int
    abandoned: int
    unserved_at_close: int
    ended: int
    within_target: int
    wait_mean_s: float | None
    wait_p90_s: float | None
    handling_mean_s: float | None
    handling_p90_s: float | None
    ratings: int
    good: int
    bad: int
    defaults: int
    mean_level: float | None


def expected_for(lives: list[Life], target_s: float) -> Expected:
    """The figures of ``lives`` (pure Python over the generator's record)."""
    waits = [x.wait_s for x in lives if x.wait_s is not None]
    handling = [x.handling_s for x in lives if x.handling_s is not None]
    rated = [x.rating for x in lives if x.rating is not None]
    return Expected(
        issued=len(lives),
        served=len(waits),
        completed=sum(1 for x in lives if x.state == "done"),
        no_show=sum(1 for x in lives if x.state == "no_show"),
        abandoned=sum(
            1 for x in lives if x.state == "left" and not x.first_serve and x.ended_by == "resident"
        ),
        unserved_at_close=sum(
            1 for x in lives if x.state == "left" and not x.first_serve and x.ended_by != "resident"
        ),
        ended=sum(1 for x in lives if x.state in ("done", "no_show", "left")),
        within_target=sum(1 for w in waits if w <= target_s),
        wait_mean_s=mean(waits),
        wait_p90_s=nearest_rank(waits, 90),
        handling_mean_s=mean(handling),
        handling_p90_s=nearest_rank(handling, 90),
        ratings=len(rated),
        good=sum(1 for r in rated if r[0] >= 4),
        bad=sum(1 for r in rated if r[0] <= 2),
        defaults=sum(1 for r in rated if r[1]),
        mean_level=mean(r[0] for r in rated),
    )


class History:
    """An office with stations, services and agents, and scripted ticket lives on some days."""

    SCENARIOS = (
        "simple",
        "recalled",
        "transferred_after_serving",
        "transferred_before_answer",
        "no_show",
        "rejoined_then_served",
        "abandoned",
        "left_while_serving",
        "held",
        "day_closed",
        "declined",
        "still_waiting",
    )

    def __init__(self, seed: int = 7, stations: int = 3, services: int = 2, agents: int = 3) -> None:
        self.rng = random.Random(seed)
        self.n_stations, self.n_services, self.n_agents = stations, services, agents
        self.lives: list[Life] = []
        self.office_id = 0
        self.stations: list[int] = []
        self.services: list[int] = []
        self.agents: list[int] = []
        self.prefix: dict[int, str] = {}

    # --- building ---------------------------------------------------------------------------------

    def setup(self, s: Session, code: str = "ST1", office_id: int | None = None) -> None:
        """Create the office (unless ``office_id`` names one), stations, services and agents."""
        if office_id is None:
            office = Office(code=code, name="统计街道", timezone=ZONE)
            s.add(office)
            s.flush()
            office_id = office.id
        self.office_id = office_id
        for i in range(self.n_stations):
            st = Station(
                office_id=office_id, code=f"{code}-S{i}", name=f"社区服务站{i}", name_en=f"Station {i}"
            )
            s.add(st)
            s.flush()
            self.stations.append(st.id)
        cat = ServiceCategory(code=f"{code}-cat", name="政务")
        s.add(cat)
        s.flush()
        for i in range(self.n_services):
            sv = Service(
                code=f"{code}-SV{i}",
                category_id=cat.id,
                name=f"事项{i}",
                name_en=f"Service {i}",
                queue_prefix="AB"[i % 2],
            )
            s.add(sv)
            s.flush()
            self.services.append(sv.id)
            self.prefix[sv.id] = sv.queue_prefix
        for i in range(self.n_agents):
            u = User(
                username=f"{code}-agent{i}",
                display_name=f"坐席{i}",
                role=Role.AGENT,
                office_id=office_id,
                password_hash="x",
            )
            s.add(u)
            s.flush()
            self.agents.append(u.id)

    def day(self, day: date, tickets: int, ratings: bool = True) -> None:
        """Script ``tickets`` lives on ``day`` (every scenario in turn, random durations)."""
        r = self.rng
        clock = local(day, 8, 30)
        for i in range(tickets):
            clock += timedelta(seconds=r.randint(30, 400))
            scenario = self.SCENARIOS[i % len(self.SCENARIOS)]
            life = Life(
                station=r.choice(self.stations),
                service=r.choice(self.services),
                issued_at=clock,
                business_date=clock.astimezone(TZ).date(),
            )
            life.predicted_wait_s = r.choice([None, r.randint(0, 3000)])
            self._play(scenario, Player(life))
            if ratings and life.first_serve and life.answered_by and r.random() < 0.8:
                last_agent = life.answered_by[-1]
                life.rating = (r.randint(1, 5), r.random() < 0.2, last_agent)
            self.lives.append(life)

    def midnight(self, day: date) -> None:
        """A ticket issued 23:40 local whose call runs past midnight (it belongs to ``day``)."""
        life = Life(
            station=self.stations[0],
            service=self.services[0],
            issued_at=local(day, 23, 40),
            business_date=day,
        )
        a = self.agents[0]
        Player(life).go("offer", 600, a).go("ring", 60).go("answer", 240).go("complete", 1200)
        life.rating = (5, False, a)
        self.lives.append(life)

    def _play(self, scenario: str, p: Player) -> None:
        r = self.rng
        a, b = r.sample(self.agents, 2)

        def w() -> int:
            return r.randint(60, 2400)

        def h() -> int:
            return r.randint(120, 1500)

        if scenario == "simple":
            p.go("offer", w(), a).go("ring", 2).go("answer", r.randint(3, 20)).go("complete", h())
        elif scenario == "recalled":
            p.go("offer", w(), a).go("ring", 2).go("recall", 20).go("timeout", 20)
            p.go("offer", 30, b).go("ring", 2).go("answer", 8).go("complete", h())
        elif scenario == "transferred_after_serving":
            p.go("offer", w(), a).go("ring", 2).go("answer", 6).go("transfer", h())
            p.go("offer", w(), b).go("ring", 2).go("answer", 5).go("complete", h())
        elif scenario == "transferred_before_answer":
            p.go("offer", w(), a).go("ring", 2).go("transfer", 10)
            p.go("offer", w(), b).go("ring", 2).go("answer", 9).go("complete", h())
        elif scenario == "no_show":
            p.go("offer", w(), a).go("ring", 2).go("give_up", 20)
        elif scenario == "rejoined_then_served":
            p.go("offer", w(), a).go("ring", 2).go("mark_no_show", 40).go("rejoin", 600, by="resident")
            p.go("offer", w(), b).go("ring", 2).go("answer", 7).go("complete", h())
        elif scenario == "abandoned":
            p.go("leave", w(), by="resident")
        elif scenario == "left_while_serving":
            p.go("offer", w(), a).go("ring", 2).go("answer", 5).go("leave", h(), by="resident")
        elif scenario == "held":
            p.go("offer", w(), a).go("ring", 2).go("answer", 5).go("hold", h())
            p.go("resume", 900).go("complete", h())
        elif scenario == "day_closed":
            p.go("leave", 40000, by="system")
        elif scenario == "declined":
            p.go("offer", w(), a).go("decline", 15).go("offer", 60, b).go("ring", 2).go("answer", 6)
            p.go("complete", h())
        elif scenario == "still_waiting":
            pass
        else:  # pragma: no cover - the tuple above is the whole list
            raise AssertionError(scenario)

    # --- storing ----------------------------------------------------------------------------------

    def store(self, s: Session) -> None:
        """Write tickets, their events and ratings."""
        numbers: dict[tuple[date, str], int] = {}
        for life in self.lives:
            prefix = self.prefix[life.service]
            n = numbers[(life.business_date, prefix)] = numbers.get((life.business_date, prefix), 0) + 1
            t = Ticket(
                office_id=self.office_id,
                station_id=life.station,
                service_id=life.service,
                service_version=1,
                queue_prefix=prefix,
                business_date=life.business_date,
                number=n,
                display_number=f"{prefix}{n:03d}",
                state=life.state,
                order_at=life.issued_at,
                queued_at=life.issued_at,
                issued_at=life.issued_at,
                agent_id=life.agent,
                first_called_at=next((e[0] for e in life.events if e[1] == "offer"), None),
                predicted_wait_s=life.predicted_wait_s,
                served_at=max((e[0] for e in life.events if e[1] == "answer"), default=None),
                ended_at=life.events[-1][0] if life.state in TERMINAL_STATES else None,
                ended_by=life.ended_by,
            )
            s.add(t)
            s.flush()
            life.ticket_id = t.id
            for at, event, old, new, agent, by in life.events:
                s.add(
                    TicketEvent(
                        ticket_id=t.id,
                        office_id=self.office_id,
                        at=at,
                        event=event,
                        from_state=old,
                        to_state=new,
                        agent_id=agent,
                        actor=by or "user:1",
                    )
                )
            if life.rating is not None:
                level, is_default, agent = life.rating
                s.add(
                    Rating(
                        office_id=self.office_id,
                        station_id=life.station,
                        ticket_id=t.id,
                        service_id=life.service,
                        agent_id=agent,
                        level=level,
                        is_default=is_default,
                        created_at=life.now + timedelta(minutes=1),
                    )
                )
        s.flush()

    # --- expected figures -------------------------------------------------------------------------

    def in_period(self, first: date, last: date) -> list[Life]:
        """Lives whose business date is in the period."""
        return [x for x in self.lives if first <= x.business_date <= last]

    def expected(self, first: date, last: date, target_s: float) -> Expected:
        """The office's figures over the period."""
        return expected_for(self.in_period(first, last), target_s)

    def expected_by(self, first: date, last: date, target_s: float, key: str) -> dict[int, Expected]:
        """Figures per ``station`` or ``service``."""
        groups: dict[int, list[Life]] = {}
        for x in self.in_period(first, last):
            groups.setdefault(getattr(x, key), []).append(x)
        return {k: expected_for(v, target_s) for k, v in groups.items()}

    def expected_agents(self, first: date, last: date) -> dict[int, dict[str, object]]:
        """Per agent: tickets answered, completed, handling mean / p90 of their own segments, ratings."""
        out: dict[int, dict[str, object]] = {}
        for agent in self.agents:
            served = completed = 0
            handling: list[float] = []
            for x in self.in_period(first, last):
                if agent not in x.answered_by:
                    continue
                served += 1
                if x.state == "done":
                    completed += 1
                    handling.append(sum(sec for ag, sec in x.segments if ag == agent))
            rated = [x.rating for x in self.in_period(first, last) if x.rating and x.rating[2] == agent]
            if served or rated:
                out[agent] = {
                    "served": served,
                    "completed": completed,
                    "handling_mean_s": mean(handling),
                    "handling_p90_s": nearest_rank(handling, 90),
                    "ratings": len(rated),
                    "good_rate": rate(sum(1 for r in rated if r[0] >= 4), len(rated)),
                }
        return out

    def expected_hours(self, first: date, last: date) -> list[int]:
        """Served tickets per office-local hour of first serve."""
        hours = [0] * 24
        for x in self.in_period(first, last):
            if x.first_serve:
                hours[x.first_serve.astimezone(TZ).hour] += 1
        return hours

    def expected_wait_bins(self, first: date, last: date) -> list[int]:
        """Served tickets per wait bin."""
        counts = [0] * len(WAIT_BINS_MIN)
        for x in self.in_period(first, last):
            w = x.wait_s
            if w is None:
                continue
            idx = max(i for i, lo in enumerate(WAIT_BINS_MIN) if w >= lo * 60)
            counts[idx] += 1
        return counts


def test_nearest_rank_reference() -> None:
    """The percentile reference is nearest-rank: the value at rank ceil(q·n)."""
    assert nearest_rank([], 90) is None
    assert nearest_rank([5.0], 90) == 5.0
    assert nearest_rank([float(i) for i in range(1, 11)], 90) == 9.0
    assert nearest_rank([float(i) for i in range(1, 12)], 90) == 10.0
    assert nearest_rank([3.0, 1.0, 2.0], 50) == 2.0


def test_generator_plays_every_scenario_through_the_lifecycle_table() -> None:
    """Every scripted life ends in the state its scenario names, with its serving time recorded."""
    h = History()
    h.agents = [1, 2, 3]
    h.stations, h.services = [1], [1]
    h.day(date(2026, 3, 2), len(History.SCENARIOS))
    states = [x.state for x in h.lives]
    assert states == [
        "done",
        "done",
        "done",
        "done",
        "no_show",
        "done",
        "left",
        "left",
        "done",
        "left",
        "done",
        "waiting",
    ]
    transferred = h.lives[2]
    assert len(transferred.segments) == 2 and {a for a, _ in transferred.segments} == set(
        transferred.answered_by
    )
    held = h.lives[8]
    assert held.handling_s is not None and held.first_serve is not None
    assert held.handling_s < (held.events[-1][0] - held.first_serve).total_seconds()
