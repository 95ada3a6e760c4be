"""Call-next as few statements as the engine allows: the hot path of the queue.

Same rules as :func:`office.queue.calling.call_next` (which dispatches here), written as fixed SQL
text so a press costs one round trip on PostgreSQL and a handful of cheap statements on SQLite,
with no ORM unit of work:

* **PostgreSQL** — one statement, run in autocommit (it is its own transaction): the agent's row is
  read ``FOR UPDATE`` (a second press of the same agent waits, then sees ``ringing`` and loses);
  the office's ring timeout and wait bound are read in the same statement (no cached settings);
  the first eligible queued ticket in :mod:`office.queue.ordering` order is read
  ``FOR UPDATE SKIP LOCKED`` (agents never wait for each other's candidates); data-modifying
  CTEs then move the ticket to ``offered`` (state- and version-checked), the agent to ``ringing``
  and stamp the ``offer`` event, and the claimed row comes back with ``RETURNING``.
* **SQLite** — under the database write lock (``BEGIN IMMEDIATE``, taken fairly in-process by
  :func:`office.queue.txn.writing`): agent and settings in one read, the pick, a state-checked
  ``UPDATE … RETURNING``, the agent move and the event insert.

Presses that arrive together in one office process (:mod:`office.batching`) are claimed by
:func:`claim_many`: on PostgreSQL one pipelined transaction per office for the whole batch (the
agents locked, the queue's head locked ``SKIP LOCKED``, pairs made in Python in press order, all
pairs written by one statement), instead of one statement per press each sorting the queue and
skipping the same locked head rows; on SQLite one write transaction with a savepoint per press.
Other processes' claims still meet the row locks and state-checked updates.

The ORDER BY below is :func:`office.queue.ordering.sql_order` spelled in SQL (starving first, then
priority, order_at, id); the eligibility test is
:func:`office.queue.calling.eligible_services_clause`. Tests run the ordering scenarios on both
engines and compare with :func:`office.queue.ordering.sort_key`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from sqlalchemy import Connection, Integer, TextClause, bindparam, text

from office.context import OfficeContext
from office.errors import ApiError
from office.models import AgentStatus, Ticket, TicketState
from office.models.base import UTCDateTime, detached
from office.queue.config import QueueConfig
from office.queue.lifecycle import QUEUED_STATES
from office.queue.txn import writing

__all__ = ["BATCH_SLACK", "Claimed", "Press", "claim_many", "claim_next"]

_QUEUED = ", ".join(f"'{s.value}'" for s in sorted(QUEUED_STATES))
_DEFAULTS = QueueConfig(office_id=0)
_TICKET_COLUMNS = [c.name for c in Ticket.__table__.columns]

#: Tickets the agent may take (see ``eligible_services_clause``) among the office's queued ones.
_ELIGIBLE = f"""
    t.office_id = :office AND t.state IN ({_QUEUED})
    AND (t.target_agent_id IS NULL OR t.target_agent_id = :agent)
    AND (
        NOT EXISTS (SELECT 1 FROM agent_skills k WHERE k.user_id = :agent)
        OR t.service_id IN (
            SELECT s.id FROM services s
            WHERE s.skill = '' OR s.skill IN (SELECT k.skill FROM agent_skills k WHERE k.user_id = :agent)
        )
    )"""  # noqa: S608 - built from module constants only


def _typed(sql: str, *times: str) -> TextClause:
    """``sql`` with its office and agent parameters typed, and ``times`` bound as UTC instants."""
    return text(sql).bindparams(
        bindparam("office", type_=Integer()),
        bindparam("agent", type_=Integer()),
        *(bindparam(name, type_=UTCDateTime()) for name in times),
    )


def _returning_columns(stmt: TextClause, *extra: Any) -> Any:
    typed = {c.name: c.type for c in Ticket.__table__.columns}
    return stmt.columns(*extra, **typed)


#: The office's ring timeout and wait bound (defaults where it has no settings row), as a CTE.
_CFG = """cfg AS (
    SELECT COALESCE(MAX(q.ring_timeout_s), :ring_default) AS ring_s,
           COALESCE(MAX(q.max_wait_bound_min), :bound_default) AS bound_min
    FROM queue_settings q WHERE q.office_id = :office
)"""


def _pyformat(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (the PostgreSQL claim runs on the driver)."""
    return re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql)


