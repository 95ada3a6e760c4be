"""Kiosk uploads and personal-data reads: hostile uploads refused with nothing stored, documents
encrypted at rest, record-level authorization (other office, technician, bystander agent, kiosk of
another call), and audit entries and logs free of the data itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from office.cases.uploads import UploadRejected, sniff_type, validate_upload
from office.models import AuditEvent, CallIdentity, Document, Office, Role
from tests.office.conftest import OfficeHarness, build_harness
from tests.office.test_calls_support import CallRig, build_rig
from tests.office.test_cases_support import (
    CARD,
    LiveCall,
    assert_no_personal_data,
    audit_rows,
    crig,
    jpeg,
    live_call,
    pdf,
    png,
    png_bomb,
)

crig = crig  # the fixture, used by this module's tests


@pytest.fixture
def any_crig(any_harness: OfficeHarness) -> CallRig:
    """A call rig on SQLite and PostgreSQL."""
    return build_rig(any_harness)


@pytest.fixture
def small_rig(sqlite_db: object, clock: object) -> Iterator[CallRig]:
    """A rig whose office limits documents to 20 000 bytes."""
    h = build_harness(sqlite_db, clock, document_max_bytes=20_000)  # type: ignore[arg-type]
    yield build_rig(h)
    for c in h.clients:
        c.__exit__(None, None, None)


def _documents(h: OfficeHarness) -> int:
    with h.ctx.read_db() as s:
        return int(s.scalar(select(func.count()).select_from(Document)) or 0)


# --- the pure validator --------------------------------------------------------------------------


def test_sniffing_trusts_bytes_not_names() -> None:
    """Magic bytes decide: JPEG, PNG, PDF; GIF, HTML, empty are none of them."""
    assert sniff_type(jpeg(8, 8)) == "image/jpeg"
    assert sniff_type(png()) == "image/png"
    assert sniff_type(pdf()) == "application/pdf"
    for other in (b"GIF89a....", b"<html><script>", b"", b"\xff\xd8"):
        assert sniff_type(other) is None


@pytest.mark.parametrize(
    ("data", "ctype", "status", "code"),
    [
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif", 415, "unsupported_type"),
        (b"", "image/jpeg", 415, "unsupported_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/jpeg", 415, "unsupported_type"),
        (png(), "image/jpeg", 415, "type_mismatch"),
        (png_bomb(), "image/png", 422, "decompression_bomb"),
        (png_bomb(8000, 7000), "image/png", 422, "decompression_bomb"),
        (jpeg(320, 240)[:-400], "image/jpeg", 422, "undecodable"),
        (png()[:40], "image/png", 422, "undecodable"),
        (b"%PDF-1.4\n1 0 obj", "application/pdf", 422, "undecodable"),
        (b"\xff\xd8\xff" + b"\x00" * 64, "image/jpeg", 422, "undecodable"),
    ],
)
def test_hostile_bytes_are_refused(data: bytes, ctype: str, status: int, code: str) -> None:
    """Each hostile input maps to one refusal (status, code)."""
    with pytest.raises(UploadRejected) as info:
        validate_upload(data, ctype, max_bytes=1_000_000)
    assert (info.value.status, info.value.code) == (status, code)


def test_valid_images_report_header_dimensions() -> None:
    """Accepted JPEG/PNG/PDF: dimensions from the header, size and sha256."""
    ok = validate_upload(jpeg(320, 200), "image/jpeg; charset=binary", max_bytes=1_000_000)
    assert (ok.mime, ok.width, ok.height) == ("image/jpeg", 320, 200)
    assert validate_upload(png(64, 48), "image/png", max_bytes=1_000_000).width == 64
    assert validate_upload(pdf(), "application/pdf", max_bytes=1_000_000).width == 0
    with pytest.raises(UploadRejected) as info:
        validate_upload(jpeg(320, 200), "image/jpeg", max_bytes=100)
    assert info.value.status == 413


_PREFIXES = [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"%PDF-", jpeg(16, 16)[:200], png()[:33]]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_PREFIXES),
    st.binary(max_size=600),
    st.sampled_from(["image/jpeg", "image/png", "application/pdf", "", "text/html"]),
)
def test_arbitrary_bytes_are_accepted_or_refused_never_crash(prefix: bytes, tail: bytes, ctype: str) -> None:
    """Fuzzed bodies behind real magic bytes: a ValidatedUpload or an UploadRejected, nothing else."""
    refused: UploadRejected | None = None
    try:
        ok = validate_upload(prefix + tail, ctype, max_bytes=100_000)
    except UploadRejected as err:
        refused = err
    if refused is not None:
        assert refused.status in (413, 415, 422)
    else:
        assert ok.mime == ctype and ok.size == len(prefix + tail)


# --- uploads over HTTP ---------------------------------------------------------------------------


def test_upload_stores_encrypted_and_serves_decrypted(any_crig: CallRig) -> None:
    """The stored row is ciphertext (no JPEG bytes in it); the agent gets the exact bytes back."""
    crig = any_crig
    body = jpeg(800, 600)
    with live_call(crig) as lc:
        r = lc.upload(body, request_id="hw-42")
        assert r.status_code == 201, r.text
        meta = r.json()
        assert (meta["width"], meta["height"], meta["bytes"]) == (800, 600, len(body))
        listed = crig.agent.get(f"/api/calls/{lc.call_id}/documents").json()
        assert [(d["document_id"], d["request_id"], d["kind"]) for d in listed] == [
            (meta["document_id"], "hw-42", "page")
        ]
        got = crig.agent.get(f"/api/documents/{meta['document_id']}")
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-type"] == "image/jpeg"
    assert "no-store" in got.headers["cache-control"]
    with crig.h.ctx.read_db() as s:
        row = s.get(Document, meta["document_id"])
        assert row is not None
        assert body[:64] not in row.ciphertext and body[-64:] not in row.ciphertext
    reads = audit_rows(crig.h, "document.read")
    assert [(a.actor_id, a.target_id, a.success) for a in reads] == [
        (str(crig.agent_id), str(meta["document_id"]), True)
    ]


def test_hostile_uploads_over_http_store_nothing_and_log_no_data(
    small_rig: CallRig, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong type 415, oversized 413 (declared and streamed), bomb 422, truncated 422: no rows."""
    caplog.set_level(logging.INFO)
    big = jpeg(1600, 1200)
    assert len(big) > 20_000
    with live_call(small_rig) as lc:
        assert lc.upload(b"GIF89a" + b"\x00" * 100, "image/gif").status_code == 415
        assert lc.upload(png(), "image/jpeg").status_code == 415
        r = lc.upload(big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "document_too_large"

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(big), 4096):
                yield big[i : i + 4096]

        r = small_rig.kiosk.post(
            f"/api/kiosk/calls/{lc.call_id}/documents",
            content=chunks(),
            headers={"Content-Type": "image/jpeg"},
        )
        assert r.status_code == 413
        assert lc.upload(png_bomb(), "image/png").status_code == 422
        assert lc.upload(jpeg(200, 150)[:-300]).status_code == 422
        assert lc.upload(jpeg(20, 20), kind="selfie").status_code == 422
        assert _documents(small_rig.h) == 0
        assert lc.upload(jpeg(20, 20)).status_code == 201
    assert _documents(small_rig.h) == 1
    assert "document upload refused" in caplog.text
    assert "GIF89a" not in caplog.text


