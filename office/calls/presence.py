"""Parties coming and going: kiosk last-seen stamps, lost/back marks on live calls, and the sweep.

The signaling hub calls :func:`presence_changed` (through the endpoint's hook) when a party is
welcomed and when its last connection ends. A live call whose party went away is marked (the
``*_lost_at`` stamp) and, if it was ``connected``, moves to ``reconnecting``; the other party is
told. When the party is back the mark is cleared and a ``reconnecting`` call is ``connected`` again.
A kiosk that comes online is sent the invite of any call still ringing it
(:func:`~office.calls.service.pending_invites`).

:func:`process_call_timeouts` is the periodic job (register it in :mod:`office.background`; it is
synchronous, idempotent and safe on several instances): it ends calls whose party stayed away
longer than the grace period with ``party_lost`` (ticket to the queue front), and ``created`` calls
whose ticket the queue's ring-timeout sweep already moved (``no_answer``). With a hub it also asks
the shared presence who is online, so a party whose office instance died (no offline hook ran) is
noticed too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from office.calls.lifecycle import LIVE_STATES
from office.calls.service import finish, live_calls_of, load_call, pending_invites, transition
from office.calls.signals import (
    Notice,
    agent_party,
    deliver,
    kiosk_party,
    parse_party,
    parties_of,
    run_on_hub,
)
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Call, CallStatus, Kiosk, Ticket, TicketState
from office.queue.txn import writing
from signaling.messages import CallState, CallStateName, Role
from signaling.relay import Party

__all__ = [
    "DEFAULT_GRACE_S",
    "KIOSK_SEEN_INTERVAL_S",
    "presence_changed",
    "process_call_timeouts",
    "touch_kiosk",
]

log = logging.getLogger("office.calls")

#: How long a party may stay away before its calls end with ``party_lost``.
DEFAULT_GRACE_S = 30.0
#: ``Kiosk.last_seen_at`` is written at most this often per kiosk.
KIOSK_SEEN_INTERVAL_S = 60.0


def _lost_column(party: Party) -> str:
    return "agent_lost_at" if party.role is Role.AGENT else "kiosk_lost_at"


def touch_kiosk(ctx: OfficeContext, kiosk_id: int, now: datetime) -> None:
    """Stamp the kiosk's ``last_seen_at`` unless it was stamped within the interval."""
    cutoff = now - timedelta(seconds=KIOSK_SEEN_INTERVAL_S)
    with writing(ctx) as s:
        s.execute(
            update(Kiosk)
            .where(Kiosk.id == kiosk_id, (Kiosk.last_seen_at.is_(None)) | (Kiosk.last_seen_at <= cutoff))
            .values(last_seen_at=now)
        )


def presence_changed(ctx: OfficeContext, party: Party, online: bool) -> list[Notice]:
    """Record that ``party`` came (``online``) or went; returns what the call parties must be told."""
    now = ctx.clock.now()
    try:
        party_id = parse_party(party)
    except ValueError:
        return []
    if party.role is Role.KIOSK:
        touch_kiosk(ctx, party_id, now)
    notices: list[Notice] = []
    column = _lost_column(party)
    with ctx.read_db() as s:
        call_ids = [c.id for c in live_calls_of(s, party)]
        if online and party.role is Role.KIOSK and call_ids:
            notices.extend(pending_invites(s, party_id))
    for call_id in call_ids:
        try:
            notices.extend(_mark(ctx, call_id, party, column, now if not online else None))
        except ApiError as err:  # changed concurrently; the next event or sweep sees the new state
            log.info("presence mark skipped", extra={"call_id": call_id, "code": err.code})
    return notices


