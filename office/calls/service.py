"""Call records over the lifecycle table, and the queue steps each call step implies.

Every function is synchronous (routes and jobs run it in a worker thread) and returns the
:class:`~office.calls.signals.Notice` values the parties must be told; the caller delivers them.

Call ⇄ queue wiring (the queue's own public functions do the ticket side):

* :func:`start_call` — the agent holding an offered/ringing ticket starts the call: an offered
  ticket is rung (``ring``; the queue's ring deadline starts), a ``created`` call is stored and
  ``call.invite`` goes to the ticket's issuing kiosk (copy to the agent). Ring and call record are
  one transaction (set-up time: the invite waits for it). A kiosk that connects (or reconnects)
  while its call is still ``created`` is sent the invite again (:func:`pending_invites`): the
  first one went nowhere if the kiosk was not on signaling at that moment.
* ``call.accept`` twice (a re-sent invite crossing the first accept) is answered once; the
  duplicate changes nothing.
* ``call.accept`` (kiosk) → ``negotiating`` and the ticket's ``answer`` (serving), in one
  transaction; a ticket that cannot be answered any more ends the call (``ticket_changed``).
* ``call.decline`` (kiosk), or a kiosk gone before accepting → the queue's ring-timeout path (the
  ticket's ring deadline is brought to now and :func:`office.queue.process_timeouts` applies the
  office's recall / no-show rules). No answer at all: the queue's own sweep moves the ticket, and
  :func:`~office.calls.timeouts.process_call_timeouts` ends the call with ``no_answer``.
* ``call.cancel`` (agent, before accept) → the ticket goes back in place (``decline``).
* ``call.end`` → ``ended`` with the reason. After ``party_lost``, ``negotiation_failed`` or
  ``media_failed`` (:data:`~office.calls.lifecycle.REQUEUE_REASONS`) the ticket being served goes to
  the front of its queue (``transfer`` with placement front). Any other reason leaves the ticket
  with the agent, who completes it (case notes, wrap-up).
* ``connected`` is reported by either party over REST (:func:`report`): it is the moment media
  flows, which only the peers know; setup time = ``connected_at - created_at``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.auth import AuthUser
from office.calls.lifecycle import LIVE_STATES, REQUEUE_REASONS, IllegalCallTransition, call_next
from office.calls.signals import Notice, agent_party, kiosk_party, parse_party, parties_of
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Call, CallEvent, CallStatus, Service, Ticket, TicketState, User
from office.queue.actions import Caller, Placement, agent_step, transfer
from office.queue.calling import process_timeouts
from office.queue.config import load_config
from office.queue.live import publish_change
from office.queue.transitions import move_agent, step
from office.queue.txn import writing
from signaling.messages import (
    BaseMessage,
    CallAccept,
    CallCancel,
    CallDecline,
    CallEnd,
    CallInvite,
    CallState,
    CallStateName,
    Role,
)
from signaling.relay import Party

__all__ = [
    "QUALITY_FIELDS",
    "client_event",
    "finish",
    "live_calls_of",
    "load_call",
    "pending_invites",
    "report",
    "start_call",
    "transition",
]

log = logging.getLogger("office.calls")

#: Numeric quality fields a party may report, and how each is summarised.
QUALITY_FIELDS: dict[str, str] = {
    "rtt_ms": "max_mean",
    "packet_loss_pct": "max_mean",
    "jitter_ms": "max_mean",
    "fps": "min_mean",
    "freezes": "sum",
}
_RINGABLE = (TicketState.OFFERED, TicketState.RINGING)


def _ms(later: datetime, earlier: datetime) -> int:
    return int((later - earlier).total_seconds() * 1000)


def transition(
    s: Session, call: Call, event: str, now: datetime, *, actor: str, reason: str = "", **values: Any
) -> CallStatus:
    """Apply ``event`` to ``call`` with a state-checked UPDATE and stamp it; returns the new state.

    Raises :class:`IllegalCallTransition` (nothing written) or 409 ``call_changed`` when the row
    changed underneath. The detached ``call`` object is updated to match.
    """
    new = call_next(call.state, event)
    old, version = call.state, call.version
    result = s.execute(
        update(Call)
        .where(Call.id == call.id, Call.state == old, Call.version == version)
        .values(state=new.value, version=version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(409, "call_changed", "the call was changed at the same time; reload it")
    if call in s:
        s.expunge(call)
    for name, value in {"state": new.value, "version": version + 1, **values}.items():
        setattr(call, name, value)
    s.add(
        CallEvent(
            call_id=call.id,
            at=now,
            event=event,
            from_state=old,
            to_state=new.value,
            actor=actor,
            reason=reason,
        )
    )
    return new


def load_call(s: Session, call_id: str) -> Call:
    """The call row, or 404 ``call_not_found``."""
    call = s.get(Call, call_id)
    if call is None:
        raise ApiError(404, "call_not_found", "no such call")
    return call


def _state_notice(call: Call, reason: str | None = None) -> Notice:
    state = CallState(call_id=call.id, state=CallStateName(call.state), reason=reason)
    return Notice(parties_of(call), (state,))


def start_call(
    ctx: OfficeContext,
    user: AuthUser,
    ticket_id: int,
    *,
    announce: Callable[[list[Notice]], None] | None = None,
) -> tuple[Call, list[Notice]]:
    """The agent holding an offered or ringing ticket calls its kiosk (see the module docstring).

    With ``announce`` (e.g. :func:`~office.calls.signals.deliver`) the ``call.invite`` goes out
    through it before the ticket's queue event is published, so the kiosk is rung first (set-up
    time), and no notices are returned.
    """
    now = ctx.clock.now()
    actor = Actor("user", user.id)
    rang = False
    try:
        with writing(ctx) as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or (user.office_id is not None and ticket.office_id != user.office_id):
                raise ApiError(404, "ticket_not_found", "no such ticket in your office")
            if ticket.agent_id != user.id:
                raise ApiError(403, "not_your_ticket", "this ticket is not offered to you")
            if ticket.state not in _RINGABLE:
                raise ApiError(409, "ticket_not_offered", f"ticket is {ticket.state}; call next first")
            if ticket.kiosk_id is None or ticket.station_id is None:
                raise ApiError(409, "no_kiosk", "this ticket was not issued at a kiosk")
            if ticket.state == TicketState.OFFERED:
                rang = _ring(s, ticket, user.id, now)
            service = s.get(Service, ticket.service_id)
            service_name = service.name if service is not None else None
            call = Call(
                id=f"call-{uuid.uuid4().hex}",
                office_id=ticket.office_id,
                station_id=ticket.station_id,
                ticket_id=ticket.id,
                agent_id=user.id,
                kiosk_id=ticket.kiosk_id,
                state=CallStatus.CREATED.value,
                active_key=f"ticket:{ticket.id}",
                created_at=now,
                end_reason="",
                ended_by="",
                reconnects=0,
                quality={},
                version=1,
            )
            s.add(call)
            s.flush()
            s.add(
                CallEvent(
                    call_id=call.id, at=now, event="create", from_state="", to_state="created", actor="agent"
                )
            )
            audit.record(s, actor, "call.started", target_type="call", target_id=call.id, ticket_id=ticket.id)
            s.expunge(call)
    except IntegrityError:
        raise ApiError(409, "call_exists", "this ticket already has a live call") from None
    notices = [
        Notice(parties_of(call), (_invite(call, user.display_name, ticket.display_number, service_name),))
    ]
    if announce is not None:
        announce(notices)
        notices = []
    if rang:
        publish_change(ctx, ticket.office_id, "queue.called", [ticket])
    return call, notices


def _invite(call: Call, agent_name: str, ticket_number: str, service_name: str | None) -> CallInvite:
    parties = parties_of(call)
    return CallInvite(
        call_id=call.id,
        agent_id=parties.agent_id,
        kiosk_id=parties.kiosk_id,
        agent_name=agent_name[:200],
        ticket=ticket_number,
        service=service_name[:200] if service_name else None,
    )


def pending_invites(s: Session, kiosk_id: int) -> list[Notice]:
    """``call.invite`` again, to the kiosk only, for each of its calls still ringing (``created``)."""
    rows = s.execute(
        select(Call, User.display_name, Ticket.display_number, Service.name)
        .join(User, User.id == Call.agent_id)
        .join(Ticket, Ticket.id == Call.ticket_id)
        .outerjoin(Service, Service.id == Ticket.service_id)
        .where(Call.kiosk_id == kiosk_id, Call.state == CallStatus.CREATED.value)
    )
    notices = []
    for call, agent_name, ticket_number, service_name in rows:
        parties = parties_of(call)
        invite = _invite(call, agent_name, ticket_number, service_name)
        notices.append(Notice(parties, (invite,), to=(parties.kiosk,)))
    return notices


def _ring(s: Session, ticket: Ticket, user_id: int, now: datetime) -> bool:
    """The queue's ``ring`` of an offered ticket (its ring deadline starts); False when a
    concurrent start (double click, second tab) rang it first: the call insert then decides."""
    cfg = load_config(s, ticket.office_id)
    deadline = now + timedelta(seconds=cfg.ring_timeout_s)
    try:
        step(s, ticket, "ring", now, actor=f"user:{user_id}", by_agent=user_id, ring_deadline=deadline)
    except ApiError:
        ringing = s.scalar(
            select(Ticket.id).where(
                Ticket.id == ticket.id, Ticket.state == TicketState.RINGING, Ticket.agent_id == user_id
            )
        )
        if ringing is None:
            raise
        return False
    return True


def finish(
    ctx: OfficeContext, call_id: str, reason: str, by: str, *, settle_ticket: bool = True
) -> list[Notice]:
    """End a live call with ``reason`` (``by``: agent | kiosk | system) and settle its ticket.

    Returns no notices when the call had already ended (idempotent for racing enders).
    """
    now = ctx.clock.now()
    with writing(ctx) as s:
        call = load_call(s, call_id)
        if call.state == CallStatus.ENDED:
            return []
        was = call.state
        duration = _ms(now, call.connected_at) if call.connected_at is not None else 0
        transition(
            s,
            call,
            "end",
            now,
            actor=by,
            reason=reason,
            ended_at=now,
            duration_ms=max(duration, 0),
            end_reason=reason[:40],
            ended_by=by,
            active_key=None,
        )
    if settle_ticket:
        _settle_ticket(ctx, call, was, reason, by)
    return [_state_notice(call, reason)]


def _settle_ticket(ctx: OfficeContext, call: Call, was: str, reason: str, by: str) -> None:
    system = Caller(actor=Actor("system", "calls"), user_id=call.agent_id, office_id=call.office_id)
    try:
        if was == CallStatus.CREATED:
            if by == "agent":
                agent_step(ctx, call.ticket_id, "decline", system, reason=reason)  # back in place
            else:
                _ring_expired(ctx, call.ticket_id)  # the kiosk did not take it: recall / no-show rules
        elif reason in REQUEUE_REASONS:
            with ctx.read_db() as s:
                ticket = s.get(Ticket, call.ticket_id)
                service_id = ticket.service_id if ticket is not None else None
            transfer(
                ctx,
                call.ticket_id,
                system,
                service_id=service_id,
                agent_id=None,
                placement=Placement.FRONT,
                reason=reason,
            )
    except ApiError as err:
        # The ticket moved on its own (completed, timed out, left): nothing left to settle.
        log.info("call's ticket not settled", extra={"call_id": call.id, "code": err.code})


def _ring_expired(ctx: OfficeContext, ticket_id: int) -> None:
    """Bring the ticket's ring deadline to now and let the queue's sweep apply its rules."""
    now = ctx.clock.now()
    with writing(ctx) as s:
        s.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.state.in_(_RINGABLE))
            .values(ring_deadline=now, version=Ticket.version + 1)
        )
    process_timeouts(ctx)


def client_event(ctx: OfficeContext, sender: Party, message: BaseMessage) -> list[Notice]:
    """Apply a relayed ``call.accept`` / ``decline`` / ``cancel`` / ``end`` from a call's party.

    The sender has passed :func:`signaling.relay.route` (it is this call's agent or kiosk).
    Raises :class:`IllegalCallTransition` for a step the call's state does not allow.
    """
    by = "kiosk" if sender.role is Role.KIOSK else "agent"
    if isinstance(message, CallAccept):
        return _accept(ctx, message.call_id, sender)
    if isinstance(message, CallDecline):
        return _end_checked(ctx, message.call_id, message.reason, by, only_from=CallStatus.CREATED)
    if isinstance(message, CallCancel):
        return _end_checked(ctx, message.call_id, message.reason, by, only_from=CallStatus.CREATED)
    if isinstance(message, CallEnd):
        return _end_checked(ctx, message.call_id, message.reason, by, only_from=None)
    return []


def _end_checked(
    ctx: OfficeContext, call_id: str, reason: str, by: str, only_from: CallStatus | None
) -> list[Notice]:
    with ctx.read_db() as s:
        state = load_call(s, call_id).state
    if only_from is not None and state != only_from:
        raise IllegalCallTransition(state, "decline" if by == "kiosk" else "cancel")
    if state == CallStatus.ENDED:
        raise IllegalCallTransition(state, "end")
    return finish(ctx, call_id, reason, by)


def _accept(ctx: OfficeContext, call_id: str, sender: Party) -> list[Notice]:
    now = ctx.clock.now()
    answering = False
    try:
        with writing(ctx) as s:
            call = load_call(s, call_id)
            if call.state in (CallStatus.NEGOTIATING, CallStatus.CONNECTED, CallStatus.RECONNECTING):
                log.info("duplicate accept ignored", extra={"call_id": call_id})
                return []
            transition(s, call, "accept", now, actor="kiosk", negotiating_at=now)
            answering = True
            ticket = _answer(s, call, now, f"kiosk:{parse_party(sender)}")
    except ApiError as err:
        if not answering:
            raise
        log.info("accepted call's ticket could not be answered", extra={"call_id": call_id, "code": err.code})
        return finish(ctx, call_id, "ticket_changed", "system", settle_ticket=False)
    publish_change(ctx, ticket.office_id, "queue.serving", [ticket])
    return [_state_notice(call)]


def _answer(s: Session, call: Call, now: datetime, actor: str) -> Ticket:
    """The queue's ``answer`` of the call's ticket (serving starts; the agent serves it)."""
    ticket = s.get(Ticket, call.ticket_id)
    if ticket is None or ticket.office_id != call.office_id:
        raise ApiError(404, "ticket_not_found", "no such ticket")
    if ticket.agent_id != call.agent_id:
        raise ApiError(403, "not_your_ticket", "this ticket is with another agent")
    step(s, ticket, "answer", now, actor=actor, by_agent=call.agent_id, served_at=now, ring_deadline=None)
    move_agent(s, call.agent_id, "answer", now, ticket_id=ticket.id, strict=False)
    return ticket


def _merge_quality(summary: dict[str, Any], sample: dict[str, float]) -> dict[str, Any]:
    out = dict(summary)
    n = int(out.get("samples", 0)) + 1
    out["samples"] = n
    for name, value in sample.items():
        kind = QUALITY_FIELDS[name]
        if kind == "sum":
            out[name] = float(out.get(name, 0.0)) + value
            continue
        pick = max if kind == "max_mean" else min
        key = f"{name}_{'max' if kind == 'max_mean' else 'min'}"
        out[key] = pick(float(out[key]), value) if key in out else value
        count = int(out.get(f"{name}_n", 0)) + 1
        mean = float(out.get(f"{name}_mean", 0.0))
        out[f"{name}_mean"] = round(mean + (value - mean) / count, 3)
        out[f"{name}_n"] = count
    return out


def report(
    ctx: OfficeContext, reporter: Party, call_id: str, state: str | None, quality: dict[str, float]
) -> tuple[Call, list[Notice]]:
    """A party reports media ``connected`` / ``reconnecting`` and/or a quality sample.

    ``connected`` before the kiosk accepted is 409 ``illegal_transition``; ``reconnecting`` only
    changes a ``connected`` call (while negotiating or already reconnecting it is a no-op).
    """
    now = ctx.clock.now()
    notices: list[Notice] = []
    with writing(ctx) as s:
        call = load_call(s, call_id)
        mine = agent_party(call.agent_id) if reporter.role is Role.AGENT else kiosk_party(call.kiosk_id)
        if mine != reporter:
            raise ApiError(403, "not_a_party", "you are not a party of this call")
        if call.state == CallStatus.ENDED:
            raise ApiError(409, "call_ended", "the call has ended")
        actor = "agent" if reporter.role is Role.AGENT else "kiosk"
        values: dict[str, Any] = {}
        if quality:
            values["quality"] = _merge_quality(call.quality or {}, quality)
        if state == "connected" and call.state != CallStatus.CONNECTED:
            if call.state == CallStatus.CREATED:
                raise ApiError(409, "illegal_transition", "the call was not accepted yet")
            values.update(_connected_values(call, now))
            transition(s, call, "connected", now, actor=actor, **values)
            notices.append(_state_notice(call))
        elif state == "reconnecting" and call.state == CallStatus.CONNECTED:
            transition(s, call, "lost", now, actor=actor, reason="media", **values)
            notices.append(_state_notice(call))
        elif values:
            result = s.execute(
                update(Call)
                .where(Call.id == call.id, Call.version == call.version)
                .values(version=call.version + 1, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise ApiError(409, "call_changed", "the call was changed at the same time; retry")
            s.expunge(call)
            call.quality, call.version = values["quality"], call.version + 1
        else:
            s.expunge(call)
    return call, notices


def _connected_values(call: Call, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if call.connected_at is None:
        values.update(connected_at=now, setup_ms=_ms(now, call.created_at))
    if call.state == CallStatus.RECONNECTING:
        values["reconnects"] = call.reconnects + 1
    return values


def live_calls_of(s: Session, party: Party) -> list[Call]:
    """The party's calls that have not ended."""
    column = Call.agent_id if party.role is Role.AGENT else Call.kiosk_id
    states = [st.value for st in LIVE_STATES]
    return list(s.scalars(select(Call).where(column == parse_party(party), Call.state.in_(states))))
