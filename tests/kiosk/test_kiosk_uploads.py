"""The kiosk uploads what its devices read (contract C1): a kiosk runtime with the simulated ID card,
document camera and fingerprint scanner serves a headless agent through a real office process; the
identity, the stills and the verification land in the office's database, encrypted; an upload
failure keeps the result and says so."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from agent_console.headless import HeadlessAgent
from hardware.idcard.fixtures import CARD_FIXTURES
from kiosk.config import KioskSettings, TokenStore
from kiosk.devices import DeviceService, auto_grant
from kiosk.enroll import enroll
from kiosk.media import SyntheticVideoTrack, ToneAudioTrack
from kiosk.office_client import OfficeClient
from kiosk.runtime import KioskRuntime
from office import enrollment
from office.audit import Actor
from office.models import AuditEvent, CallIdentity, Document, Role, Service, Verification
from signaling.client import SignalingClient
from signaling.messages import HwAction, HwOutcome, HwRequest
from signaling.messages import Role as SignalingRole
from tests.conftest import TestDatabase
from tests.e2e.conftest import LiveOffice
from tests.e2e.stations import start_seeded_office
from tests.kiosk.conftest import FAST, headless_agent, kiosk_runtime
from tests.kiosk.relay import Relay

pytestmark = pytest.mark.e2e

CARD = CARD_FIXTURES["resident-male"].values
DEVICES = {
    "idcard": "sim://idcard?card=resident-male",
    "document_camera": "sim://document_camera?width=1600&height=1200",
    "fingerprint": "sim://fingerprint?finger=resident-1&enrolled=resident-1@3&latency=0",
}


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """``doorstep office run`` on SQLite with one station and the seeded catalog."""
    live = start_seeded_office(sqlite_db, tmp_path)
    yield live
    live.stop()


@pytest.fixture
async def kiosk(office: LiveOffice, tmp_path: Path) -> AsyncIterator[tuple[KioskRuntime, OfficeClient]]:
    """An enrolled kiosk with three simulated devices, uploading through its office client."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "t")
    ).code
    settings = KioskSettings(office_url=office.url, state_dir=tmp_path / "kiosk")
    await enroll(settings, code)
    token = TokenStore(settings.state_dir).load()
    assert token is not None
    client = OfficeClient(settings.office_url, token)
    runtime = KioskRuntime(
        SignalingClient(
            settings.signaling_url(), SignalingRole.KIOSK, headers={"Authorization": f"Bearer {token}"}
        ),
        DeviceService(DEVICES, consent=auto_grant),
        lambda: [SyntheticVideoTrack(320, 240, 15), ToneAudioTrack()],
        peer_settings=FAST,
        report_call=client.report_call,
        uploads=client,
    )
    async with client, runtime:
        yield runtime, client


