"""Authorization matrix: every route × every kind of caller gets exactly what the route declares.

Callers: anonymous, each staff role, an enrolled kiosk, a revoked kiosk. The route's
:class:`office.auth.Allow` declaration is the expectation; refusals by it carry the codes
``unauthenticated`` (401) or ``access_denied`` (403), which is how an admitted caller's own 4xx
(validation, not found, record-level refusal) is told apart from a refusal at the door.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from starlette.testclient import TestClient

from office.app import create_app
from office.auth import ACCESS_DENIED, SESSION_COOKIE, Allow, DeclaredRoute, api_routes, route_access
from office.models import Kiosk, Role, User, WebSession
from office.security import digest
from office.settings import Settings
from tests.office.conftest import OfficeHarness

CALLERS = ["anonymous", *[r.value for r in Role], "kiosk", "revoked_kiosk"]


def _routes() -> list[tuple[DeclaredRoute, str, Allow]]:
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    out: list[tuple[DeclaredRoute, str, Allow]] = []
    for declared in api_routes(app):
        access = route_access(declared.route)
        assert access is not None
        out.extend((declared, method, access) for method in sorted(declared.methods - {"HEAD"}))
    return out


ROUTES = _routes()


def _path(declared: DeclaredRoute) -> str:
    path = declared.path
    for param in declared.route.dependant.path_params:
        annotation = param.field_info.annotation
        value = "1" if annotation is int else "abcdef0123456789"
        path = path.replace("{" + param.name + "}", value)
    return path


def _session_client(h: OfficeHarness, role: Role, user_ids: dict[Role, int]) -> TestClient:
    """A client with a brand-new session for a user of ``role`` (no argon2 cost per request)."""
    token = "ds_" + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = h.clock.now()
    with h.ctx.db() as s, s.begin():
        s.add(
            WebSession(
                id=digest(token),
                user_id=user_ids[role],
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=12),
            )
        )
    c = h.client()
    c.cookies.set(SESSION_COOKIE, token)
    c.headers["X-CSRF-Token"] = csrf
    return c


def _kiosk_client(h: OfficeHarness, kiosk_id: int) -> TestClient:
    """A client with a fresh device token for an active kiosk (un-revoked: the matrix itself
    calls the revoke route as admin)."""
    token = "dk_" + secrets.token_urlsafe(32)
    with h.ctx.db() as s, s.begin():
        kiosk = s.get(Kiosk, kiosk_id)
        assert kiosk is not None
        kiosk.token_hash = digest(token)
        kiosk.revoked_at = None
    return h.kiosk_client(token)


def test_every_route_declares_access() -> None:
    """The app has routes, and each declares exactly one Allow (create_app enforces it too)."""
    assert len(ROUTES) >= 15
    assert all(isinstance(access, Allow) for _, _, access in ROUTES)


def test_access_matrix(harness: OfficeHarness) -> None:
    """Each (route, method, caller) is admitted or refused exactly as the declaration says."""
    h = harness
    user_ids: dict[Role, int] = {}
    for role in Role:
        name = h.add_user(role, username=f"matrix-{role.value}")
        with h.ctx.read_db() as s:
            user_ids[role] = s.query(User.id).filter_by(username=name).scalar()
    kiosk_id, _ = h.enroll_kiosk()
    revoked_id, revoked_token = h.enroll_kiosk()
    admin = _session_client(h, Role.ADMIN, user_ids)
    assert admin.post(f"/api/kiosks/{revoked_id}/revoke").status_code == 200

    mismatches: list[str] = []
    checked = 0
    for route, method, access in ROUTES:
        path = _path(route)
        for caller in CALLERS:
            if caller == "anonymous":
                client = h.client()
            elif caller == "kiosk":
                client = _kiosk_client(h, kiosk_id)
            elif caller == "revoked_kiosk":
                client = h.kiosk_client(revoked_token)
            else:
                client = _session_client(h, Role(caller), user_ids)
            body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
            r = client.request(method, path, json=body)
            code = (
                r.json().get("error", {}).get("code")
                if r.headers.get("content-type", "").startswith("application/json")
                and isinstance(r.json(), dict)
                else None
            )
            refused_at_door = r.status_code == 401 or (r.status_code == 403 and code == ACCESS_DENIED)
            if caller == "revoked_kiosk":
                expected_refused = not access.public
                if not access.public and r.status_code != 401:
                    mismatches.append(f"{method} {route.path} {caller}: {r.status_code} (expected 401)")
                    continue
            elif caller == "anonymous":
                expected_refused = not access.public
                if expected_refused and r.status_code != 401:
                    mismatches.append(f"{method} {route.path} {caller}: {r.status_code} (expected 401)")
                    continue
            else:
                expected_refused = not access.admits(caller)
            if refused_at_door != expected_refused:
                mismatches.append(
                    f"{method} {route.path} {caller}: {r.status_code} {code} "
                    f"(declared {access!r}, expected {'refusal' if expected_refused else 'admission'})"
                )
            assert r.status_code < 500, f"{method} {route.path} as {caller}: {r.status_code} {r.text[:200]}"
            checked += 1
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(ROUTES) * len(CALLERS)


def test_revoked_kiosk_token_never_admitted_where_kiosks_are(harness: OfficeHarness) -> None:
    """A revoked kiosk's token is refused with 401 on every kiosk route, whatever else happens."""
    kiosk_routes = [(r, m) for r, m, a in ROUTES if a.kiosk]
    assert kiosk_routes
    _, token = harness.enroll_kiosk()
    admin = harness.login(Role.ADMIN)
    kid = harness.kiosk_client(token).get("/api/kiosk/me").json()["kiosk_id"]
    admin.post(f"/api/kiosks/{kid}/revoke")
    for route, method in kiosk_routes:
        r = harness.kiosk_client(token).request(method, _path(route), json={} if method != "GET" else None)
        assert r.status_code == 401, route.path
