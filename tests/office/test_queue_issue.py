"""Taking numbers: format, idempotency, one active ticket per resident, priority, bad input."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from office.models import Kiosk, Role, Ticket, TicketCounter
from tests.office import test_queue_support as support
from tests.office.test_queue_support import ELDER_ID, YOUNG_ID, QueueHarness, unique_key

qh, any_qh = support.qh, support.any_qh


def _count(q: QueueHarness) -> int:
    with q.h.ctx.read_db() as s:
        return int(s.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_numbers_are_prefix_plus_three_digits_in_sequence_per_queue(any_qh: QueueHarness) -> None:
    """Tickets get A001, A002 in one queue and B001 in another."""
    k = any_qh.kiosk()
    a1 = any_qh.take(k, "GOV-SSC-APPLY")
    a2 = any_qh.take(k, "GOV-PENSION-CERT")
    b1 = any_qh.take(k, "LIFE-UTILITY")
    assert [a1["number"], a2["number"], b1["number"]] == ["A001", "A002", "B001"]
    assert a1["state"] == "waiting" and a1["estimate"]["position"] == 0
    assert a2["estimate"]["position"] == 1


def test_idempotency_key_returns_the_same_ticket(any_qh: QueueHarness) -> None:
    """A retried request with the same Idempotency-Key gets the same ticket (200) and no new number."""
    k = any_qh.kiosk()
    key = unique_key()
    body = {"service_id": any_qh.services["GOV-SSC-APPLY"]}
    r1 = k.post("/api/queue/tickets", json=body, headers={"Idempotency-Key": key})
    r2 = k.post("/api/queue/tickets", json=body, headers={"Idempotency-Key": key})
    assert r1.status_code == 201 and r2.status_code == 200
    assert r1.json()["id"] == r2.json()["id"] and r1.json()["number"] == r2.json()["number"]
    assert _count(any_qh) == 1


def test_idempotency_key_reused_for_another_service_is_refused(qh: QueueHarness) -> None:
    """The same key for a different request is a client error, not a silent wrong answer."""
    k = qh.kiosk()
    key = unique_key()
    k.post(
        "/api/queue/tickets",
        json={"service_id": qh.services["GOV-SSC-APPLY"]},
        headers={"Idempotency-Key": key},
    )
    r = k.post(
        "/api/queue/tickets",
        json={"service_id": qh.services["LIFE-UTILITY"]},
        headers={"Idempotency-Key": key},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"


def test_one_active_ticket_per_resident_and_service(any_qh: QueueHarness) -> None:
    """Asking again with the same ID for the same service returns the same ticket; another service is new."""
    k = any_qh.kiosk()
    t1 = any_qh.take(k, "GOV-SSC-APPLY", id_number=YOUNG_ID)
    t2 = any_qh.take(k, "GOV-SSC-APPLY", id_number=YOUNG_ID)
    t3 = any_qh.take(k, "LIFE-UTILITY", id_number=YOUNG_ID)
    assert t1["id"] == t2["id"] and t3["id"] != t1["id"]
    assert t1["resident_bound"] is True and YOUNG_ID not in str(t1)


def test_resident_can_take_again_after_the_ticket_ended(qh: QueueHarness) -> None:
    """Once a ticket has left the queue, the same resident gets a new number."""
    k = qh.kiosk()
    t1 = qh.take(k, id_number=YOUNG_ID)
    assert k.post(f"/api/queue/tickets/{t1['id']}/leave", json={}).status_code == 200
    t2 = qh.take(k, id_number=YOUNG_ID)
    assert t2["id"] != t1["id"] and t2["number"] == "A002"


def test_id_number_is_stored_hashed_and_encrypted_never_logged(
    qh: QueueHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """The raw ID appears in no column, log line, or response; the hash and ciphertext do."""
    caplog.set_level(logging.DEBUG)
    k = qh.kiosk()
    t = qh.take(k, id_number=YOUNG_ID)
    with qh.h.ctx.read_db() as s:
        row = s.get(Ticket, t["id"])
        assert row is not None
        assert row.resident_hash == qh.h.ctx.cipher.lookup_hash(YOUNG_ID)
        assert row.resident_enc is not None and YOUNG_ID.encode() not in row.resident_enc
        assert qh.h.ctx.cipher.decrypt(row.resident_enc, context=b"ticket") == YOUNG_ID
    assert YOUNG_ID not in caplog.text


def test_age_seventy_gets_statutory_priority(qh: QueueHarness) -> None:
    """A resident aged ≥70 by the ID's birth date is queued at statutory priority, ahead of earlier normals."""
    k = qh.kiosk()
    normal = qh.take(k)
    elder = qh.take(k, id_number=ELDER_ID)
    assert elder["priority"] == 2 and elder["priority_basis"] == "age70" and normal["priority"] == 3
    assert elder["estimate"]["position"] == 0
    assert k.get(f"/api/queue/tickets/{normal['id']}").json()["estimate"]["position"] == 1


