"""The resident session state machine: whole journeys, every illegal event, every timeout, wipes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.session import (
    DEFAULT_TIMEOUTS,
    SCREENS,
    TRANSITIONS,
    ApplyDefaultRating,
    Event,
    IllegalEvent,
    Session,
    Show,
    Speak,
    State,
    Wipe,
)

CARD = {"name": "张*", "id_number": "1101**********002X"}


def _at(session: Session) -> State:
    """The session's state (a call, so mypy does not narrow it across events)."""
    return session.state


def _states(session: Session) -> list[str]:
    return [s.value for s in session.history]


def test_take_a_number_be_served_and_rate() -> None:
    """Choose → identify → number → wait → call → rate: states in order, data wiped at the end."""
    s = Session()
    s.handle(Event.START, 0, language="en", elder_mode=True)
    s.handle(Event.IDENTIFIED, 5, service_code="GOV-SSC-APPLY", identity=CARD)
    s.handle(Event.TICKET_ISSUED, 9, ticket={"number": "A017"})
    assert s.tick(38.9) == []
    assert s.tick(39) == [Show("waiting"), Speak("prompt.please_wait")]
    assert s.tick(10_000) == []  # no inactivity limit while waiting
    s.handle(Event.CALL_STARTED, 10_001)
    s.handle(Event.CALL_ENDED, 10_600, case_id="C-1")
    actions = s.handle(Event.RATED, 10_610)
    assert actions == [Wipe(), Show("goodbye"), Speak("prompt.goodbye")]
    assert not s.data.holds_personal_data()
    assert s.data.language == "en" and s.data.elder_mode  # the thank-you still suits the resident
    actions = s.tick(10_620)
    assert _states(s) == [
        "idle",
        "choosing",
        "identified",
        "ticketed",
        "waiting",
        "in_call",
        "rating",
        "goodbye",
        "idle",
    ]
    assert actions[0] == Wipe()
    assert not s.data.holds_personal_data()
    assert s.data.language == "zh-CN"
    assert s.data.elder_mode is False


def test_book_an_appointment_then_leave() -> None:
    """Identify → booking → booked returns to the welcome screen with a wipe."""
    s = Session()
    s.handle(Event.START, 0)
    s.handle(Event.IDENTIFIED, 1, identity=CARD, service_code="CIV-ELDER")
    s.handle(Event.BOOKING_STARTED, 2)
    actions = s.handle(Event.BOOKED, 3, booking_code="K7Q2")
    assert _states(s) == ["idle", "choosing", "identified", "booking", "goodbye"]
    assert Wipe() in actions
    assert s.data.booking_code is None


def test_check_in_goes_straight_to_waiting() -> None:
    """A resident with a booking checks in and waits for the call."""
    s = Session()
    s.handle(Event.START, 0)
    s.handle(Event.IDENTIFIED, 1, identity=CARD)
    s.handle(Event.CHECKED_IN, 2, ticket={"number": "B003"})
    assert s.state is State.WAITING


def test_unrated_case_gets_the_default_rating_and_a_wipe() -> None:
    """A resident who walks away from the rating screen: default rating for the case, then wipe."""
    s = Session()
    for event, kw in [
        (Event.START, {}),
        (Event.TICKET_ISSUED, {"ticket": {"number": "A001"}}),
        (Event.CALL_STARTED, {}),
        (Event.CALL_ENDED, {"case_id": "C-9"}),
    ]:
        s.handle(event, 0, **kw)  # type: ignore[arg-type]
    assert s.tick(59.9) == []
    actions = s.tick(60)
    assert actions[:2] == [ApplyDefaultRating("C-9"), Wipe()]
    assert s.state is State.GOODBYE


@pytest.mark.parametrize("state", [st_ for st_, limit in DEFAULT_TIMEOUTS.items() if limit is not None])
def test_every_limited_state_times_out_as_the_table_says(state: State) -> None:
    """Inactivity in each limited state fires TIMEOUT into the tabled next state."""
    s = Session(state=state, last_activity=100.0)
    limit = DEFAULT_TIMEOUTS[state]
    assert limit is not None
    assert s.tick(100.0 + limit - 0.001) == []
    s.tick(100.0 + limit)
    assert s.state is TRANSITIONS[(state, Event.TIMEOUT)]


def test_touch_resets_the_inactivity_timer() -> None:
    """Activity on the current screen postpones the timeout."""
    s = Session()
    s.handle(Event.START, 0)
    s.touch(100)
    assert s.tick(219.999) == []
    assert _states(s)[-1] == "choosing"
    s.tick(220)
    assert _states(s)[-1] == "idle"


@pytest.mark.parametrize(
    ("state", "event"), [(s, e) for s in State for e in Event if (s, e) not in TRANSITIONS]
)
def test_every_illegal_event_raises_and_changes_nothing(state: State, event: Event) -> None:
    """Each (state, event) pair missing from the table is refused without side effects."""
    s = Session(state=state, last_activity=5.0)
    s.data.service_code = "X"
    with pytest.raises(IllegalEvent):
        s.handle(event, 10, case_id="should-not-stick")
    assert s.state is state
    assert s.last_activity == 5.0
    assert s.data.case_id is None
    assert s.history == [State.IDLE]