#: Run on the psycopg connection itself: one fixed statement needs none of SQLAlchemy's compiling
#: or result processing, and psycopg prepares it server-side after a few executions.
_PG_CLAIM = _pyformat(
    f"""
WITH {_CFG},
agent AS (
    SELECT a.user_id, a.office_id, a.state, a.window_no FROM agent_states a
    WHERE a.user_id = :agent
    FOR UPDATE
),
pick AS (
    SELECT t.id, t.state, t.version FROM tickets t, cfg
    WHERE EXISTS (SELECT 1 FROM agent WHERE agent.state = 'available' AND agent.office_id = :office)
      AND {_ELIGIBLE}
    ORDER BY CASE WHEN t.queued_at <= :now - cfg.bound_min * INTERVAL '1 minute' THEN 0 ELSE 1 END,
             t.priority, t.order_at, t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
),
offered AS (
    UPDATE tickets t SET
        state = 'offered', version = t.version + 1, agent_id = :agent, target_agent_id = NULL,
        window_no = agent.window_no, called_at = :now,
        first_called_at = COALESCE(t.first_called_at, :now),
        ring_deadline = :now + cfg.ring_s * INTERVAL '1 second'
    FROM pick, agent, cfg
    WHERE t.id = pick.id AND t.state = pick.state AND t.version = pick.version
    RETURNING t.*, pick.state AS from_state
),
moved AS (
    UPDATE agent_states a SET state = 'ringing', since = :now, current_ticket_id = offered.id,
        pause_reason = ''
    FROM offered
    WHERE a.user_id = :agent AND a.state = 'available'
    RETURNING a.user_id
),
stamped AS (
    INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
    SELECT offered.id, offered.office_id, :now, 'offer', offered.from_state, 'offered', :agent, :actor, ''
    FROM offered
    RETURNING id
)
SELECT agent.state AS agent_state, agent.office_id AS agent_office,
       -- A claim must move the agent and stamp the event: if not, divide by zero so that the
       -- whole statement (its own transaction) fails and nothing is kept.
       CASE WHEN offered.id IS NOT NULL
            THEN 1 / ((SELECT count(*) FROM moved) * (SELECT count(*) FROM stamped)) END AS guard,
       offered.*
FROM (SELECT 1) AS one LEFT JOIN agent ON TRUE LEFT JOIN offered ON TRUE
"""  # noqa: S608 - built from module constants only
)
_UTC_COLUMNS = frozenset(c.name for c in Ticket.__table__.columns if isinstance(c.type, UTCDateTime))

#: Batch claim, step 1 (in one transaction with steps 2 and 3): the pressing agents' rows, locked in
#: id order (two batches in two office processes lock agents in the same order: no deadlock), with
#: their skills.
_PG_BATCH_AGENTS = """
SELECT a.user_id, a.office_id, a.state, a.window_no,
       ARRAY(SELECT k.skill FROM agent_skills k WHERE k.user_id = a.user_id) AS skills
FROM agent_states a
WHERE a.user_id = ANY(%(agents)s)
ORDER BY a.user_id
FOR UPDATE OF a
"""