def test_identity_upload_is_hashed_encrypted_masked_and_audited(
    any_crig: CallRig, caplog: pytest.LogCaptureFixture
) -> None:
    """The kiosk's identity: stored as hash + ciphertext, answered masked, read masked; no values in audit/logs."""
    crig = any_crig
    caplog.set_level(logging.DEBUG)
    with live_call(crig) as lc:
        out = lc.upload_identity()
        assert out["resident_ref"].startswith("res_")
        assert out["masked"]["name"] == "张**"
        assert out["masked"]["id_number"] == CARD["id_number"][:4] + "*" * 10 + CARD["id_number"][-4:]
        assert out["masked"]["birth_date"] == "1990"
        r = crig.kiosk.post(
            f"/api/kiosk/calls/{lc.call_id}/verifications",
            json={"kind": "fingerprint", "matched": True, "score": 87},
        )
        assert r.status_code == 201, r.text
        panel = crig.agent.get(f"/api/calls/{lc.call_id}/resident").json()
    assert panel["resident_ref"] == out["resident_ref"]
    assert panel["identity"]["name"] == "张**" and panel["identity"]["age"] == 36
    assert [(v["kind"], v["matched"], v["score"]) for v in panel["verifications"]] == [
        ("fingerprint", True, 87)
    ]
    with crig.h.ctx.read_db() as s:
        row = s.scalars(select(CallIdentity)).one()
        assert CARD["name"].encode() not in row.identity_enc
        assert row.resident_hash == crig.h.ctx.cipher.lookup_hash(CARD["id_number"])
        audit_text = " ".join(f"{a.action} {a.target_id} {a.details}" for a in s.scalars(select(AuditEvent)))
    assert {"identity.stored", "verification.recorded", "resident.read"} <= {
        a.action for a in audit_rows(crig.h)
    }
    assert_no_personal_data(audit_text)
    assert_no_personal_data(caplog.text)


def test_resident_lookup_by_id_number_finds_open_cases(
    crig: CallRig, caplog: pytest.LogCaptureFixture
) -> None:
    """Look-up by ID number (keyed hash) lists open cases only; audited without the number."""
    caplog.set_level(logging.DEBUG)
    with live_call(crig) as lc:
        lc.upload_identity()
        r = crig.agent.post(
            "/api/cases", json={"ticket_id": lc.ticket_id, "call_id": lc.call_id, "outcome": "accepted"}
        )
        assert r.status_code == 201, r.text
        crig.agent.post(
            "/api/cases", json={"ticket_id": lc.ticket_id, "call_id": lc.call_id, "outcome": "completed"}
        )
    r = crig.agent.post("/api/residents/lookup", json={"id_number": CARD["id_number"].lower()})
    assert r.status_code == 200
    assert [c["number"] for c in r.json()["open_cases"]] == [r.json()["open_cases"][0]["number"]]
    assert r.json()["open_cases"][0]["state"] == "in_progress"
    assert crig.agent.post("/api/residents/lookup", json={"id_number": "110101199001010999"}).json() == {
        "open_cases": []
    }
    lookups = audit_rows(crig.h, "resident.lookup")
    assert len(lookups) == 2
    assert_no_personal_data(" ".join(str(a.details) for a in lookups) + caplog.text)


