"""The resident UI server and journey in process: the real office app (ASGI), simulated devices,
the page's WebSocket through Starlette's TestClient; headers, masking, consent, wipes, outages."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from kiosk.config import KioskSettings, TokenStore
from kiosk.devices import DeviceService
from kiosk.enroll import enroll
from kiosk.journey import FALLBACK_REASONS, Journey
from kiosk.launcher import chromium_command
from kiosk.office_client import OfficeClient
from kiosk.session import SCREENS, State
from kiosk.ui_video import BOUNDARY, FrameTap, Speaker
from kiosk.voice import CATALOG_DIR, VoicePrompts
from kiosk.web import create_app
from office.models import Role
from office.seed_catalog import seed_catalog
from signaling.messages import HwAction, HwRequest
from tests.conftest import TestDatabase
from tests.office.conftest import OfficeHarness, build_harness

CARD_ID = "310101198001010018"


class Clock:
    """A hand-moved monotonic clock for the journey's inactivity limits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def office(sqlite_db: TestDatabase, clock: object) -> Iterator[OfficeHarness]:
    """An in-process office on SQLite with one station and the seeded catalog."""
    h = build_harness(sqlite_db, clock)  # type: ignore[arg-type]
    seed_catalog(h.app.state.ctx)
    yield h
    for c in h.clients:
        c.__exit__(None, None, None)


async def _aclient(office: OfficeHarness, tmp_path: Path) -> OfficeClient:
    """An enrolled kiosk's office client, wired to the in-process office."""
    admin = office.login(Role.ADMIN)
    code = admin.post("/api/kiosks", json={"station_id": office.station_id, "name": "k"}).json()[
        "enrollment_code"
    ]
    settings = KioskSettings(office_url="http://office.test", state_dir=tmp_path / "state")
    transport = httpx.ASGITransport(app=office.app)
    await enroll(settings, code, transport=transport)
    token = TokenStore(settings.state_dir).load()
    return OfficeClient("http://office.test", token, transport=transport, attempts=1)


def _client(office: OfficeHarness, tmp_path: Path) -> OfficeClient:
    return asyncio.run(_aclient(office, tmp_path))


def _ui(office_client: OfficeClient, tmp_path: Path, **kwargs: Any) -> tuple[TestClient, Journey, Clock]:
    devices = DeviceService(
        {
            "idcard": "sim://idcard?card=resident-male",
            "printer": f"sim://printer?preview_dir={tmp_path / 'slips'}",
        }
    )
    clock = Clock()
    (tmp_path / "tmp").mkdir(exist_ok=True)
    journey = Journey(office_client, devices, clock=clock, temp_dir=tmp_path / "tmp", **kwargs)
    settings = KioskSettings(state_dir=tmp_path / "state")
    app = create_app(None, settings, journey=journey, voice=VoicePrompts(tmp_path / "voice"))
    return TestClient(app, base_url="http://127.0.0.1:8100"), journey, clock


def _until(ws: Any, pred: Any, limit: int = 40) -> dict[str, Any]:
    for _ in range(limit):
        msg = json.loads(ws.receive_text())
        if pred(msg["view"]):
            return dict(msg["view"])
    raise AssertionError("view never matched")