#: Step 2: the head of the office's queue in claim order, at most ``limit`` rows, each locked
#: ``SKIP LOCKED`` (another process's batch or single claim holds the rows it is taking), with what
#: eligibility needs (the service's skill, a named target) and the office's ring timeout.
_PG_BATCH_HEAD = _pyformat(
    f"""
WITH {_CFG}
SELECT t.id, t.state, t.version, t.target_agent_id, s.skill, cfg.ring_s
FROM tickets t JOIN services s ON s.id = t.service_id, cfg
WHERE t.office_id = :office AND t.state IN ({_QUEUED})
ORDER BY CASE WHEN t.queued_at <= :now - cfg.bound_min * INTERVAL '1 minute' THEN 0 ELSE 1 END,
         t.priority, t.order_at, t.id
LIMIT :limit
FOR UPDATE OF t SKIP LOCKED
"""  # noqa: S608 - built from module constants only
)

#: Step 3: every pairing written at once (rows locked by steps 1 and 2, so the checks hold; they
#: are still state- and version-checked, and the statement fails unless every pair was written).
_PG_BATCH_WRITE = """
WITH pairs AS (
    SELECT * FROM unnest(%(tickets)s::int[], %(agents)s::int[], %(windows)s::int[],
                         %(states)s::text[], %(versions)s::int[])
        AS p(ticket_id, agent_id, window_no, from_state, version)
),
offered AS (
    UPDATE tickets t SET
        state = 'offered', version = t.version + 1, agent_id = p.agent_id, target_agent_id = NULL,
        window_no = p.window_no, called_at = %(now)s,
        first_called_at = COALESCE(t.first_called_at, %(now)s), ring_deadline = %(deadline)s
    FROM pairs p
    WHERE t.id = p.ticket_id AND t.state = p.from_state AND t.version = p.version
    RETURNING t.*
),
moved AS (
    UPDATE agent_states a SET state = 'ringing', since = %(now)s, current_ticket_id = p.ticket_id,
        pause_reason = ''
    FROM pairs p
    WHERE a.user_id = p.agent_id AND a.state = 'available'
    RETURNING a.user_id
),
stamped AS (
    INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
    SELECT p.ticket_id, %(office)s, %(now)s, 'offer', p.from_state, 'offered', p.agent_id,
           'user:' || p.agent_id, ''
    FROM pairs p
    RETURNING id
)
-- Every pair written whole, or divide by zero: the statement fails and the transaction with it.
SELECT 1 / ((SELECT count(*) FROM offered) = %(n)s AND (SELECT count(*) FROM moved) = %(n)s
            AND (SELECT count(*) FROM stamped) = %(n)s)::int AS guard,
       offered.*
FROM (SELECT 1) AS one LEFT JOIN offered ON TRUE
"""

#: Step 2 reads this many queue rows beyond one per pressing agent, so that agents with narrow
#: skills usually find their ticket in the same read; one who does not falls back to the single claim.
BATCH_SLACK = 20

_SQLITE_AGENT = text(
    """
SELECT a.state, a.office_id, a.window_no,
       COALESCE(q.ring_timeout_s, :ring_default) AS ring_s,
       COALESCE(q.max_wait_bound_min, :bound_default) AS bound_min
FROM agent_states a LEFT JOIN queue_settings q ON q.office_id = :office
WHERE a.user_id = :agent
"""
).bindparams(
    bindparam("ring_default", value=_DEFAULTS.ring_timeout_s, type_=Integer()),
    bindparam("bound_default", value=_DEFAULTS.max_wait_bound_min, type_=Integer()),
)

_SQLITE_PICK = _typed(
    f"""
SELECT t.id, t.state, t.version FROM tickets t
WHERE {_ELIGIBLE}
ORDER BY CASE WHEN t.queued_at <= :cutoff THEN 0 ELSE 1 END, t.priority, t.order_at, t.id
LIMIT 1
""",  # noqa: S608 - built from module constants only
    "cutoff",
)

_SQLITE_OFFER = _returning_columns(
    text(
        """
UPDATE tickets SET
    state = 'offered', version = version + 1, agent_id = :agent, target_agent_id = NULL,
    window_no = :window, called_at = :now, first_called_at = COALESCE(first_called_at, :now),
    ring_deadline = :deadline
WHERE id = :id AND state = :state AND version = :version
RETURNING *
"""
    ).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("deadline", type_=UTCDateTime()),
    )
)