def test_unknown_fields_are_refused() -> None:
    """A typo in a field name is a programming error, not silently ignored data."""
    with pytest.raises(TypeError, match="idnumber"):
        Session().handle(Event.START, 0, idnumber="x")


def test_every_state_is_reachable_and_can_get_back_to_idle() -> None:
    """The table connects every state to idle (no dead ends for a resident)."""
    reach = {State.IDLE}
    frontier = [State.IDLE]
    while frontier:
        cur = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is cur and dst not in reach:
                reach.add(dst)
                frontier.append(dst)
    assert reach == set(State)
    for state in State:
        seen, frontier = {state}, [state]
        while frontier:
            cur = frontier.pop()
            for (src, _), dst in TRANSITIONS.items():
                if src is cur and dst not in seen:
                    seen.add(dst)
                    frontier.append(dst)
        assert State.IDLE in seen, state


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Event)), st.floats(0, 300)), max_size=40))
def test_random_journeys_never_keep_personal_data_in_idle(steps: list[tuple[Event, float]]) -> None:
    """Whatever the resident does, whenever the session is idle it holds no personal data."""
    s = Session()
    now = 0.0
    for event, gap in steps:
        now += gap
        s.tick(now)
        if s.can(event):
            s.handle(event, now, identity=CARD, ticket={"number": "A1"}, case_id="C")
        else:
            with pytest.raises(IllegalEvent):
                s.handle(event, now)
        if s.state is State.IDLE:
            assert not s.data.holds_personal_data()


def test_identify_by_card_after_consent_then_leave_the_queue() -> None:
    """Consent screen → card read → number → leave the queue: goodbye wipes, then back to welcome."""
    s = Session()
    s.handle(Event.START, 0)
    assert s.handle(Event.IDENTIFY, 1, service_code="GOV-SSC-APPLY") == [
        Show("identify"),
        Speak("prompt.identify"),
    ]
    s.handle(Event.IDENTIFIED, 2, identity=CARD, id_number="110101199003070025")
    assert s.data.id_number == "110101199003070025"
    s.handle(Event.TICKET_ISSUED, 3, ticket={"number": "A001"}, call_id=None)
    s.tick(33)
    assert s.handle(Event.LEAVE_QUEUE, 40)[0] == Wipe()
    assert s.state is State.GOODBYE and not s.data.holds_personal_data()
    assert _states(s)[-1] == "goodbye"
    s.tick(50)
    assert _at(s) is State.IDLE


def test_identifying_back_and_timeout() -> None:
    """From the consent/card screen, back returns to the services, inactivity to the welcome screen."""
    s = Session()
    s.handle(Event.START, 0)
    s.handle(Event.IDENTIFY, 1)
    s.handle(Event.BACK, 2)
    assert s.state is State.CHOOSING
    s.handle(Event.IDENTIFY, 3, service_code="X")
    assert s.tick(92.999) == []
    assert s.tick(93)[0] == Wipe()
    assert _at(s) is State.IDLE and not s.data.holds_personal_data()


def test_office_closing_the_ticket_ends_the_wait() -> None:
    """A ticket ended by the office (no-show, staff) while waiting: goodbye with a wipe."""
    s = Session()
    s.handle(Event.START, 0)
    s.handle(Event.TICKET_ISSUED, 1, ticket={"number": "A9"})
    s.tick(31)
    assert s.state is State.WAITING
    assert s.handle(Event.TICKET_CLOSED, 99)[0] == Wipe()
    assert _at(s) is State.GOODBYE


def test_cancel_a_booking_then_the_next_resident_starts() -> None:
    """Cancelling a booking says goodbye; a touch during goodbye starts a fresh session."""
    s = Session()
    s.handle(Event.START, 0, language="en")
    s.handle(Event.IDENTIFIED, 1, identity=CARD, booking_code="K7Q2")
    s.handle(Event.BOOKING_CANCELLED, 2)
    assert s.data.booking_code is None
    s.handle(Event.START, 3, language="zh-CN")
    assert s.state is State.CHOOSING and not s.data.holds_personal_data()


@pytest.mark.parametrize(("state", "event"), list(TRANSITIONS))
def test_every_legal_transition_lands_where_the_table_says(state: State, event: Event) -> None:
    """Each tabled (state, event) moves to its target, shows its screen and speaks its prompt."""
    s = Session(state=state, last_activity=1.0)
    s.data.identity = dict(CARD)
    actions = s.handle(event, 2.0)
    target = TRANSITIONS[(state, event)]
    screen, prompt = SCREENS[target]
    assert s.state is target and s.last_activity == 2.0 and s.history[-1] is target
    assert actions[-2:] == [Show(screen), Speak(prompt)]
    wiped = Wipe() in actions
    assert wiped == (target in (State.IDLE, State.GOODBYE))
    assert s.data.holds_personal_data() is not wiped


def test_every_state_has_a_screen_a_prompt_and_a_timeout_entry() -> None:
    """No state is missing its screen, voice prompt or inactivity setting."""
    assert set(SCREENS) == set(State) == set(DEFAULT_TIMEOUTS)
    assert all(screen and prompt.startswith("prompt.") for screen, prompt in SCREENS.values())
    assert {s for s, limit in DEFAULT_TIMEOUTS.items() if limit is None} == {
        State.IDLE,
        State.WAITING,
        State.IN_CALL,
    }
