"""Session and device-token look-ups of requests arriving together are batched (office.auth with
office.batching): one query answers many cookies or tokens, each with its own result (valid,
revoked, expired, idle, inactive user, unknown, duplicated); due last-seen stamps are written; an
error of the batch reaches every waiter; concurrent API requests each get their own principal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from office import auth
from office.auth import SESSION_COOKIE, AuthUser, kiosk_of, resolve_kiosks, resolve_sessions, user_of
from office.models import Kiosk, Role, User, WebSession
from office.security import digest
from tests.conftest import TIMEOUT
from tests.office.conftest import OfficeHarness


def _cookie(h: OfficeHarness, role: Role = Role.AGENT) -> str:
    return str(h.login(role).cookies[SESSION_COOKIE])


def _set_session(h: OfficeHarness, cookie: str, **values: object) -> None:
    with h.ctx.db() as s, s.begin():
        s.execute(update(WebSession).where(WebSession.id == digest(cookie)).values(**values))


def _last_seen(h: OfficeHarness, cookie: str) -> object:
    with h.ctx.read_db() as s:
        return s.scalar(select(WebSession.last_seen_at).where(WebSession.id == digest(cookie)))


class Mixed:
    """Seven cookies, one of each kind, made on the harness; the clock then moves 30 s on."""

    def __init__(self, h: OfficeHarness) -> None:
        now = h.clock.now()
        self.agent = _cookie(h, Role.AGENT)
        self.supervisor = _cookie(h, Role.SUPERVISOR)
        self.revoked = _cookie(h)
        _set_session(h, self.revoked, revoked_at=now)
        self.expired = _cookie(h)
        _set_session(h, self.expired, expires_at=now)
        self.idle = _cookie(h)
        _set_session(h, self.idle, last_seen_at=now - timedelta(minutes=31))
        self.inactive = _cookie(h)
        with h.ctx.db() as s, s.begin():
            user_id = s.scalar(select(WebSession.user_id).where(WebSession.id == digest(self.inactive)))
            s.execute(update(User).where(User.id == user_id).values(active=False))
        self.unknown = "not-a-session-cookie"
        h.clock.advance(seconds=30)

    def cookies(self) -> list[str]:
        """Every kind, the agent's twice."""
        return [
            self.agent,
            self.revoked,
            self.supervisor,
            self.expired,
            self.idle,
            self.agent,
            self.inactive,
            self.unknown,
        ]

    def check(self, users: Sequence[AuthUser | None]) -> None:
        """Each cookie's own answer, in order."""
        roles = [u.role if u else None for u in users]
        assert roles == [Role.AGENT, None, Role.SUPERVISOR, None, None, Role.AGENT, None, None]
        agent, supervisor = users[0], users[2]
        assert agent is not None and supervisor is not None
        assert users[5] == agent and agent.session_id == digest(self.agent)
        assert supervisor.session_id == digest(self.supervisor) and supervisor.id != agent.id
        assert agent.csrf_token != supervisor.csrf_token


def test_one_query_answers_each_cookie_with_its_own_result(any_harness: OfficeHarness) -> None:
    """Valid, revoked, expired, idle, inactive-user, unknown and repeated cookies in one batch:
    each gets what it would get alone, in order."""
    mixed = Mixed(any_harness)
    users = resolve_sessions(any_harness.ctx, mixed.cookies())
    mixed.check(users)
    assert [auth.resolve_session(any_harness.ctx, c) for c in mixed.cookies()] == users
    assert resolve_sessions(any_harness.ctx, []) == []


def test_due_last_seen_stamps_are_written_and_fresh_ones_left(any_harness: OfficeHarness) -> None:
    """Sessions not seen for the touch interval get last-seen = now, once per batch; the others keep
    theirs (the idle timeout then counts from the touch)."""
    h = any_harness
    due, fresh = _cookie(h), _cookie(h)
    h.clock.advance(seconds=h.ctx.settings.session_touch_interval_s - 1)
    _set_session(h, due, last_seen_at=h.clock.now() - timedelta(minutes=5))
    before = _last_seen(h, fresh)
    assert all(resolve_sessions(h.ctx, [due, fresh, due]))
    assert _last_seen(h, due) == h.clock.now()
    assert _last_seen(h, fresh) == before
    h.clock.advance(minutes=29, seconds=30)  # idle counted from the touch: alive; the other idle
    assert resolve_sessions(h.ctx, [due, fresh]) == [resolve_sessions(h.ctx, [due])[0], None]