_SQLITE_MOVE = text(
    """
UPDATE agent_states SET state = 'ringing', since = :now, current_ticket_id = :id, pause_reason = ''
WHERE user_id = :agent AND state = 'available'
"""
).bindparams(bindparam("now", type_=UTCDateTime()))

_SQLITE_STAMP = text(
    """
INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
VALUES (:id, :office, :now, 'offer', :state, 'offered', :agent, :actor, '')
"""
).bindparams(bindparam("now", type_=UTCDateTime()))


@dataclass(frozen=True, slots=True)
class Claimed:
    """The outcome of one press: the offered ticket (detached), or None when nothing is waiting."""

    ticket: Ticket | None


def _refuse(state: str | None, office_id: int | None, wanted_office: int) -> None:
    if state is not None and office_id != wanted_office:
        raise ApiError(403, "forbidden", "agent belongs to another office")
    if state != AgentStatus.AVAILABLE:
        shown = state if state is not None else AgentStatus.OFFLINE.value
        raise ApiError(409, "agent_not_available", f"agent is {shown}; set your state to available first")


def _ticket(values: Mapping[Any, Any]) -> Ticket:
    """A detached Ticket holding the claimed row (see :func:`office.models.base.detached`)."""
    return detached(Ticket, {name: values[name] for name in _TICKET_COLUMNS})


def _claim_postgresql(
    ctx: OfficeContext, agent_id: int, office_id: int, now: datetime, actor: str
) -> Ticket | None:
    params = {
        "now": now,
        "office": office_id,
        "agent": agent_id,
        "actor": actor,
        "ring_default": _DEFAULTS.ring_timeout_s,
        "bound_default": _DEFAULTS.max_wait_bound_min,
    }
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        driver: Any = conn.connection.driver_connection
        with driver.cursor(row_factory=dict_row) as cur:
            cur.execute(_PG_CLAIM, params)
            row: dict[str, Any] = cur.fetchone()
    _refuse(row["agent_state"], row["agent_office"], office_id)
    if row["id"] is None:
        return None
    for name in _UTC_COLUMNS:
        if row[name] is not None:
            row[name] = row[name].astimezone(UTC)
    return _ticket(row)


def claim_next(ctx: OfficeContext, agent_id: int, office_id: int, now: datetime) -> Claimed:
    """Offer the next eligible queued ticket to the agent (see the module docstring)."""
    actor = f"user:{agent_id}"
    if ctx.engine.dialect.name == "postgresql":
        return Claimed(_claim_postgresql(ctx, agent_id, office_id, now, actor))
    with writing(ctx) as s:
        return Claimed(_claim_sqlite(s.connection(), agent_id, office_id, now, actor))


@dataclass(frozen=True, slots=True)
class Press:
    """One agent's call-next press, as queued for a batch claim."""

    agent_id: int
    office_id: int


#: What :func:`claim_many` gives each press: its claim, or the refusal it would have raised alone.
Outcome = Claimed | ApiError