def test_a_resident_takes_a_number_over_the_websocket(office: OfficeHarness, tmp_path: Path) -> None:
    """start → category → service → consent → card → number: views in order, identity masked in every
    view, the ticket printed, the number bound to the card; personal responses are no-store."""
    oc = _client(office, tmp_path)
    ui, journey, _ = _ui(oc, tmp_path)
    pushed: list[str] = []
    with ui, ui.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        _until(ws, lambda v: v["state"] == "idle" and v["catalog_ready"])
        services = ui.get("/api/catalog").json()["services"]
        svc = next(s for s in services if s["code"] == "GOV-SSC-APPLY")
        for op in (
            {"op": "start", "lang": "zh-CN", "elder": True},
            {"op": "category", "code": "government"},
            {"op": "service", "id": svc["id"]},
            {"op": "identify"},
            {"op": "read_card"},
        ):
            ws.send_text(json.dumps(op))
        view = _until(ws, lambda v: v["state"] == "identified")
        assert view["identity"] == {"name": "张**", "id_number": "3101**********0018"}
        assert view["elder"] is True and view["service"]["code"] == "GOV-SSC-APPLY"
        ws.send_text(json.dumps({"op": "take_number"}))
        view = _until(ws, lambda v: v["state"] == "ticketed" and v["busy"] is None, limit=80)
        pushed.append(json.dumps(view, ensure_ascii=False))
        ticket_id = view["ticket"]["id"]
        assert view["ticket"]["number"].startswith("A") and view["ticket"]["ahead"] == 0
        assert view["message"] == {"kind": "info", "key": "printed.ticket"}
        assert journey.session.data.id_number == CARD_ID  # held in memory for binding only
        for path in ("/", "/api/catalog", "/healthz", "/ui/kiosk.js", "/ui/i18n/zh-CN.json"):
            r = ui.get(path)
            assert r.status_code == 200, path
            assert r.headers["cache-control"] == "no-store"
            assert "script-src 'self'" in r.headers["content-security-policy"]
    asyncio.run(oc.aclose())
    asyncio.run(journey.devices.close())
    assert all(CARD_ID not in text and "张示例" not in text for text in pushed)
    assert len(list((tmp_path / "slips").glob("job-*.png"))) == 1
    with office.app.state.ctx.read_db() as s:
        from office.models import Ticket

        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.resident_hash is not None


def test_the_websocket_refuses_other_origins(office: OfficeHarness, tmp_path: Path) -> None:
    """A page from another origin cannot drive the kiosk."""
    oc = _client(office, tmp_path)
    ui, _, _ = _ui(oc, tmp_path)
    with (
        ui,
        pytest.raises(WebSocketDisconnect) as info,
        ui.websocket_connect("/ws", headers={"origin": "http://evil.test"}),
    ):
        pass
    assert info.value.code == 1008
    asyncio.run(oc.aclose())