def _mark(
    ctx: OfficeContext, call_id: str, party: Party, column: str, lost_at: datetime | None
) -> list[Notice]:
    now = ctx.clock.now()
    with writing(ctx) as s:
        call = load_call(s, call_id)
        if call.state == CallStatus.ENDED:
            return []
        current = getattr(call, column)
        if lost_at is not None and current is not None:
            return []  # already marked: keep the first stamp (the grace period counts from it)
        values: dict[str, Any] = {column: lost_at}
        other = "kiosk_lost_at" if column == "agent_lost_at" else "agent_lost_at"
        parties = parties_of(call)
        if lost_at is not None and call.state == CallStatus.CONNECTED:
            transition(s, call, "lost", now, actor="system", reason="party_away", **values)
            state = CallState(call_id=call.id, state=CallStateName.RECONNECTING, reason="party_away")
            return [Notice(parties, (state,), to=(parties.other(party),))]
        if lost_at is None and call.state == CallStatus.RECONNECTING and getattr(call, other) is None:
            values["reconnects"] = call.reconnects + 1
            transition(s, call, "connected", now, actor="system", reason="party_back", **values)
            return [Notice(parties, (CallState(call_id=call.id, state=CallStateName.CONNECTED),))]
        if current != lost_at:
            s.execute(
                update(Call)
                .where(Call.id == call.id, Call.version == call.version)
                .values(version=call.version + 1, **values)
            )
    return []


async def _online_map(ctx: OfficeContext, parties: set[Party]) -> dict[Party, bool]:
    assert ctx.hub is not None
    presence = ctx.hub.presence
    return {p: await presence.is_online(p.role, p.id) for p in parties}


def process_call_timeouts(ctx: OfficeContext, grace_s: float = DEFAULT_GRACE_S) -> int:
    """End calls whose party stayed away past ``grace_s`` or whose ring timed out; returns how many."""
    now = ctx.clock.now()
    grace = timedelta(seconds=grace_s)
    states = [st.value for st in LIVE_STATES]
    with ctx.read_db() as s:
        rows: list[tuple[Call, str, int | None]] = [
            (row[0], row[1], row[2])
            for row in s.execute(
                select(Call, Ticket.state, Ticket.agent_id)
                .join(Ticket, Ticket.id == Call.ticket_id)
                .where(Call.state.in_(states))
            )
        ]
        for call, _, _ in rows:
            s.expunge(call)
    online: dict[Party, bool] = {}
    if rows and ctx.hub is not None:
        wanted = {agent_party(c.agent_id) for c, _, _ in rows} | {kiosk_party(c.kiosk_id) for c, _, _ in rows}
        online = run_on_hub(ctx, _online_map(ctx, wanted)) or {}
    notices: list[Notice] = []
    ended = 0
    for call, ticket_state, ticket_agent in rows:
        try:
            if call.state == CallStatus.CREATED and (
                ticket_state not in (TicketState.OFFERED, TicketState.RINGING)
                or ticket_agent != call.agent_id
            ):
                reason = (
                    "no_answer"
                    if ticket_state in (TicketState.RECALLED, TicketState.NO_SHOW)
                    else "ticket_changed"
                )
                out = finish(ctx, call.id, reason, "system", settle_ticket=False)
                ended += bool(out)
                notices.extend(out)
                continue
            lost = _lost_stamps(ctx, call, online, now, notices)
            if any(stamp is not None and now - stamp >= grace for stamp in lost):
                out = finish(ctx, call.id, "party_lost", "system")
                ended += bool(out)
                notices.extend(out)
        except ApiError as err:
            log.info("call sweep skipped a call", extra={"call_id": call.id, "code": err.code})
    deliver(ctx, notices)
    return ended


def _lost_stamps(
    ctx: OfficeContext, call: Call, online: dict[Party, bool], now: datetime, notices: list[Notice]
) -> list[datetime | None]:
    """The call's lost stamps, first marking parties the shared presence no longer sees."""
    stamps: list[datetime | None] = []
    for party, column in (
        (agent_party(call.agent_id), "agent_lost_at"),
        (kiosk_party(call.kiosk_id), "kiosk_lost_at"),
    ):
        stamp: datetime | None = getattr(call, column)
        if stamp is None and online and not online.get(party, True):
            notices.extend(_mark(ctx, call.id, party, column, now))
            stamp = now
        stamps.append(stamp)
    return stamps