def claim_many(ctx: OfficeContext, presses: Sequence[Press], now: datetime) -> list[Outcome]:
    """Claim for several presses at once, with the outcome each would have had pressed alone in
    this order (an agent's second press in one batch is decided after the first, as when alone).

    PostgreSQL: per office, one transaction of three statements whatever the number of presses
    (agents locked, the queue's head locked ``SKIP LOCKED`` and paired in Python, all pairs written
    in one statement), instead of one contended statement per press all skipping the same head
    rows. SQLite: one write transaction with a savepoint per press. A press that found nothing in
    the head it read (narrow skills, or other processes holding the rows) gets the single claim.
    """
    outcomes: list[Outcome | None] = [None] * len(presses)
    if ctx.engine.dialect.name != "postgresql":
        with writing(ctx) as s:
            conn = s.connection()
            for i, press in enumerate(presses):
                try:
                    with conn.begin_nested():
                        ticket = _claim_sqlite(
                            conn, press.agent_id, press.office_id, now, f"user:{press.agent_id}"
                        )
                    outcomes[i] = Claimed(ticket)
                except ApiError as err:
                    outcomes[i] = err
        return [o if o is not None else Claimed(None) for o in outcomes]
    by_office: dict[int, list[int]] = {}
    for i, press in enumerate(presses):
        by_office.setdefault(press.office_id, []).append(i)
    for office_id, indexes in by_office.items():
        if len(indexes) > 1:
            _claim_batch_postgresql(
                ctx, office_id, [(i, presses[i].agent_id) for i in indexes], now, outcomes
            )
    for i, press in enumerate(presses):  # singles, and presses the batch left to the single claim
        if outcomes[i] is None:
            try:
                outcomes[i] = claim_next(ctx, press.agent_id, press.office_id, now)
            except ApiError as err:
                outcomes[i] = err
    return [o if o is not None else Claimed(None) for o in outcomes]


def _eligible(skills: frozenset[str], agent_id: int, skill: str, target: int | None) -> bool:
    """The claim's ``_ELIGIBLE`` test for one head row (same rules, in Python)."""
    return (target is None or target == agent_id) and (not skills or skill == "" or skill in skills)


def _claim_batch_postgresql(
    ctx: OfficeContext,
    office_id: int,
    presses: list[tuple[int, int]],
    now: datetime,
    outcomes: list[Outcome | None],
) -> None:
    """Fill ``outcomes`` for ``presses`` ((index, agent id)) of one office; leave None where the
    single claim must decide (nothing eligible in the head read here).

    Pipelined: BEGIN and both reads go in one round trip, the write and COMMIT in a second (the
    write's guard fails the statement, so the transaction rolls back, unless every pair was
    written whole)."""
    agent_ids = sorted({agent for _, agent in presses})
    limit = len(agent_ids) + BATCH_SLACK
    pairs: list[tuple[int, int, dict[str, Any]]] = []
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        driver: Any = conn.connection.driver_connection
        with (
            driver.cursor(row_factory=dict_row) as agents_cur,
            driver.cursor(row_factory=dict_row) as head_cur,
            driver.cursor(row_factory=dict_row) as write_cur,
        ):
            try:
                # BEGIN and COMMIT sent as plain statements inside the pipeline (psycopg's own
                # transaction block would wait for each): 2 round trips in all.
                with driver.pipeline():
                    agents_cur.execute("BEGIN")
                    agents_cur.execute(_PG_BATCH_AGENTS, {"agents": agent_ids})
                    head_cur.execute(
                        _PG_BATCH_HEAD,
                        {
                            "office": office_id,
                            "now": now,
                            "limit": limit,
                            "ring_default": _DEFAULTS.ring_timeout_s,
                            "bound_default": _DEFAULTS.max_wait_bound_min,
                        },
                    )
                    rows = {row["user_id"]: row for row in agents_cur.fetchall()}
                    head = head_cur.fetchall()
                    pairs = _pair(office_id, presses, rows, head, len(head) < limit, outcomes)
                    if pairs:
                        write_cur.execute(
                            _PG_BATCH_WRITE,
                            {
                                "tickets": [p["id"] for _, _, p in pairs],
                                "agents": [agent for _, agent, _ in pairs],
                                "windows": [rows[agent]["window_no"] for _, agent, _ in pairs],
                                "states": [p["state"] for _, _, p in pairs],
                                "versions": [p["version"] for _, _, p in pairs],
                                "now": now,
                                "deadline": now + timedelta(seconds=head[0]["ring_s"]),
                                "office": office_id,
                                "n": len(pairs),
                            },
                        )
                    head_cur.execute("COMMIT")  # the block's exit syncs: write and commit in one trip
                written = (
                    {row["id"]: row for row in write_cur.fetchall() if row["id"] is not None} if pairs else {}
                )
            except BaseException:
                if driver.info.transaction_status != TransactionStatus.IDLE:
                    driver.execute("ROLLBACK")
                raise
    for i, _, pick in pairs:
        row = written[pick["id"]]
        for name in _UTC_COLUMNS:
            if row[name] is not None:
                row[name] = row[name].astimezone(UTC)
        outcomes[i] = Claimed(_ticket(row))