def test_staff_can_issue_with_a_priority_reason_and_it_is_audited(qh: QueueHarness) -> None:
    """Staff-issued tickets may carry a statutory-priority reason; kiosks may not."""
    agent = qh.staff(Role.AGENT)
    r = agent.post(
        "/api/queue/tickets", json={"service_id": qh.services["GOV-DIBAO"], "priority_reason": "disability"}
    )
    assert r.status_code == 201 and r.json()["priority_basis"] == "staff:disability"
    k = qh.kiosk()
    r = k.post(
        "/api/queue/tickets", json={"service_id": qh.services["GOV-DIBAO"], "priority_reason": "disability"}
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"service_id": 99999}, 404, "service_not_found"),
        ({"service_id": 1, "id_number": "110101199001010011"}, 422, "invalid_id_number"),
        ({"service_id": 1, "extra": 1}, 422, "invalid_input"),
        ({}, 422, "invalid_input"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    qh: QueueHarness, body: dict[str, object], status: int, code: str
) -> None:
    """Unknown service, bad ID check digit, unknown fields: 4xx with a code, no ticket, no counter."""
    k = qh.kiosk()
    r = k.post("/api/queue/tickets", json=body)
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert "110101199001010011" not in r.text
    assert _count(qh) == 0
    with qh.h.ctx.read_db() as s:
        assert s.scalar(select(func.count()).select_from(TicketCounter)) == 0


def test_closed_office_and_inactive_service_refuse_numbers(any_qh: QueueHarness) -> None:
    """Intake paused by a supervisor → 409 office_closed; a withdrawn service → 409; nothing issued."""
    k = any_qh.kiosk()
    sup = any_qh.staff(Role.SUPERVISOR)
    r = sup.put("/api/queue/settings", json={"accepting_tickets": False, "closed_reason": "午休"})
    assert r.status_code == 200
    r = k.post("/api/queue/tickets", json={"service_id": any_qh.services["GOV-SSC-APPLY"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "office_closed"
    sup.put("/api/queue/settings", json={"accepting_tickets": True})
    sid = any_qh.services["LIFE-UTILITY"]
    assert any_qh.admin.post(f"/api/catalog/services/{sid}/deactivate").status_code == 200
    r = k.post("/api/queue/tickets", json={"service_id": sid})
    assert r.status_code == 409 and r.json()["error"]["code"] == "service_unavailable"
    assert _count(any_qh) == 0


def test_revoked_kiosk_cannot_take_numbers(qh: QueueHarness) -> None:
    """After revocation the device token is refused (401) and nothing is issued."""
    token = qh.kiosk_token()
    k = qh.h.kiosk_client(token)
    with qh.h.ctx.read_db() as s:
        kiosk_id = s.scalar(select(Kiosk.id).order_by(Kiosk.id.desc()))
    assert qh.admin.post(f"/api/kiosks/{kiosk_id}/revoke").status_code == 200
    r = k.post("/api/queue/tickets", json={"service_id": qh.services["GOV-SSC-APPLY"]})
    assert r.status_code == 401
    assert _count(qh) == 0


def test_kiosk_sees_only_its_own_stations_tickets(qh: QueueHarness) -> None:
    """A kiosk of another station gets 404 for a ticket it did not issue; staff of the office see it."""
    from office.models import Station

    k1 = qh.kiosk()
    t = qh.take(k1)
    with qh.h.ctx.db() as s, s.begin():
        st = Station(office_id=qh.h.office_id, code="ST2", name="第二站")
        s.add(st)
        s.flush()
        other = st.id
    r = qh.admin.post("/api/kiosks", json={"station_id": other, "name": "k2"})
    token = (
        qh.h.client().post("/api/kiosk/enroll", json={"code": r.json()["enrollment_code"]}).json()["token"]
    )
    k2 = qh.h.kiosk_client(token)
    assert k2.get(f"/api/queue/tickets/{t['id']}").status_code == 404
    assert k2.post(f"/api/queue/tickets/{t['id']}/leave", json={}).status_code == 404
    assert qh.staff(Role.AGENT).get(f"/api/queue/tickets/{t['id']}").status_code == 200
