"""The live queue: ticket lifecycle, numbering, call-next, estimates, priorities, boards.

Modules: :mod:`~office.queue.lifecycle` (transition tables), :mod:`~office.queue.numbering`,
:mod:`~office.queue.ordering`, :mod:`~office.queue.issue`, :mod:`~office.queue.calling` (call-next and
the ring-timeout sweep), :mod:`~office.queue.actions` (every other step), :mod:`~office.queue.agents`,
:mod:`~office.queue.estimate`, :mod:`~office.queue.status`, :mod:`~office.queue.board`,
:mod:`~office.queue.live` (events).
"""

from office.queue.calling import call_next, call_ticket, process_timeouts
from office.queue.issue import Issued, IssueRequest, issue_ticket
from office.queue.lifecycle import IllegalTransition

__all__ = [
    "IllegalTransition",
    "IssueRequest",
    "Issued",
    "call_next",
    "call_ticket",
    "issue_ticket",
    "process_timeouts",
]