def _pair(
    office_id: int,
    presses: list[tuple[int, int]],
    agents: dict[int, dict[str, Any]],
    head: list[dict[str, Any]],
    whole_queue: bool,
    outcomes: list[Outcome | None],
) -> list[tuple[int, int, dict[str, Any]]]:
    """Presses in order, each given the first head row it may take that no earlier press took:
    (index, agent id, head row) per pairing. Refusals go into ``outcomes``; so does "nothing" when
    ``head`` held the whole (unlocked) queue; otherwise a press left unpaired gets the single claim,
    as does an agent's second press in the batch (it must see what the first left)."""
    taken: set[int] = set()
    seen: set[int] = set()
    pairs: list[tuple[int, int, dict[str, Any]]] = []
    for i, agent in presses:
        if agent in seen:
            continue
        seen.add(agent)
        row = agents.get(agent)
        try:
            _refuse(row["state"] if row else None, row["office_id"] if row else None, office_id)
        except ApiError as err:
            outcomes[i] = err
            continue
        assert row is not None
        skills = frozenset(row["skills"])
        pick = next(
            (
                h
                for h in head
                if h["id"] not in taken and _eligible(skills, agent, h["skill"], h["target_agent_id"])
            ),
            None,
        )
        if pick is None:
            if whole_queue:
                outcomes[i] = Claimed(None)  # nothing this agent may take: it stays available
            continue
        taken.add(pick["id"])
        pairs.append((i, agent, pick))
    return pairs


def _claim_sqlite(
    conn: Connection, agent_id: int, office_id: int, now: datetime, actor: str
) -> Ticket | None:
    agent = conn.execute(_SQLITE_AGENT, {"office": office_id, "agent": agent_id}).first()
    _refuse(agent.state if agent else None, agent.office_id if agent else None, office_id)
    assert agent is not None
    cutoff = now - timedelta(minutes=agent.bound_min)
    pick = conn.execute(
        _SQLITE_PICK, {"now": now, "cutoff": cutoff, "office": office_id, "agent": agent_id}
    ).first()
    if pick is None:
        return None
    # The write lock is held from BEGIN IMMEDIATE: the picked row cannot change before this update.
    row = conn.execute(
        _SQLITE_OFFER,
        {
            "id": pick.id,
            "state": pick.state,
            "version": pick.version,
            "agent": agent_id,
            "window": agent.window_no,
            "now": now,
            "deadline": now + timedelta(seconds=agent.ring_s),
        },
    ).one()
    moved = conn.execute(_SQLITE_MOVE, {"now": now, "id": pick.id, "agent": agent_id})
    if moved.rowcount != 1:  # pragma: no cover - the write lock makes this impossible
        raise ApiError(409, "agent_not_available", "agent changed state; try again")
    conn.execute(
        _SQLITE_STAMP,
        {
            "id": pick.id,
            "office": office_id,
            "now": now,
            "state": pick.state,
            "agent": agent_id,
            "actor": actor,
        },
    )
    return _ticket(row._mapping)


# Keep the SQL defaults in step with the dataclass (a new tunable must be wired here explicitly).
assert {f.name for f in fields(QueueConfig)} >= {"ring_timeout_s", "max_wait_bound_min"}
assert TicketState.OFFERED.value == "offered" and AgentStatus.RINGING.value == "ringing"