def test_kiosk_tokens_in_one_query(any_harness: OfficeHarness) -> None:
    """Enrolled, revoked and unknown device tokens in one batch: each gets its own kiosk or None."""
    h = any_harness
    admin = h.login(Role.ADMIN)
    (one, good), (two, other), (_, revoked) = (h.enroll_kiosk(admin) for _ in range(3))
    with h.ctx.db() as s, s.begin():
        s.execute(update(Kiosk).where(Kiosk.token_hash == digest(revoked)).values(revoked_at=h.clock.now()))
    kiosks = resolve_kiosks(h.ctx, [good, revoked, other, "dk_unknown", good])
    assert [k.id if k else None for k in kiosks] == [one, None, two, None, one]
    assert kiosks[0] is not None and kiosks[0].station_id == h.station_id


class Recording:
    """Wraps the real batch look-up: records each batch; the first one waits until released."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, ctx: object, tokens: Sequence[str]) -> object:
        self.batches.append(list(tokens))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(TIMEOUT)
        return self.real(ctx, tokens)  # type: ignore[operator]


async def test_concurrent_look_ups_share_a_batch_and_get_their_own_users(
    any_harness: OfficeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one look-up runs, eight more arrive: they go together in the next batch, and each
    awaiting request gets the answer for its own cookie."""
    mixed = Mixed(any_harness)
    recording = Recording(resolve_sessions)
    monkeypatch.setattr(auth, "resolve_sessions", recording)
    ctx = any_harness.ctx
    first = asyncio.create_task(user_of(ctx, mixed.supervisor))
    assert await asyncio.to_thread(recording.started.wait, TIMEOUT)
    later = [asyncio.create_task(user_of(ctx, c)) for c in mixed.cookies()]
    await asyncio.sleep(0)
    recording.release.set()
    users = await asyncio.wait_for(asyncio.gather(*later), TIMEOUT)
    mixed.check(users)
    assert (await first) == users[2]
    assert recording.batches == [[mixed.supervisor], mixed.cookies()]


async def test_an_error_of_the_batch_reaches_every_waiter(
    any_harness: OfficeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose touch write fails raises in every request it carried; the next batch works."""
    h = any_harness
    cookies = [_cookie(h) for _ in range(4)]
    h.clock.advance(seconds=h.ctx.settings.session_touch_interval_s)  # every session due a touch

    def broken_touch(*_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(auth, "_touch", broken_touch)
    outcomes = await asyncio.gather(*(user_of(h.ctx, c) for c in cookies), return_exceptions=True)
    assert len(outcomes) == 4
    assert all(isinstance(o, RuntimeError) and str(o) == "database went away" for o in outcomes)
    monkeypatch.undo()
    users = await asyncio.gather(*(user_of(h.ctx, c) for c in cookies))
    assert all(u is not None and u.session_id == digest(c) for u, c in zip(users, cookies, strict=True))
    assert await kiosk_of(h.ctx, "dk_unknown") is None


async def test_concurrent_requests_each_get_their_own_principal(any_harness: OfficeHarness) -> None:
    """Sixteen /api/auth/me requests at once with mixed cookies: 200 with the caller's own user for
    the valid ones, 401 for the others."""
    mixed = Mixed(any_harness)
    cookies = mixed.cookies() * 2
    transport = httpx.ASGITransport(app=any_harness.app)
    clients = [
        httpx.AsyncClient(transport=transport, base_url="http://office", cookies={SESSION_COOKIE: c})
        for c in cookies
    ]
    try:
        replies = await asyncio.wait_for(asyncio.gather(*(c.get("/api/auth/me") for c in clients)), TIMEOUT)
    finally:
        for client in clients:
            await client.aclose()
    alone = [resolve_sessions(any_harness.ctx, [c])[0] for c in cookies]
    assert [r.status_code for r in replies] == [200 if u else 401 for u in alone]
    for reply, user in zip(replies, alone, strict=True):
        if user is not None:
            assert reply.json()["username"] == user.username and reply.json()["role"] == user.role.value
