"""The spare connection and offer the kiosk keeps ready while idle (kiosk.warm.WarmOffer)."""

from __future__ import annotations

import asyncio
import logging
import wave
from pathlib import Path

import numpy as np
import pytest
from aiortc import RTCIceServer

from kiosk.media import MicrophoneTrack, SyntheticVideoTrack, ToneAudioTrack, open_microphone
from kiosk.peer import CallPeer, PeerSettings
from kiosk.warm import WarmOffer

STUN = (RTCIceServer(urls="stun:127.0.0.1:9"),)
"""A server no test reaches: gathering gives up on it quickly (aioice's STUN timeout on loopback)."""


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Kiosk:
    """What WarmOffer asks of the kiosk: the servers a call would use, whether a call runs, tracks."""

    def __init__(self) -> None:
        self.servers: tuple[RTCIceServer, ...] | None = ()
        self.busy = False
        self.made: list[list[object]] = []
        self.prefetches = 0
        self.fail_builds = 0

    def build(self, servers: tuple[RTCIceServer, ...]) -> CallPeer:
        tracks: list[object] = [SyntheticVideoTrack(160, 120, 5), ToneAudioTrack()]
        self.made.append(tracks)
        peer = CallPeer(0, tracks, PeerSettings(ice_servers=servers))  # type: ignore[arg-type]
        if self.fail_builds:
            self.fail_builds -= 1

            async def broken() -> str:
                raise OSError("no interface")

            peer.create_offer = broken  # type: ignore[method-assign]
        return peer

    def prefetch(self) -> None:
        self.prefetches += 1

    def warm(self, clock: _Clock, **kwargs: float) -> WarmOffer:
        return WarmOffer(
            self.build, lambda: self.servers, lambda: self.busy, prefetch=self.prefetch, clock=clock, **kwargs
        )


def _ended(tracks: list[object]) -> bool:
    return all(getattr(t, "readyState", None) == "ended" for t in tracks)


async def test_spare_is_built_when_idle_and_handed_out_once() -> None:
    """Idle: one generation-0 connection with its offer applied (all m-lines, the control channel,
    candidates gathered); a call takes it once, and the next check builds another."""
    kiosk, clock = _Kiosk(), _Clock()
    warm = kiosk.warm(clock)
    await warm.maintain()
    assert warm.built == 1 and warm.spare is not None
    spare = warm.spare
    assert spare.peer.generation == 0 and spare.peer.state == "new"
    assert spare.sdp.count("m=") == 3 and "a=candidate:" in spare.sdp  # audio, video, data channel
    await warm.maintain()
    assert warm.built == 1  # still fresh: kept
    assert warm.take(()) is spare and warm.taken == 1
    assert warm.take(()) is None
    await warm.maintain()
    assert warm.built == 2 and warm.spare is not None and warm.spare is not spare
    await spare.peer.close()
    await warm.close()
    assert _ended(kiosk.made[1])


async def test_no_spare_is_built_during_a_call() -> None:
    kiosk, clock = _Kiosk(), _Clock()
    warm = kiosk.warm(clock)
    kiosk.busy = True
    await warm.maintain()
    assert warm.built == 0 and warm.spare is None
    kiosk.busy = False
    await warm.maintain()
    assert warm.built == 1
    await warm.close()


async def test_spare_built_while_a_call_starts_is_closed() -> None:
    """A call that starts while the spare is being gathered builds its own; the spare is dropped."""
    kiosk, clock = _Kiosk(), _Clock()
    warm = kiosk.warm(clock)
    building = asyncio.create_task(warm.maintain())
    await asyncio.sleep(0)
    assert warm.take(()) is None  # not built yet
    kiosk.busy = True
    await building
    assert warm.built == 1 and warm.spare is None and _ended(kiosk.made[0])


async def test_spare_is_rebuilt_when_the_servers_change_or_it_ages() -> None:
    """New TURN credentials (other servers) or ``max_age`` passed: the spare is closed and rebuilt;
    a call asking with other servers than the spare's gets none."""
    kiosk, clock = _Kiosk(), _Clock()
    warm = kiosk.warm(clock, max_age=120.0)
    await warm.maintain()
    first = warm.spare
    assert first is not None
    assert warm.take(STUN) is None  # the call would use other servers than the spare gathered with
    clock.now += 121
    assert warm.take(()) is None  # too old
    await warm.maintain()
    await warm.close()  # waits for the dropped spare's close
    assert warm.built == 2 and _ended(kiosk.made[0])
    kiosk.made.clear()
    kiosk.servers = None  # credentials not fetched yet: ask for them, build nothing
    warm = kiosk.warm(clock)
    await warm.maintain()
    assert warm.built == 0 and kiosk.prefetches == 1
    kiosk.servers = STUN
    await warm.maintain()
    assert warm.spare is not None and warm.spare.servers == STUN
    # gathered with STUN: its reflexive candidates are trusted for reflexive_max_age only
    clock.now += warm.reflexive_max_age + 1
    assert warm.take(STUN) is None
    await warm.maintain()
    assert warm.spare is not None and warm.built == 2
    kiosk.servers = ()
    await warm.maintain()
    assert warm.spare is not None and not warm.spare.servers and warm.built == 3
    clock.now += warm.reflexive_max_age + 1  # host candidates only: kept up to max_age
    kept = warm.spare
    assert warm.take(()) is kept
    await kept.peer.close()
    await warm.close()
    assert all(_ended(tracks) for tracks in kiosk.made)