# --- authorization -------------------------------------------------------------------------------


def _other_office_staff(rig: CallRig, role: Role) -> object:
    with rig.h.ctx.db() as s, s.begin():
        office = Office(code=f"X{role.value[:3]}", name="别的街道")
        s.add(office)
        s.flush()
        oid = office.id
    return rig.qh.staff(role, rig.qh.new_user(role, oid))


def test_record_level_authorization_matrix(crig: CallRig) -> None:
    """Other office → 404 + audited refusal; bystander agent → 403 + audited; technician → 403; supervisor ok."""
    with live_call(crig) as lc:
        lc.upload_identity()
        doc = lc.upload(jpeg()).json()["document_id"]
        outsider = _other_office_staff(crig, Role.SUPERVISOR)
        bystander = crig.qh.staff(Role.AGENT)
        tech = crig.qh.staff(Role.TECHNICIAN)
        sup = crig.qh.staff(Role.SUPERVISOR)
        paths = [
            f"/api/documents/{doc}",
            f"/api/calls/{lc.call_id}/documents",
            f"/api/calls/{lc.call_id}/resident",
        ]
        for path in paths:
            assert outsider.get(path).status_code == 404, path  # type: ignore[attr-defined]
            assert bystander.get(path).status_code == 403, path
            r = tech.get(path)
            assert r.status_code == 403 and r.json()["error"]["code"] == "access_denied"
            assert sup.get(path).status_code == 200, path
        assert outsider.get("/api/documents/999999").status_code == 404  # type: ignore[attr-defined]
    refused = [a for a in audit_rows(crig.h) if not a.success]
    assert sorted((a.action, a.details["refused"]) for a in refused) == sorted(
        [
            ("document.read", "other_office"),
            ("documents.list", "other_office"),
            ("resident.read", "other_office"),
            ("document.read", "no_need"),
            ("documents.list", "no_need"),
            ("resident.read", "no_need"),
            ("document.read", "other_office"),
        ]
    )


def test_kiosk_of_another_call_and_ended_calls_are_refused(crig: CallRig) -> None:
    """Another kiosk cannot upload to this call (404); after the call ends the kiosk cannot either (409)."""
    other = crig.qh.kiosk()
    with live_call(crig) as lc:
        path = f"/api/kiosk/calls/{lc.call_id}"
        assert other.post(f"{path}/identity", json=CARD).status_code == 404
        r = other.post(f"{path}/documents", content=jpeg(), headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 404
        assert (
            other.post(
                f"{path}/verifications", json={"kind": "fingerprint", "matched": True, "score": 1}
            ).status_code
            == 404
        )
        assert crig.agent.post(f"/api/kiosk/calls/{lc.call_id}/identity", json=CARD).status_code == 403
        _end(lc)
        assert crig.kiosk.post(f"{path}/identity", json=CARD).status_code == 409
        r = crig.kiosk.post(f"{path}/documents", content=jpeg(), headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 409
    assert _documents(crig.h) == 0


def _end(lc: LiveCall) -> None:
    from tests.office.test_calls_support import expect, send

    send(lc.aws, {"type": "call.end", "call_id": lc.call_id, "reason": "done"})
    expect(lc.kws, "call.end", call_id=lc.call_id)
    # The relay forwards call.end before the office has recorded the end; call.state ended follows it.
    expect(lc.kws, "call.state", call_id=lc.call_id, state="ended")


def test_malformed_identity_is_refused_without_echoing_or_storing(
    crig: CallRig, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad JSON, a bad date or a bad number: 422 naming the fields, never the values; nothing stored."""
    caplog.set_level(logging.DEBUG)
    with live_call(crig) as lc:
        path = f"/api/kiosk/calls/{lc.call_id}/identity"
        bad_number = {**CARD, "id_number": CARD["id_number"] + "<script>"}
        bad_date = {**CARD, "birth_date": "1990-13-45"}
        for body in (bad_number, bad_date, {**CARD, "extra": CARD["name"]}):
            r = crig.kiosk.post(path, json=body)
            assert r.status_code == 422, r.text
            assert_no_personal_data(r.text)
        r = crig.kiosk.post(
            path,
            content=b'{"name": "' + CARD["name"].encode() + b'", ',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422 and CARD["name"] not in r.text
    with crig.h.ctx.read_db() as s:
        assert s.scalars(select(CallIdentity)).first() is None
    assert_no_personal_data(caplog.text)
