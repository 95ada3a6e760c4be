"""The live document-camera view: the feed and its track switching idle ↔ live, the device service's
live start/stop (consent, device failure, call end), the needs-materials notice, and a peer
connection carrying it as a second video m-line with frames flowing on both videos."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from starlette.testclient import TestClient

from kiosk.config import KioskSettings
from kiosk.devices import DeviceService, auto_grant, auto_refuse, notice_lines
from kiosk.document_live import DocumentFeed, DocumentVideoTrack, idle_frame
from kiosk.journey import Journey
from kiosk.media import FrameCounter, SyntheticVideoTrack, ToneAudioTrack, drain
from kiosk.office_client import OfficeClient
from kiosk.peer import CallPeer, PeerSettings
from kiosk.session import State
from kiosk.ui_video import FrameTap
from kiosk.voice import VoicePrompts
from kiosk.web import create_app
from signaling.messages import HwAction, HwOutcome, HwRequest
from tests.conftest import TIMEOUT

DOC_URL = "sim://document_camera?width=640&height=480&fps=30"


def _request(action: HwAction, params: dict[str, str | int | float | bool] | None = None) -> HwRequest:
    return HwRequest(call_id="c1", request_id=f"r-{action.value}", action=action, params=params or {})


async def _handle(service: DeviceService, request: HwRequest) -> tuple[list[str], Any]:
    stages: list[str] = []

    async def progress(stage: str) -> None:
        stages.append(stage)

    return stages, await service.handle(request, progress)


async def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _is_idle(frame: Any, feed: DocumentFeed) -> bool:
    image = frame.to_ndarray(format="bgr24")
    return image.shape[:2] == feed.idle_size[::-1] and bool(
        np.array_equal(image, idle_frame(*feed.idle_size))
    )


def test_idle_frame_is_dark_with_a_marker() -> None:
    """The idle frame is mostly dark but carries drawn text (the 文档摄像头未开启 marker)."""
    image = idle_frame(640, 480)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    assert float(image.mean()) < 60
    assert int((image > 150).sum()) > 500  # the light marker text is there


async def test_track_sends_idle_frames_then_live_frames_then_idle_again() -> None:
    """Off: the idle frame at the idle rate; started: the camera's (scaled) frames; stopped: idle again
    and the resident's view forgets the picture. Live frames are also shown to the feed's view."""
    feed = DocumentFeed(fps=30, max_width=320, idle_period=0.05)
    track = DocumentVideoTrack(feed, poll=0.01)
    reads = 0

    def read() -> Any:
        nonlocal reads
        reads += 1
        time.sleep(0.005)
        image = np.full((480, 640, 3), 200, dtype=np.uint8)
        image[0, 0, 0] = reads % 256
        return image

    try:
        first = await track.recv()
        assert _is_idle(first, feed) and track.idle_frames == 1
        await asyncio.to_thread(feed.start, read)
        assert feed.live
        live = [await track.recv() for _ in range(3)]
        assert all(f.width == 320 and f.height == 240 for f in live)
        assert track.live_frames == 3 and feed.view.has_frame
        stamps = [int(f.pts or 0) for f in live]
        assert stamps == sorted(set(stamps))  # strictly increasing
        assert await asyncio.to_thread(feed.stop) is True
        assert not feed.live and not feed.view.has_frame
        settled = reads
        again = await track.recv()
        assert _is_idle(again, feed) and again.pts > live[-1].pts
        await asyncio.sleep(0.05)
        assert reads <= settled + 1  # the capture thread is gone: the camera is released
    finally:
        track.stop()
        await asyncio.to_thread(feed.stop)


async def test_a_failing_camera_falls_back_to_idle_with_its_fault_named() -> None:
    """Reads that keep failing stop the live view by itself; the track goes back to the idle frame."""
    feed = DocumentFeed(fps=30, max_width=320, idle_period=0.05, max_failures=2, retry_delay=0.01)
    track = DocumentVideoTrack(feed, poll=0.01)

    def broken() -> Any:
        raise ConnectionError("unplugged")

    try:
        await asyncio.to_thread(feed.start, broken)
        await _until(lambda: not feed.live, "the feed to give up")
        assert feed.fault == "ConnectionError"
        assert _is_idle(await track.recv(), feed)
    finally:
        track.stop()
        await asyncio.to_thread(feed.stop)


async def test_live_start_asks_consent_then_goes_live_and_stop_releases_without_asking() -> None:
    """document_live_start: consent first, then live with its frame size; document_live_stop answers ok
    at once (no consent, never busy) and the feed is idle again."""
    asked: list[HwAction] = []

    async def consent(request: HwRequest) -> bool:
        asked.append(request.action)
        return True

    service = DeviceService(
        {"document_camera": DOC_URL}, consent=consent, document=DocumentFeed(max_width=320)
    )
    try:
        stages, result = await _handle(service, _request(HwAction.DOCUMENT_LIVE_START))
        assert stages == ["awaiting_consent", "consent_given", "reading"]
        assert result.outcome is HwOutcome.OK
        assert result.data == {"live": True, "width": 320, "height": 240, "fps": 12.0}
        assert service.document.live
        stages, result = await _handle(service, _request(HwAction.DOCUMENT_LIVE_STOP))
        assert (stages, result.outcome, result.data) == ([], HwOutcome.OK, {"live": False, "was_live": True})
        assert asked == [HwAction.DOCUMENT_LIVE_START]
        assert not service.document.live
    finally:
        await service.close()


async def test_live_start_refused_or_with_a_broken_camera_stays_idle() -> None:
    """Consent refused: nothing opened, no live view. An absent camera: failed device_unavailable."""
    refused = DeviceService({"document_camera": DOC_URL}, consent=auto_refuse)
    try:
        _, result = await _handle(refused, _request(HwAction.DOCUMENT_LIVE_START))
        assert result.outcome is HwOutcome.CONSENT_REFUSED
        assert not refused.document.live and refused._devices == {}
    finally:
        await refused.close()
    absent = DeviceService({"document_camera": DOC_URL + "&fault=absent"}, consent=auto_grant)
    try:
        _, result = await _handle(absent, _request(HwAction.DOCUMENT_LIVE_START))
        assert (result.outcome, result.error) == (HwOutcome.FAILED, "device_unavailable")
        assert not absent.document.live
    finally:
        await absent.close()
    unplugged = DeviceService({"document_camera": DOC_URL + "&fault=unplug"}, consent=auto_grant)
    try:
        _, result = await _handle(unplugged, _request(HwAction.DOCUMENT_LIVE_START))
        assert (result.outcome, result.error) == (HwOutcome.FAILED, "device_unavailable")
        assert not unplugged.document.live
    finally:
        await unplugged.close()


async def test_a_still_can_be_captured_while_live_and_the_call_end_turns_the_view_off() -> None:
    """While live, capture_document still works (the device serialises reads); end_call stops the view."""
    service = DeviceService(
        {"document_camera": DOC_URL}, consent=auto_grant, document=DocumentFeed(max_width=320)
    )
    try:
        _, started = await _handle(service, _request(HwAction.DOCUMENT_LIVE_START))
        assert started.outcome is HwOutcome.OK
        _, still = await _handle(service, _request(HwAction.CAPTURE_DOCUMENT, {"require_quality": False}))
        assert still.outcome is HwOutcome.OK and still.data["width"] == 640
        assert service.document.live
        await service.end_call()
        assert not service.document.live
    finally:
        await service.close()


NOTICE = {
    "service": "社会保障卡挂失补换",
    "reference": "BJ20261207-0001",
    "m1": "1|original|近期一寸免冠彩色照片",
    "m2": "2|copy|原社会保障卡",
}


def test_notice_lines_read_count_form_and_name_and_refuse_anything_else() -> None:
    """m1…mN become printed lines; a bad count, form, gap, stray key or no item is a ValueError."""
    assert notice_lines(NOTICE) == ["近期一寸免冠彩色照片 ×1（原件）", "原社会保障卡 ×2（复印件）"]
    for bad in (
        {"m1": "x|original|照片"},
        {"m1": "1|scan|照片"},
        {"m1": "1|copy|"},
        {"m1": "1|copy|照片", "m3": "1|copy|证明"},
        {"m1": "1|copy|照片", "id_number": "310101198001010018"},
        {"service": "x"},
    ):
        with pytest.raises(ValueError):
            notice_lines(bad)


async def test_print_notice_prints_the_missing_materials_without_asking_consent() -> None:
    """print_notice: no consent asked (no personal data), stage printing, and the printer simulator's
    preview holds the notice with the case number and every missing material; bad params print nothing."""
    service = DeviceService({"printer": "sim://printer"}, consent=auto_refuse, office_name="示例街道办事处")
    try:
        stages, result = await _handle(service, _request(HwAction.PRINT_NOTICE, dict(NOTICE)))
        assert stages == ["printing"]
        assert (result.outcome, result.data) == (HwOutcome.OK, {"printed": True, "items": 2})
        simulator = service.printer().simulator  # type: ignore[attr-defined]
        await _until(lambda: len(simulator.jobs) == 1, "the printed job")
        data = simulator.jobs[0].data
        _, bad = await _handle(service, _request(HwAction.PRINT_NOTICE, {"m1": "nope"}))
        assert (bad.outcome, bad.error) == (HwOutcome.FAILED, "invalid_params")
    finally:
        await service.close()
    for expected in (
        "补正告知",
        "BJ20261207-0001",
        "社会保障卡挂失补换",
        "近期一寸免冠彩色照片 ×1（原件）",
        "示例街道办事处",
    ):
        assert expected.encode("gb18030") in data, expected
    assert len(simulator.jobs) == 1  # the malformed request printed nothing


# -- the peer connection: two video m-lines, frames on both ---------------------------------------


def _video_mlines(sdp: str) -> list[tuple[str, str]]:
    """(mid, direction) of each video m-line, in order."""
    found = []
    for section in sdp.split("m=")[1:]:
        if section.startswith("video"):
            mid = re.search(r"a=mid:(\S+)", section)
            direction = re.search(r"a=(sendrecv|sendonly|recvonly|inactive)", section)
            assert mid and direction
            found.append((mid.group(1), direction.group(1)))
    return found


async def test_the_offer_has_two_video_mlines_and_frames_flow_on_both() -> None:
    """The kiosk's offer: face video (sendrecv), audio, document video (sendonly). An answering peer
    receives frames on both videos — the idle frame first, live frames after document_live starts."""
    feed = DocumentFeed(fps=15, max_width=320, idle_period=0.2)
    kiosk = CallPeer(
        0, [SyntheticVideoTrack(160, 120, 15), ToneAudioTrack(), DocumentVideoTrack(feed)], PeerSettings()
    )
    agent = RTCPeerConnection()
    received: dict[str, FrameCounter] = {}
    tasks: list[asyncio.Task[None]] = []
    sizes: dict[str, set[tuple[int, int]]] = {}
    bright: dict[str, int] = {}

    async def watch(track: MediaStreamTrack, mid: str) -> None:
        counter = received.setdefault(mid, FrameCounter())
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            counter.frames += 1
            sizes.setdefault(mid, set()).add((frame.width, frame.height))
            if float(frame.to_ndarray(format="gray").mean()) > 150:  # the idle frame is dark
                bright[mid] = bright.get(mid, 0) + 1

    def on_track(track: MediaStreamTrack) -> None:
        if track.kind != "video":
            tasks.append(asyncio.ensure_future(drain(track, FrameCounter())))
            return
        mid = next(t.mid for t in agent.getTransceivers() if t.receiver.track is track)
        tasks.append(asyncio.ensure_future(watch(track, str(mid))))

    agent.on("track", on_track)
    try:
        offer = await kiosk.create_offer()
        videos = _video_mlines(offer)
        assert [d for _, d in videos] == ["sendrecv", "sendonly"]
        face_mid, doc_mid = (m for m, _ in videos)
        await agent.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await agent.setLocalDescription(await agent.createAnswer())
        await kiosk.accept_answer(agent.localDescription.sdp)
        await _until(lambda: received.get(face_mid, FrameCounter()).frames >= 5, "face frames")
        await _until(lambda: received.get(doc_mid, FrameCounter()).frames >= 1, "an idle document frame")
        assert sizes[doc_mid] == {(320, 240)}  # the idle frame has the live size: no re-initialisation
        assert bright.get(doc_mid, 0) == 0
        reads = 0

        def read() -> Any:
            nonlocal reads
            reads += 1
            time.sleep(1 / 30)
            return np.full((480, 640, 3), 180 + reads % 60, dtype=np.uint8)

        before = received[doc_mid].frames
        await asyncio.to_thread(feed.start, read)
        await _until(lambda: bright.get(doc_mid, 0) >= 10, "live document frames")
        assert received[doc_mid].frames >= before + 10 and sizes[doc_mid] == {(320, 240)}
        await asyncio.to_thread(feed.stop)
    finally:
        for task in tasks:
            task.cancel()
        await kiosk.close()
        await agent.close()
        await asyncio.to_thread(feed.stop)
        await asyncio.gather(*tasks, return_exceptions=True)


# -- the resident's screen ------------------------------------------------------------------------


def _no_office() -> OfficeClient:
    """An office client whose office answers nothing useful (these screens need no office)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "unavailable"}})

    return OfficeClient("http://office.test", "t", transport=httpx.MockTransport(handler), attempts=1)