async def test_invalidate_drops_the_spare() -> None:
    """Signaling reconnected (the network may have changed): the spare is closed and rebuilt."""
    kiosk, clock = _Kiosk(), _Clock()
    warm = kiosk.warm(clock)
    await warm.maintain()
    warm.invalidate()
    assert warm.spare is None
    await warm.maintain()
    assert warm.built == 2
    await warm.close()
    assert _ended(kiosk.made[0]) and _ended(kiosk.made[1])


async def test_failed_build_is_logged_and_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    kiosk, clock = _Kiosk(), _Clock()
    kiosk.fail_builds = 2
    warm = kiosk.warm(clock)
    with caplog.at_level(logging.WARNING, logger="kiosk.warm"):
        await warm.maintain()
    assert warm.spare is None and _ended(kiosk.made[0])
    assert "spare connection not built (OSError); retry in 1 s" in caplog.text
    await warm.maintain()
    assert warm.built == 1  # waits out the delay
    clock.now += 1.1
    await warm.maintain()
    assert warm.built == 2 and warm.spare is None and "retry in 2 s" in caplog.text
    clock.now += 2.1
    await warm.maintain()
    assert warm.built == 3 and warm.spare is not None
    await warm.close()


async def test_a_track_factory_that_fails_is_retried_later(caplog: pytest.LogCaptureFixture) -> None:
    """The kiosk's track factory raises (a source cannot be opened): logged, retried after the
    backoff; the loop goes on."""
    attempts: list[int] = []

    def build(servers: tuple[RTCIceServer, ...]) -> CallPeer:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("microphone spec is not <format>:<device>")
        return CallPeer(0, [SyntheticVideoTrack(160, 120, 5), ToneAudioTrack()], PeerSettings())

    clock = _Clock()
    warm = WarmOffer(build, lambda: (), lambda: False, clock=clock)
    with caplog.at_level(logging.WARNING, logger="kiosk.warm"):
        await warm.maintain()
    assert warm.spare is None and warm.built == 0 and "not built (ValueError); retry in 1 s" in caplog.text
    clock.now += 1.1
    await warm.maintain()
    assert warm.spare is not None and warm.built == 1 and len(attempts) == 2
    await warm.close()


async def test_run_checks_until_cancelled_and_closes_the_spare() -> None:
    """``run`` builds at once, rebuilds on ``wake`` after a take, and closes the spare when cancelled,
    also when woken in the same moment (the kiosk wakes it as it shuts down)."""
    kiosk, clock = _Kiosk(), _Clock()
    warm = kiosk.warm(clock, check_interval=30.0)
    task = asyncio.create_task(warm.run())
    for _ in range(200):
        if warm.spare is not None:
            break
        await asyncio.sleep(0.01)
    spare = warm.take(())
    assert spare is not None
    warm.wake()
    for _ in range(200):
        if warm.spare is not None:
            break
        await asyncio.sleep(0.01)
    assert warm.built == 2
    warm.wake()
    task.cancel()
    await asyncio.wait_for(asyncio.wait({task}), 5)
    assert task.cancelled() and warm.spare is None and _ended(kiosk.made[1])
    await spare.peer.close()


def _recording(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes((np.sin(np.arange(48000) / 10) * 8000).astype(np.int16).tobytes())
    return path


async def test_a_spare_does_not_open_the_microphone(tmp_path: Path) -> None:
    """The microphone opens when the call's media asks for sound, not when the spare is built, and
    closes with the connection."""
    recording = _recording(tmp_path / "voice.wav")
    microphones: list[MicrophoneTrack] = []

    def build(servers: tuple[RTCIceServer, ...]) -> CallPeer:
        mic = open_microphone(f"file:{recording}")
        assert isinstance(mic, MicrophoneTrack)
        microphones.append(mic)
        return CallPeer(0, [SyntheticVideoTrack(160, 120, 5), mic], PeerSettings())

    warm = WarmOffer(build, lambda: (), lambda: False)
    await warm.maintain()
    assert warm.spare is not None and not microphones[0].opened
    frame = await microphones[0].recv()
    assert frame.sample_rate == 48000 and microphones[0].opened
    await warm.close()
    assert not microphones[0].opened and microphones[0].readyState == "ended"


async def test_a_microphone_that_cannot_be_opened_ends_its_track(caplog: pytest.LogCaptureFixture) -> None:
    """The device is missing: the track ends (the call goes on without the kiosk's sound), logged
    without the device path."""
    from aiortc.mediastreams import MediaStreamError

    mic = open_microphone("file:/nonexistent/secret-name.wav")
    with caplog.at_level(logging.WARNING, logger="kiosk.media"), pytest.raises(MediaStreamError):
        await mic.recv()
    assert mic.readyState == "ended"
    assert "microphone (file) could not be opened" in caplog.text and "secret-name" not in caplog.text