async def test_inactivity_wipes_identity_files_and_the_agent_frame(
    office: OfficeHarness, tmp_path: Path
) -> None:
    """No touch for the identified limit: idle, nothing personal in the view, temp files and the
    last video frame gone, the wipe counted (the page clears itself on it)."""
    oc = await _aclient(office, tmp_path)
    tap = FrameTap()
    devices = DeviceService({"idcard": "sim://idcard?card=resident-male"})
    clock = Clock()
    (tmp_path / "tmp").mkdir()
    journey = Journey(oc, devices, clock=clock, temp_dir=tmp_path / "tmp", agent_video=tap)
    await journey.dispatch({"op": "start"})
    await journey.dispatch({"op": "identify"})
    await journey.dispatch({"op": "read_card"})
    assert journey.session.state is State.IDENTIFIED
    (tmp_path / "tmp" / "scan.jpg").write_bytes(b"x")
    tap.offer(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24"))
    assert tap.jpeg() is not None
    wipes = journey.wipes
    journey.busy = "ticket"  # the kiosk waits for the office: the resident is not inactive
    clock.now += 500
    await journey.tick()
    assert journey.session.state is State.IDENTIFIED
    journey.busy = None
    clock.now += 119
    await journey.tick()
    assert journey.session.state is State.IDENTIFIED
    clock.now += 1
    await journey.tick()
    view = journey.view()
    assert view["state"] == "idle" and view["identity"] is None and view["service"] is None
    assert journey.session.data.id_number is None and not journey.session.data.holds_personal_data()
    assert journey.wipes == wipes + 1
    assert list((tmp_path / "tmp").iterdir()) == []
    assert tap.jpeg() is None
    await devices.close()
    await oc.aclose()


async def test_consent_granted_refused_and_unanswered(office: OfficeHarness, tmp_path: Path) -> None:
    """The consent hook shows the request and returns the resident's answer; silence is a refusal,
    and outside a call nothing is read."""
    oc = await _aclient(office, tmp_path)
    journey = Journey(oc, DeviceService({}), consent_timeout=0.2)
    request = HwRequest(call_id="c1", request_id="r1", action=HwAction.READ_ID_CARD, params={})
    assert await journey.consent(request) is False  # not in a call
    journey.session.state = State.WAITING
    journey.on_call("c1")
    assert journey.session.state is State.IN_CALL
    for granted in (True, False):
        task = asyncio.create_task(journey.consent(request))
        await asyncio.sleep(0)
        assert journey.view()["hw"]["phase"] == "consent"
        assert journey.prompt == "prompt.hw.read_id_card.consent"
        await journey.dispatch({"op": "consent", "request_id": "r1", "granted": granted})
        assert await task is granted
    assert await journey.consent(request) is False  # nobody answered within the limit
    assert journey.view()["hw"]["phase"] == "refused"
    journey.on_call(None)
    assert journey.view()["state"] == "rating"
    await oc.aclose()


async def test_office_outage_is_shown_retried_and_recovered(tmp_path: Path) -> None:
    """Unreachable office: a degraded view (and a technician alert), automatic retry, recovery."""
    up = False

    def handler(request: httpx.Request) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("down", request=request)
        if request.url.path == "/api/kiosk/rating-reasons":
            return httpx.Response(404, json={"error": {"code": "not_found"}})
        return httpx.Response(200, json=[])

    oc = OfficeClient("http://office.test", "t", transport=httpx.MockTransport(handler), attempts=1)
    journey = Journey(oc, DeviceService({}), retry_interval=0.05, poll_interval=0.05)
    changed = asyncio.Event()
    journey.listeners.add(lambda _: changed.set())

    async def until_degraded(expected: bool) -> None:
        async with asyncio.timeout(5):
            while (journey.view()["degraded"] is not None) != expected:
                changed.clear()
                await changed.wait()

    await journey.start()
    try:
        await until_degraded(True)
        assert journey.view()["degraded"]["office"] is True
        assert "office_unreachable" in journey.alerts
        up = True
        await until_degraded(False)
        assert journey.reasons == list(FALLBACK_REASONS)  # no reasons endpoint: the built-in list
    finally:
        await journey.close()
        await oc.aclose()


def test_a_failing_reader_allows_typing_the_id_number() -> None:
    """A health report with the ID-card reader down: degraded, and typing is offered even for
    services that otherwise need the card."""
    oc = OfficeClient("http://office.test", "t", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    journey = Journey(oc, DeviceService({}))
    journey.service = {"id": 1, "needs_id_card": True}
    assert journey.view()["typing_allowed"] is False
    journey.set_device_health(
        {"idcard": {"ok": False, "error": "DeviceFault"}, "printer": {"health": {"ok": True}}}
    )
    view = journey.view()
    assert view["typing_allowed"] is True
    assert view["degraded"] == {
        "office": False,
        "devices": ["idcard"],
        "works": ["take_number", "book", "type_id"],
    }
    assert "device_failing:idcard" in journey.alerts


async def test_ratings_endpoint_missing_is_graceful_and_409_counts_as_rated() -> None:
    """C4: 404 from an office without ratings → None (kept local); 409 already_rated → raised."""
    answers = iter(
        [
            httpx.Response(404, json={"error": {"code": "not_found"}}),
            httpx.Response(409, json={"error": {"code": "already_rated"}}),
            httpx.Response(201, json={"rating_id": 7, "follow_up": True}),
        ]
    )
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return next(answers)

    async with OfficeClient("http://o.test", "t", transport=httpx.MockTransport(handler)) as oc:
        assert await oc.rate(5, 2, ["slow"], content_version="2026.1", call_id="c") is None
        from kiosk.office_client import OfficeError

        with pytest.raises(OfficeError) as info:
            await oc.rate(5, 2, ["slow"], content_version="2026.1")
        assert info.value.code == "already_rated"
        assert await oc.rate(5, 1, ["attitude"], content_version="2026.1") == {
            "rating_id": 7,
            "follow_up": True,
        }
    assert seen[0] == {
        "ticket_id": 5,
        "level": 2,
        "reasons": ["slow"],
        "content_version": "2026.1",
        "call_id": "c",
    }


async def test_frame_tap_streams_the_latest_frame_as_mjpeg() -> None:
    """Frames offered to the tap come out as multipart JPEG parts, newest first, without queueing."""
    tap = FrameTap()
    image = np.zeros((240, 320, 3), np.uint8)
    image[:, :160] = 255
    tap.offer(av.VideoFrame.from_ndarray(image, format="bgr24"))
    stream = tap.mjpeg(idle_timeout=0.05)
    part = await anext(stream)
    assert part.startswith(f"--{BOUNDARY}\r\nContent-Type: image/jpeg".encode())
    jpeg = part.split(b"\r\n\r\n", 1)[1]
    assert jpeg[:2] == b"\xff\xd8"
    for _ in range(5):
        tap.offer(av.VideoFrame.from_ndarray(image, format="bgr24"))
    seq = tap.seq
    await anext(stream)
    assert tap._jpeg is not None and tap._jpeg[0] == seq  # only the newest frame was encoded
    await stream.aclose()


def test_speaker_writes_received_audio_to_its_sink(tmp_path: Path) -> None:
    """The agent's audio frames are resampled to 48 kHz stereo s16 and written to the sink."""
    speaker = Speaker(f"file:{tmp_path / 'out.raw'}")
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
    frame.sample_rate = 48000
    for _ in range(5):
        speaker.offer(frame)
    speaker.close()
    assert speaker.bytes_played > 0 and (tmp_path / "out.raw").stat().st_size == speaker.bytes_played


async def test_voice_prompts_are_generated_once_and_cached(tmp_path: Path) -> None:
    """espeak-ng speaks a catalog prompt into a WAV, cached by text; unknown keys have no audio."""
    voice = VoicePrompts(tmp_path)
    assert voice.espeak is not None, "espeak-ng is missing: run scripts/system-deps.sh"
    path = await voice.wav("prompt.welcome", "zh-CN")
    assert path is not None and path.read_bytes()[:4] == b"RIFF"
    stamp = path.stat().st_mtime_ns
    assert await voice.wav("prompt.welcome", "zh-CN") == path and path.stat().st_mtime_ns == stamp
    assert await voice.wav("welcome.title", "zh-CN") is None  # not a voice prompt
    assert await voice.wav("prompt.nope", "en") is None


def test_catalogs_cover_every_prompt_and_both_languages() -> None:
    """zh-CN and en have the same keys; every screen's prompt and every hardware prompt exists."""
    zh = json.loads((CATALOG_DIR / "zh-CN.json").read_text(encoding="utf-8"))
    en = json.loads((CATALOG_DIR / "en.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en)
    wanted = {prompt for _, prompt in SCREENS.values()}
    for action in ("read_id_card", "capture_document", "verify_fingerprint", "generic"):
        wanted |= {f"prompt.hw.{action}.consent", f"prompt.hw.{action}.working"}
        wanted |= {f"hw.{action}.consent", f"hw.{action}.working"}
    wanted |= {
        "prompt.hw_done",
        "prompt.hw_failed",
        "prompt.place_card",
        "prompt.type_id",
        "prompt.materials",
    }
    assert wanted <= set(zh)
    for level in range(1, 6):
        assert f"rating.level.{level}" in zh
    assert zh["rating.level.5"] == "非常满意" and zh["rating.level.1"] == "非常不满意"


def test_launcher_runs_chromium_in_kiosk_mode_with_a_throwaway_profile(tmp_path: Path) -> None:
    """`doorstep kiosk launch --dry-run` prints the kiosk-mode command on the UI's URL."""
    settings = KioskSettings(ui_port=8123, state_dir=tmp_path)
    cmd = chromium_command(settings, "/tmp/profile")
    assert cmd[0] == "chromium" and "--kiosk" in cmd and "--incognito" in cmd
    assert "--app=http://127.0.0.1:8123/" in cmd and "--user-data-dir=/tmp/profile" in cmd
    out = subprocess.run(
        [sys.executable, "-m", "doorstep.cli", "kiosk", "launch", "--dry-run"],
        env={"KIOSK_UI_PORT": "8124", "KIOSK_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--kiosk" in out.stdout and "http://127.0.0.1:8124/" in out.stdout