async def test_the_in_call_screen_shows_the_live_view_and_the_printed_notice() -> None:
    """Through the journey with the UI's consent: live start is asked on screen, the view says
    document_live while it is on (and the page's MJPEG route serves it), stop hides it without asking;
    print_notice appears without a consent prompt, then says printed with its own spoken prompt."""
    oc = _no_office()
    devices = DeviceService(
        {"document_camera": DOC_URL, "printer": "sim://printer"}, document=DocumentFeed(max_width=320)
    )
    journey = Journey(oc, devices, consent_timeout=5)
    devices.consent = journey.consent
    journey.session.state = State.WAITING
    journey.on_call("c1")
    runtime_stages: list[str] = []

    async def run(request: HwRequest) -> Any:
        async def progress(stage: str) -> None:
            runtime_stages.append(stage)
            journey.on_hw(request, stage, None)

        result = await devices.handle(request, progress)
        journey.on_hw(request, "result", result)
        return result

    try:
        start = _request(HwAction.DOCUMENT_LIVE_START)
        task = asyncio.create_task(run(start))
        await _until(lambda: (journey.view()["hw"] or {}).get("phase") == "consent", "the consent prompt")
        assert journey.prompt == "prompt.hw.document_live.consent"
        await journey.dispatch({"op": "consent", "request_id": start.request_id, "granted": True})
        assert (await task).outcome is HwOutcome.OK
        view = journey.view()
        assert view["call"]["document_live"] is True and view["hw"]["phase"] == "ok"
        assert journey.prompt == "prompt.hw.document_live.ok"
        stop = await run(_request(HwAction.DOCUMENT_LIVE_STOP))
        assert stop.outcome is HwOutcome.OK and journey.view()["call"]["document_live"] is False

        runtime_stages.clear()
        printed = await run(_request(HwAction.PRINT_NOTICE, dict(NOTICE)))
        assert printed.outcome is HwOutcome.OK and runtime_stages == ["printing"]
        hw = journey.view()["hw"]
        assert (hw["action"], hw["phase"], hw["guidance"]) == ("print_notice", "ok", "hw.print_notice")
        assert journey.prompt == "prompt.hw.print_notice.ok"
    finally:
        await devices.close()
        await oc.aclose()