async def test_identity_documents_and_verification_land_in_the_office_encrypted(
    office: LiveOffice, kiosk: tuple[KioskRuntime, OfficeClient]
) -> None:
    """read_id_card → resident_ref; capture_document → document_ids; verify_fingerprint → recorded."""
    runtime, kiosk_client = kiosk
    password = office.add_user("agent1", Role.AGENT)
    agent = await HeadlessAgent.login(office.url, "agent1", password, heartbeat_interval=0.5)
    async with agent:
        await agent.set_available()
        with office.ctx.read_db() as s:
            service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
        assert service_id is not None
        ticket = await kiosk_client.issue_ticket(service_id, idempotency_key=uuid.uuid4().hex)
        assert (await agent.call_next()) is not None
        call_id = (await agent.start_call(ticket["id"]))["id"]
        await agent.wait_for(
            lambda: runtime.call is not None and runtime.call.reported_state == "connected", within=15
        )

        card = await agent.request_hw(HwAction.READ_ID_CARD, within=15)
        assert card.outcome is HwOutcome.OK and card.data is not None
        ref = card.data["resident_ref"]
        assert isinstance(ref, str) and ref.startswith("res_")
        assert CARD["name"] not in json.dumps(card.data, ensure_ascii=False)

        still = await agent.request_hw(HwAction.CAPTURE_DOCUMENT, {"require_quality": False}, within=20)
        assert still.outcome is HwOutcome.OK and still.data is not None
        doc_ids = still.data["document_ids"]
        assert isinstance(doc_ids, list) and len(doc_ids) == len(still.data["transfers"])  # type: ignore[arg-type]

        finger = await agent.request_hw(HwAction.VERIFY_FINGERPRINT, {"slot": 3}, within=15)
        assert finger.outcome is HwOutcome.OK and "upload" not in (finger.data or {})

        assert agent.http is not None
        panel = (await agent.http.get(f"/api/calls/{call_id}/resident")).json()
        assert panel["resident_ref"] == ref and panel["identity"]["id_number"] == "3101**********0018"
        assert [(v["kind"], v["matched"]) for v in panel["verifications"]] == [("fingerprint", True)]
        first = await agent.http.get(f"/api/documents/{doc_ids[0]}")
        assert first.status_code == 200 and first.content[:3] == b"\xff\xd8\xff"
        transfer = still.data["transfers"][0]  # type: ignore[index]
        assert first.content == agent.blobs[transfer["transfer_id"]]  # type: ignore[index,call-overload]
        await agent.hang_up("completed")

    with office.ctx.read_db() as s:
        identity = s.scalars(select(CallIdentity)).one()
        assert identity.call_id == call_id and CARD["name"].encode() not in identity.identity_enc
        docs = list(s.scalars(select(Document).order_by(Document.id)))
        assert [d.id for d in docs] == doc_ids and {d.kind for d in docs} <= {"page", "straightened"}
        assert all(d.request_id == still.request_id and d.ciphertext[:3] != b"\xff\xd8\xff" for d in docs)
        assert s.scalars(select(Verification)).one().matched is True
        actions = [a.action for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        audit_text = " ".join(str(a.details) + a.target_id for a in s.scalars(select(AuditEvent)))
    assert {
        "identity.stored",
        "document.stored",
        "verification.recorded",
        "resident.read",
        "document.read",
    } <= set(actions)
    for value in (CARD["id_number"], CARD["name"], CARD["address"]):
        assert value not in audit_text
        assert value not in office.logs()


async def test_an_upload_failure_keeps_the_result(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    """The office is unreachable: the agent still gets the masked card, marked "upload": "failed"."""
    caplog.set_level(logging.DEBUG)
    unreachable = OfficeClient("http://127.0.0.1:9", "dk_test", attempts=1, timeout=2.0)
    kiosk = kiosk_runtime(relay, uploads=unreachable)
    agent = headless_agent(relay)
    async with unreachable, kiosk, agent:
        await relay.start_call()
        await agent.wait_for(
            lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= 5, within=10
        )
        result = await agent.request_hw(HwAction.READ_ID_CARD, within=10)
        still = await agent.request_hw(HwAction.CAPTURE_DOCUMENT, {"require_quality": False}, within=15)
    assert result.outcome is HwOutcome.OK and result.data is not None
    assert result.data["upload"] == "failed" and "resident_ref" not in result.data
    assert result.data["id_number"] == "3101**********0018"
    assert still.outcome is HwOutcome.OK and still.data is not None and still.data["upload"] == "failed"
    assert still.data["transfers"]  # the instant preview still went over the data channel
    assert "upload to the office failed" in caplog.text
    assert CARD["id_number"] not in caplog.text and CARD["name"] not in caplog.text


async def test_the_unmasked_card_stays_out_of_the_result_data_and_repr() -> None:
    """read_id_card: the upload gets every unmasked field; ``data`` and ``repr`` stay masked."""
    devices = DeviceService({"idcard": DEVICES["idcard"]}, consent=auto_grant)

    async def progress(_stage: str) -> None:
        return None

    try:
        request = HwRequest(call_id="call-1", request_id="hw-1", action=HwAction.READ_ID_CARD, params={})
        result = await devices.handle(request, progress)
    finally:
        await devices.close()
    assert result.outcome is HwOutcome.OK and result.identity is not None
    assert result.identity["id_number"] == CARD["id_number"] and result.identity["name"] == CARD["name"]
    assert set(result.identity) == {
        "name",
        "sex",
        "nation",
        "birth_date",
        "address",
        "id_number",
        "issuer",
        "valid_from",
        "valid_to",
        "card_type",
    }
    for value in (CARD["id_number"], CARD["name"], CARD["address"]):
        assert value not in repr(result)
        assert value not in json.dumps(result.data, ensure_ascii=False)
