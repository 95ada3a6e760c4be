"""The public board snapshot: current and recent calls with windows, waiting counts, station
filter, and nothing personal."""

from __future__ import annotations

from fastapi.testclient import TestClient

from office.models import Station
from tests.office import test_queue_support as support
from tests.office.test_queue_support import ELDER_ID, QueueHarness

qh = support.qh


def _board(q: QueueHarness, **params: int) -> dict[str, object]:
    r = q.h.client().get(f"/api/board/{q.h.office_id}", params=params)
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def _call(agent: TestClient) -> dict[str, object]:
    t: dict[str, object] = agent.post("/api/queue/call-next").json()["ticket"]
    return t


def test_board_shows_calls_windows_and_waiting_counts_without_names(qh: QueueHarness) -> None:
    """Anonymous readers see the number called, its window, recent calls and waiting per service."""
    k = qh.kiosk()
    qh.take(k, "GOV-SSC-APPLY", id_number=ELDER_ID)
    qh.take(k, "GOV-SSC-APPLY")
    qh.take(k, "LIFE-UTILITY")
    empty = _board(qh)
    assert empty["current"] == [] and empty["waiting_total"] == 3
    agent = qh.agent(window=7)
    called = _call(agent)
    board = _board(qh)
    current = board["current"]
    assert isinstance(current, list) and len(current) == 1
    assert current[0]["number"] == called["number"] == "A001" and current[0]["window_no"] == 7
    assert current[0]["service_name"] == "社会保障卡申领"
    assert board["waiting_total"] == 2
    assert {(w["service_name_en"], w["waiting"]) for w in board["waiting"]} == {  # type: ignore[attr-defined]
        ("Social security card application", 1),
        ("Water, power and gas payment or account transfer", 1),
    }
    agent.post(f"/api/queue/tickets/{called['id']}/answer", json={})
    board = _board(qh)
    assert board["current"] == [] and [c["number"] for c in board["recent"]] == ["A001"]  # type: ignore[attr-defined]
    text = str(board)
    assert ELDER_ID not in text and "测试" not in text.replace("测试街道", "").replace("测试服务站", "")


def test_board_station_filter_and_unknown_ids(qh: QueueHarness) -> None:
    """A station board counts only its residents; unknown office or foreign station → 404."""
    k1 = qh.kiosk()
    with qh.h.ctx.db() as s, s.begin():
        st = Station(office_id=qh.h.office_id, code="ST9", name="第九站")
        s.add(st)
        s.flush()
        other = st.id
    k2 = qh.kiosk(other)
    qh.take(k1)
    qh.take(k2)
    qh.take(k2)
    assert _board(qh, station_id=other)["waiting_total"] == 2
    assert _board(qh, station_id=qh.h.station_id)["waiting_total"] == 1
    c = qh.h.client()
    assert c.get("/api/board/999999").status_code == 404
    assert c.get(f"/api/board/{qh.h.office_id}", params={"station_id": 999999}).status_code == 404