def test_the_page_route_streams_the_live_document_view(tmp_path: Path) -> None:
    """/media/document-live.mjpeg serves the feed's view: a JPEG part once a live frame was shown."""
    oc = _no_office()
    devices = DeviceService({})
    journey = Journey(oc, devices)
    app = create_app(
        None, KioskSettings(state_dir=tmp_path / "state"), journey=journey, voice=VoicePrompts(tmp_path / "v")
    )
    frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 90, np.uint8), format="bgr24")
    with TestClient(app, base_url="http://127.0.0.1:8100") as ui:
        ui.portal.call(_offer, devices.document.view, frame)  # type: ignore[union-attr]
        with ui.stream("GET", "/media/document-live.mjpeg") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
            chunk = b""
            for part in response.iter_bytes():
                chunk += part
                if b"\xff\xd9" in chunk:
                    break
    assert b"Content-Type: image/jpeg" in chunk and b"\xff\xd8" in chunk
    asyncio.run(oc.aclose())


async def _offer(tap: FrameTap, frame: av.VideoFrame) -> None:
    tap.offer(frame)


async def test_an_agent_offer_is_answered_without_the_document_mline() -> None:
    """When the agent offers (a forced renegotiation), the kiosk answers its m-lines only: the document
    track, which has no m-line there, does not break the answer and is not sent."""
    kiosk = CallPeer(
        1,
        [SyntheticVideoTrack(160, 120, 15), ToneAudioTrack(), DocumentVideoTrack(DocumentFeed())],
        PeerSettings(),
    )
    agent = RTCPeerConnection()
    agent.addTransceiver("video", direction="sendrecv")
    agent.addTransceiver("audio", direction="sendrecv")
    agent.createDataChannel("control")
    try:
        await agent.setLocalDescription(await agent.createOffer())
        answer = await kiosk.answer(agent.localDescription.sdp)
        assert _video_mlines(answer) == [("0", "sendrecv")]
        await agent.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    finally:
        await kiosk.close()
        await agent.close()
