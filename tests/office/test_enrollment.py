"""Kiosk enrollment: one-time codes, device tokens, rotation, revocation, re-enrollment."""

from __future__ import annotations

from office.models import AuditEvent, Kiosk, Role
from tests.office.conftest import OfficeHarness


def test_code_is_one_time_and_token_is_stored_hashed(any_harness: OfficeHarness) -> None:
    """A code enrolls once; the token authenticates; neither value is stored in the clear."""
    h = any_harness
    admin = h.login(Role.ADMIN)
    r = admin.post("/api/kiosks", json={"station_id": h.station_id, "name": "大厅一号机"})
    assert r.status_code == 201
    code = r.json()["enrollment_code"]
    assert r.json()["kiosk"]["enrollment_pending"] is True
    enrolled = h.client().post("/api/kiosk/enroll", json={"code": code.lower()})
    assert enrolled.status_code == 200
    token = enrolled.json()["token"]
    again = h.client().post("/api/kiosk/enroll", json={"code": code})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_enrollment_code"
    me = h.kiosk_client(token).get("/api/kiosk/me")
    assert me.status_code == 200
    assert me.json()["station_id"] == h.station_id
    assert me.json()["office_name"] == "测试街道"
    with h.ctx.read_db() as s:
        kiosk = s.get(Kiosk, enrolled.json()["kiosk_id"])
        assert kiosk is not None
        stored = [kiosk.token_hash, kiosk.enrollment_code_hash]
    assert token not in stored
    assert code not in stored
    assert kiosk.token_hash is not None and len(kiosk.token_hash) == 64


def test_expired_code_is_refused(harness: OfficeHarness) -> None:
    """A code older than its TTL (24 h by default) no longer enrolls."""
    admin = harness.login(Role.ADMIN)
    code = admin.post("/api/kiosks", json={"station_id": harness.station_id, "name": "k"}).json()[
        "enrollment_code"
    ]
    harness.clock.advance(hours=24, seconds=1)
    r = harness.client().post("/api/kiosk/enroll", json={"code": code})
    assert r.status_code == 400


def test_rotation_replaces_the_token_at_once(harness: OfficeHarness) -> None:
    """After rotation the old token is refused and the new one works."""
    _, token = harness.enroll_kiosk()
    r = harness.kiosk_client(token).post("/api/kiosk/token/rotate")
    assert r.status_code == 200
    new = r.json()["token"]
    assert new != token
    assert harness.kiosk_client(token).get("/api/kiosk/me").status_code == 401
    assert harness.kiosk_client(new).get("/api/kiosk/me").status_code == 200


def test_revocation_refuses_the_token_and_reenrollment_readmits(harness: OfficeHarness) -> None:
    """A revoked kiosk is refused; a new code issued by an admin enrolls it again with a new token."""
    admin = harness.login(Role.ADMIN)
    kiosk_id, token = harness.enroll_kiosk(admin)
    assert admin.post(f"/api/kiosks/{kiosk_id}/revoke").json()["revoked"] is True
    r = harness.kiosk_client(token).get("/api/kiosk/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    code = admin.post(f"/api/kiosks/{kiosk_id}/enrollment-code").json()["enrollment_code"]
    new = harness.client().post("/api/kiosk/enroll", json={"code": code}).json()["token"]
    assert harness.kiosk_client(new).get("/api/kiosk/me").status_code == 200
    assert harness.kiosk_client(token).get("/api/kiosk/me").status_code == 401
    listed = {k["id"]: k for k in admin.get("/api/kiosks").json()}
    assert listed[kiosk_id]["revoked"] is False
    assert listed[kiosk_id]["enrolled"] is True


def test_bad_tokens_and_schemes_are_refused_with_401(harness: OfficeHarness) -> None:
    """Unknown tokens, non-bearer schemes and session-looking tokens all get 401."""
    for header in ("Bearer dk_nope", "Basic abc", "Bearer ds_session-token", "Bearer"):
        r = harness.client(headers={"Authorization": header}).get("/api/kiosk/me")
        assert r.status_code == 401, header


def test_enrollment_is_audited_without_secrets(harness: OfficeHarness) -> None:
    """Registration, enrollment and revocation leave audit entries that contain no code or token."""
    admin = harness.login(Role.ADMIN)
    kiosk_id, token = harness.enroll_kiosk(admin)
    admin.post(f"/api/kiosks/{kiosk_id}/revoke")
    harness.client().post("/api/kiosk/enroll", json={"code": "AAAA-BBBB-CCCC"})
    with harness.ctx.read_db() as s:
        events = s.query(AuditEvent).order_by(AuditEvent.id).all()
    actions = [e.action for e in events]
    assert {"kiosk.registered", "kiosk.enroll", "kiosk.revoked"} <= set(actions)
    failed = [e for e in events if e.action == "kiosk.enroll" and not e.success]
    assert len(failed) == 1
    dump = repr([(e.details, e.target_id, e.actor_id) for e in events])
    assert token not in dump
    assert "AAAA" not in dump
