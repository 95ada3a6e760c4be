"""The service catalog: seven categories, ≥30 seeded services with full material lists, admin
changes that version the service and never rewrite what past tickets saw."""

from __future__ import annotations

from typing import Any

from office.models import Role
from office.seed_catalog import SEED_SERVICES, seed_catalog
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh = support.qh

_NEW = {
    "code": "TEST-NEW",
    "category": "legal",
    "name": "测试事项",
    "name_en": "Test item",
    "queue_prefix": "C",
    "time_limit_days": 3,
    "expected_minutes": 12,
    "skill": "legal",
    "materials": [{"name": "居民身份证", "name_en": "ID card", "count": 1, "form": "original"}],
}


def test_seven_categories_and_at_least_30_complete_services(qh: QueueHarness) -> None:
    """Public catalog: the seven categories in order; every service has names in both languages,
    a time limit, minutes, flags, and materials with name, count and original/copy."""
    c = qh.h.client()
    cats = c.get("/api/catalog/categories").json()
    assert [x["name"] for x in cats] == [
        "党群服务",
        "政务服务",
        "生活服务",
        "法律服务",
        "健康服务",
        "文化服务",
        "社区管理",
    ]
    services = c.get("/api/catalog/services").json()
    assert len(services) == len(SEED_SERVICES) >= 30
    assert {s["category"] for s in services} == {x["code"] for x in cats}
    for s in services:
        assert s["name"] and s["name_en"] and s["expected_minutes"] > 0 and s["time_limit_days"] >= 0
        for m in s["materials"]:
            assert (
                m["name"]
                and m["name_en"]
                and m["count"] >= 1
                and m["form"] in ("original", "copy", "original_and_copy")
            )
    assert sum(1 for s in services if s["needs_fingerprint"]) >= 2
    assert sum(1 for s in services if s["needs_appointment"]) >= 3
    dibao = next(s for s in services if s["code"] == "GOV-DIBAO")
    assert dibao["time_limit_days"] == 30 and len(dibao["materials"]) == 5
    assert c.get("/api/catalog/services", params={"category": "legal"}).json()[0]["category"] == "legal"


def test_seeding_is_idempotent(qh: QueueHarness) -> None:
    """Running the seed again creates nothing."""
    assert seed_catalog(qh.h.ctx) == 0


def test_admin_edit_versions_the_service_and_past_tickets_keep_theirs(qh: QueueHarness) -> None:
    """A ticket issued under version 1 still reads version 1's materials after the admin edits them."""
    admin = qh.admin
    sid = qh.services["GOV-HUKOU-PROOF"]
    k = qh.kiosk()
    t = qh.take(k, "GOV-HUKOU-PROOF")
    before: dict[str, Any] = admin.get(f"/api/catalog/services/{sid}").json()
    assert t["service_version"] == before["version"] == 1
    body = {k2: v for k2, v in before.items() if k2 not in ("id", "version", "active", "updated_at")}
    body["materials"] = [
        *body["materials"],
        {"name": "委托书", "name_en": "Power of attorney", "count": 1, "form": "original"},
    ]
    body["expected_minutes"] = 9
    body["name"] = "户籍证明开具（新）"
    r = admin.put(f"/api/catalog/services/{sid}", json=body)
    assert r.status_code == 200 and r.json()["version"] == 2 and len(r.json()["materials"]) == 3
    old = qh.h.client().get(f"/api/catalog/services/{sid}/revisions/{t['service_version']}").json()
    assert (
        old["version"] == 1
        and len(old["definition"]["materials"]) == 2
        and old["definition"]["expected_minutes"] == 6
    )
    seen = k.get(f"/api/queue/tickets/{t['id']}").json()
    assert seen["service_version"] == 1 and seen["service_name"] == "户籍证明开具"
    assert qh.take(k, "GOV-HUKOU-PROOF")["service_name"] == "户籍证明开具（新）"


def test_create_deactivate_and_refusals(qh: QueueHarness) -> None:
    """Admins create and withdraw services; duplicates, unknown categories and non-admins are refused."""
    admin = qh.admin
    r = admin.post("/api/catalog/services", json=_NEW)
    assert r.status_code == 201 and r.json()["version"] == 1
    sid = r.json()["id"]
    assert admin.post("/api/catalog/services", json=_NEW).status_code == 409
    assert (
        admin.post("/api/catalog/services", json={**_NEW, "code": "TEST-X", "category": "nope"}).status_code
        == 422
    )
    assert (
        admin.post("/api/catalog/services", json={**_NEW, "code": "TEST-Y", "queue_prefix": "AB"}).status_code
        == 422
    )
    assert (
        qh.staff(Role.AGENT).post("/api/catalog/services", json={**_NEW, "code": "TEST-Z"}).status_code == 403
    )
    r = admin.post(f"/api/catalog/services/{sid}/deactivate")
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["version"] == 2
    codes = [s["code"] for s in qh.h.client().get("/api/catalog/services").json()]
    assert "TEST-NEW" not in codes
    assert admin.post("/api/catalog/services/999999/activate").status_code == 404
    assert admin.put(f"/api/catalog/services/{sid}", json={**_NEW, "code": "TEST-RENAMED"}).status_code == 422
