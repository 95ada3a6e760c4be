"""The resident's session at the kiosk as a pure, table-driven state machine (no I/O, no clock).

States (DESIGN.md): ``idle → choosing → identified → ticketed | booking → waiting → in_call →
rating → idle``, plus ``identifying`` (consent screen, then the card on the reader, or typing the ID
number) and ``goodbye`` (thank-you screen after a rating, a booking, a cancelled booking or leaving
the queue). The UI feeds it events and renders the state; the kiosk process feeds it the time
through :meth:`Session.tick`. Every state except ``waiting`` and ``in_call`` has an inactivity
limit; reaching it, or any entry into ``goodbye`` or ``idle``, wipes the personal data the session
held (the UI must then clear the screen and the process its memory and temporary files: the
:class:`Wipe` action says so).

::

    idle ──start──▶ choosing ──identify──▶ identifying ──identified──▶ identified
      ▲               │  ▲ ◀───────back─────────┘                        │  │
      │               │  └──────────────back──────────────────────────────┘  │
      │               ├──ticket_issued (services that need no ID) ──▶ ticketed ◀──ticket_issued
      │               ├──checked_in ──▶ waiting ◀──checked_in─────────────────┤
      │               └──booking_cancelled ──▶ goodbye                          └─booking_started─▶ booking
      │   ticketed ──timeout──▶ waiting ──call_started──▶ in_call ──call_ended──▶ rating           │
      │   rating ──rated / timeout──▶ goodbye ──timeout──▶ idle         booking ──booked──▶ goodbye
      │   waiting ──leave_queue / ticket_closed──▶ goodbye
      └───────────── cancel / timeout (wipe) ◀──────────────────────────────────────┘

Illegal events raise :class:`IllegalEvent` and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_TIMEOUTS",
    "SCREENS",
    "TRANSITIONS",
    "Action",
    "ApplyDefaultRating",
    "Event",
    "IllegalEvent",
    "Session",
    "SessionData",
    "Show",
    "Speak",
    "State",
    "Wipe",
]


class State(StrEnum):
    """Where the resident is in the journey."""

    IDLE = "idle"
    CHOOSING = "choosing"
    IDENTIFYING = "identifying"
    IDENTIFIED = "identified"
    TICKETED = "ticketed"
    BOOKING = "booking"
    WAITING = "waiting"
    IN_CALL = "in_call"
    RATING = "rating"
    GOODBYE = "goodbye"


class Event(StrEnum):
    """What can happen to a session."""

    START = "start"  # the resident touched the welcome screen
    IDENTIFY = "identify"  # the resident chose to identify (consent screen, card or typed number)
    IDENTIFIED = "identified"  # ID card read (after consent) or ID number typed and accepted
    TICKET_ISSUED = "ticket_issued"  # the office issued a number
    BOOKING_STARTED = "booking_started"
    BOOKED = "booked"  # appointment confirmed (goodbye screen shows the code)
    CHECKED_IN = "checked_in"  # a booking turned into a priority ticket
    CALL_STARTED = "call_started"
    CALL_ENDED = "call_ended"  # the agent closed the case: rate it
    RATED = "rated"
    BOOKING_CANCELLED = "booking_cancelled"  # the resident cancelled a booking
    LEAVE_QUEUE = "leave_queue"
    TICKET_CLOSED = "ticket_closed"  # the office ended the ticket (no-show, cancelled by staff)
    BACK = "back"
    CANCEL = "cancel"  # "start over" on any screen
    TIMEOUT = "timeout"  # produced by tick(); not sent by the UI


#: Seconds of inactivity before a state gives up (None: no limit while the resident waits/talks).
DEFAULT_TIMEOUTS: dict[State, float | None] = {
    State.IDLE: None,
    State.CHOOSING: 120.0,
    State.IDENTIFYING: 90.0,
    State.IDENTIFIED: 120.0,
    State.TICKETED: 30.0,  # the ticket screen moves on to the waiting screen by itself
    State.BOOKING: 180.0,
    State.WAITING: None,
    State.IN_CALL: None,
    State.RATING: 60.0,
    State.GOODBYE: 10.0,
}

_I, _C, _IDG, _ID, _T, _B, _W, _CALL, _R, _G = (
    State.IDLE,
    State.CHOOSING,
    State.IDENTIFYING,
    State.IDENTIFIED,
    State.TICKETED,
    State.BOOKING,
    State.WAITING,
    State.IN_CALL,
    State.RATING,
    State.GOODBYE,
)
_E = Event

#: (state, event) → next state. Everything else is illegal.
TRANSITIONS: dict[tuple[State, Event], State] = {
    (_I, _E.START): _C,
    (_C, _E.IDENTIFY): _IDG,
    (_C, _E.IDENTIFIED): _ID,  # ID number typed on the service screen (services that allow it)
    (_C, _E.TICKET_ISSUED): _T,  # services that allow a number without identification
    (_C, _E.CHECKED_IN): _W,  # check-in with booking code + ID from the welcome flow
    (_C, _E.BOOKING_CANCELLED): _G,
    (_C, _E.CANCEL): _I,
    (_C, _E.BACK): _I,
    (_C, _E.TIMEOUT): _I,
    (_IDG, _E.IDENTIFIED): _ID,
    (_IDG, _E.BACK): _C,
    (_IDG, _E.CANCEL): _I,
    (_IDG, _E.TIMEOUT): _I,
    (_ID, _E.TICKET_ISSUED): _T,
    (_ID, _E.BOOKING_STARTED): _B,
    (_ID, _E.CHECKED_IN): _W,
    (_ID, _E.BOOKING_CANCELLED): _G,
    (_ID, _E.BACK): _C,
    (_ID, _E.CANCEL): _I,
    (_ID, _E.TIMEOUT): _I,
    (_T, _E.TIMEOUT): _W,
    (_T, _E.CALL_STARTED): _CALL,  # called before the ticket screen moved on
    (_T, _E.LEAVE_QUEUE): _G,
    (_T, _E.TICKET_CLOSED): _G,
    (_B, _E.BOOKED): _G,
    (_B, _E.BACK): _ID,
    (_B, _E.CANCEL): _I,
    (_B, _E.TIMEOUT): _I,
    (_W, _E.CALL_STARTED): _CALL,
    (_W, _E.LEAVE_QUEUE): _G,
    (_W, _E.TICKET_CLOSED): _G,
    (_CALL, _E.CALL_ENDED): _R,
    (_R, _E.RATED): _G,
    (_R, _E.TIMEOUT): _G,
    (_G, _E.START): _C,  # the next resident touches the screen during the thank-you
    (_G, _E.CANCEL): _I,
    (_G, _E.TIMEOUT): _I,
}

#: Screen shown on entering each state, and the voice prompt that goes with it.
SCREENS: dict[State, tuple[str, str]] = {
    State.IDLE: ("welcome", "prompt.welcome"),
    State.CHOOSING: ("choose", "prompt.choose_service"),
    State.IDENTIFYING: ("identify", "prompt.identify"),
    State.IDENTIFIED: ("next_step", "prompt.take_number_or_book"),
    State.TICKETED: ("ticket", "prompt.ticket_taken"),
    State.BOOKING: ("booking", "prompt.choose_slot"),
    State.WAITING: ("waiting", "prompt.please_wait"),
    State.IN_CALL: ("call", "prompt.call_connected"),
    State.RATING: ("rating", "prompt.please_rate"),
    State.GOODBYE: ("goodbye", "prompt.goodbye"),
}


class IllegalEvent(Exception):
    """The event is not allowed in the current state; the session is unchanged."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event.value} is not allowed in {state.value}")
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class Show:
    """Render this screen."""

    screen: str


