"""Login sessions: cookies, idle and absolute timeouts, logout, lockout, CSRF, session listing."""

from __future__ import annotations

from office.auth import SESSION_COOKIE
from office.models import AuditEvent, Role
from tests.office.conftest import PASSWORDS, OfficeHarness


def test_login_sets_httponly_samesite_cookie_and_me_works(any_harness: OfficeHarness) -> None:
    """A correct login sets an HttpOnly SameSite=strict cookie and /me answers with a CSRF token."""
    name = any_harness.add_user(Role.AGENT)
    c = any_harness.client()
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORDS[Role.AGENT]})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    me = c.get("/api/auth/me").json()
    assert me["username"] == name and me["role"] == "agent" and len(me["csrf_token"]) >= 32


def test_cookie_is_secure_over_tls(harness: OfficeHarness) -> None:
    """Served over HTTPS, the session cookie is marked Secure."""
    name = harness.add_user(Role.AGENT)
    c = harness.client(base_url="https://testserver")
    r = c.post("/api/auth/login", json={"username": name, "password": PASSWORDS[Role.AGENT]})
    assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_look_the_same(harness: OfficeHarness) -> None:
    """Unknown users and wrong passwords get the same 401 body code."""
    name = harness.add_user(Role.AGENT)
    c = harness.client()
    a = c.post("/api/auth/login", json={"username": name, "password": "wrong-password"})
    b = c.post("/api/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert a.status_code == b.status_code == 401
    assert a.json()["error"]["code"] == b.json()["error"]["code"] == "bad_credentials"


def test_five_failures_lock_the_account_for_fifteen_minutes(any_harness: OfficeHarness) -> None:
    """After 5 failures even the right password is refused (423) until 15 minutes pass."""
    h = any_harness
    name = h.add_user(Role.AGENT)
    c = h.client()
    for _ in range(5):
        assert c.post("/api/auth/login", json={"username": name, "password": "nope-nope"}).status_code == 401
    good = {"username": name, "password": PASSWORDS[Role.AGENT]}
    r = c.post("/api/auth/login", json=good)
    assert r.status_code == 423 and r.json()["error"]["code"] == "account_locked"
    h.clock.advance(minutes=14, seconds=59)
    assert c.post("/api/auth/login", json=good).status_code == 423
    h.clock.advance(seconds=2)
    assert c.post("/api/auth/login", json=good).status_code == 200
    with h.ctx.read_db() as s:
        reasons = [e.details.get("reason") for e in s.query(AuditEvent).filter_by(action="auth.login")]
    assert reasons.count("bad_password") == 4 and "locked_now" in reasons and reasons.count("locked") == 2


def test_idle_timeout_is_thirty_minutes_and_activity_extends_it(harness: OfficeHarness) -> None:
    """A session idle for 30 minutes is dead; a request every 20 minutes keeps it alive."""
    c = harness.login(Role.AGENT)
    for _ in range(3):
        harness.clock.advance(minutes=20)
        assert c.get("/api/auth/me").status_code == 200
    harness.clock.advance(minutes=30)
    assert c.get("/api/auth/me").status_code == 401


def test_absolute_timeout_is_twelve_hours(harness: OfficeHarness) -> None:
    """Even an active session ends 12 hours after login."""
    c = harness.login(Role.AGENT)
    for _ in range(12 * 3 - 1):
        harness.clock.advance(minutes=20)
        assert c.get("/api/auth/me").status_code == 200
    harness.clock.advance(minutes=20)
    assert c.get("/api/auth/me").status_code == 401


def test_logout_invalidates_the_session_server_side(harness: OfficeHarness) -> None:
    """After logout the old cookie value no longer authenticates, even if replayed."""
    c = harness.login(Role.SUPERVISOR)
    token = c.cookies.get(SESSION_COOKIE)
    assert token
    assert c.post("/api/auth/logout").status_code == 204
    replay = harness.client()
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get("/api/auth/me").status_code == 401


def test_state_changing_requests_need_the_csrf_header(harness: OfficeHarness) -> None:
    """A cookie-authenticated POST without (or with a wrong) X-CSRF-Token is refused with 403."""
    c = harness.login(Role.AGENT)
    good = c.headers.pop("X-CSRF-Token")
    r = c.post("/api/auth/logout")
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": good[:-1] + "x"}).status_code == 403
    assert c.get("/api/auth/me").status_code == 200
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": good}).status_code == 204


def test_user_lists_and_ends_other_sessions(harness: OfficeHarness) -> None:
    """A user sees both of their sessions and can end the other one."""
    name = harness.add_user(Role.AGENT)
    a = harness.login(Role.AGENT, username=name)
    b = harness.login(Role.AGENT, username=name)
    listed = a.get("/api/auth/sessions").json()
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    assert a.delete(f"/api/auth/sessions/{other['id']}").status_code == 204
    assert b.get("/api/auth/me").status_code == 401
    assert a.get("/api/auth/me").status_code == 200
    assert a.delete(f"/api/auth/sessions/{other['id']}").status_code == 404


def test_deactivated_user_loses_access_immediately(harness: OfficeHarness) -> None:
    """Deactivating a user ends their live sessions at the next request."""
    admin = harness.login(Role.ADMIN)
    name = harness.add_user(Role.AGENT)
    agent = harness.login(Role.AGENT, username=name)
    uid = agent.get("/api/auth/me").json()["id"]
    assert admin.patch(f"/api/users/{uid}", json={"active": False}).status_code == 200
    assert agent.get("/api/auth/me").status_code == 401
