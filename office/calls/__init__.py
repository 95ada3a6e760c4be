"""Video calls in the office: lifecycle, records, call ⇄ queue wiring, presence, ICE servers.

Modules: :mod:`~office.calls.lifecycle` (the transition table), :mod:`~office.calls.service`
(start, client steps, reports, ending and the queue steps they imply),
:mod:`~office.calls.presence` (parties coming and going, :func:`process_call_timeouts`),
:mod:`~office.calls.signals` (party ids, the hub's call directory, delivering notices),
:mod:`~office.calls.ice` (STUN/TURN with coturn REST credentials). The WebSocket endpoint is
:mod:`office.signaling_ws`; the REST routes are :mod:`office.api.calls`.

Errors: :class:`IllegalCallTransition` (a step the lifecycle does not allow: the caller's fault) and
:class:`office.errors.ApiError` with codes ``call_not_found``, ``not_a_party``, ``call_exists``,
``call_changed``, ``call_ended``, ``ticket_not_found``, ``not_your_ticket``, ``ticket_not_offered``,
``no_kiosk``.
"""

from office.calls.ice import IceServer, ice_servers, turn_credential
from office.calls.lifecycle import CALL_TRANSITIONS, REQUEUE_REASONS, IllegalCallTransition, call_next
from office.calls.presence import DEFAULT_GRACE_S, presence_changed, process_call_timeouts
from office.calls.service import client_event, finish, report, start_call
from office.calls.signals import (
    DbCallDirectory,
    Notice,
    agent_party,
    announce,
    deliver,
    kiosk_party,
    parse_party,
)

__all__ = [
    "CALL_TRANSITIONS",
    "DEFAULT_GRACE_S",
    "REQUEUE_REASONS",
    "DbCallDirectory",
    "IceServer",
    "IllegalCallTransition",
    "Notice",
    "agent_party",
    "announce",
    "call_next",
    "client_event",
    "deliver",
    "finish",
    "ice_servers",
    "kiosk_party",
    "parse_party",
    "presence_changed",
    "process_call_timeouts",
    "report",
    "start_call",
    "turn_credential",
]