@dataclass(frozen=True, slots=True)
class Speak:
    """Play this voice prompt (a catalog key; the UI speaks it in the session's language)."""

    prompt: str


@dataclass(frozen=True, slots=True)
class Wipe:
    """Clear every trace of the resident: screen, process memory, temporary files, browser storage."""


@dataclass(frozen=True, slots=True)
class ApplyDefaultRating:
    """The resident left without rating: record the configured default for this case."""

    case_id: str


Action = Show | Speak | Wipe | ApplyDefaultRating


@dataclass
class SessionData:
    """What the session knows about the resident; all of it is wiped on return to idle."""

    language: str = "zh-CN"
    elder_mode: bool = False
    service_code: str | None = None
    identity: dict[str, str] | None = None  # masked display fields only; raw data stays in devices
    id_number: str | None = None  # unmasked, for binding a ticket/booking; never sent to the page
    ticket: dict[str, str] | None = None
    booking_code: str | None = None
    case_id: str | None = None
    call_id: str | None = None

    def holds_personal_data(self) -> bool:
        """True while anything resident-specific is held."""
        return any(
            (
                self.service_code,
                self.identity,
                self.id_number,
                self.ticket,
                self.booking_code,
                self.case_id,
                self.call_id,
            )
        )


@dataclass
class Session:
    """One kiosk's resident session. Feed events with :meth:`handle` and time with :meth:`tick`."""

    timeouts: dict[State, float | None] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    state: State = State.IDLE
    data: SessionData = field(default_factory=SessionData)
    last_activity: float = 0.0
    history: list[State] = field(default_factory=lambda: [State.IDLE])

    def can(self, event: Event) -> bool:
        """Whether ``event`` is legal now."""
        return (self.state, event) in TRANSITIONS

    def handle(self, event: Event, now: float, **fields: object) -> list[Action]:
        """Apply ``event`` at time ``now`` (seconds, any monotonic origin) with its data fields.

        Field names are :class:`SessionData` attributes (``service_code``, ``identity``,
        ``id_number``, ``ticket``, ``booking_code``, ``case_id``, ``call_id``, ``language``,
        ``elder_mode``).
        """
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise IllegalEvent(self.state, event)
        unknown = set(fields) - set(SessionData.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown session fields: {sorted(unknown)}")
        for name, value in fields.items():
            setattr(self.data, name, value)
        return self._enter(nxt, now, event)

    def touch(self, now: float) -> None:
        """The resident did something on the current screen (resets the inactivity timer)."""
        self.last_activity = now

    def deadline(self) -> float | None:
        """When the current state times out, or None."""
        limit = self.timeouts.get(self.state)
        return None if limit is None else self.last_activity + limit

    def tick(self, now: float) -> list[Action]:
        """Fire the inactivity timeout if it is due; returns the resulting actions (or none)."""
        due = self.deadline()
        if due is None or now < due:
            return []
        return self.handle(Event.TIMEOUT, now)

    def _enter(self, nxt: State, now: float, event: Event) -> list[Action]:
        actions: list[Action] = []
        if self.state is State.RATING and event is Event.TIMEOUT and self.data.case_id:
            actions.append(ApplyDefaultRating(self.data.case_id))
        self.state = nxt
        self.last_activity = now
        self.history.append(nxt)
        if nxt in (State.IDLE, State.GOODBYE):
            # goodbye keeps only the language and elder mode for its thank-you; idle starts over
            if nxt is State.GOODBYE:
                self.data = SessionData(language=self.data.language, elder_mode=self.data.elder_mode)
            else:
                self.data = SessionData()
            actions.append(Wipe())
        screen, prompt = SCREENS[nxt]
        actions += [Show(screen), Speak(prompt)]
        return actions
