"""The fprintd backend against a fprintd stand-in on a private, real dbus-daemon."""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware import open_device
from hardware.errors import ConnectionLost, NoHardware, UnsupportedOperation
from hardware.fingerprint import EnrollMismatch, FingerNotDetected, FingerprintStatusError, MatchResult
from hardware.fingerprint.fprintd import FINGERS, FprintdFingerprintScanner
from hardware.fingerprint.fprintd_sim import FakeFprintd
from hardware.health import HealthLevel

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[str]:
    """A private dbus-daemon; yields its address and stops it afterwards."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.fail("dbus-daemon is required for the fprintd tests (apt install dbus)")
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(dir=tmp_path), encoding="utf-8")
    process = subprocess.Popen(
        [daemon, f"--config-file={config}", "--print-address", "--nofork"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def fprintd(bus: str) -> Iterator[FakeFprintd]:
    """The fprintd stand-in with resident's right index finger enrolled."""
    fake = FakeFprintd(bus, enrolled={"resident": {"right-index-finger": "finger-r1"}})
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _scanner(bus: str, user: str = "resident") -> FprintdFingerprintScanner:
    device = open_device("fingerprint", f"fprintd://?bus={urllib.parse.quote(bus)}&user={user}&timeout=5")
    assert isinstance(device, FprintdFingerprintScanner)
    return device


def test_verify_match_and_no_match(bus: str, fprintd: FakeFprintd) -> None:
    """VerifyStart/VerifyStatus: the enrolled finger matches, another one does not."""
    with _scanner(bus) as scanner:
        prompts: list[str] = []

        def right(name: str) -> None:
            prompts.append(name)
            if name == "place_finger":
                fprintd.present("finger-r1")

        assert scanner.verify(0, prompt=right) == MatchResult(matched=True, score=100)
        assert prompts[0] == "place_finger" and prompts[-1] == "lift_finger"

        def wrong(name: str) -> None:
            if name == "place_finger":
                fprintd.present("someone-else")

        assert not scanner.verify(0, prompt=wrong).matched
    assert fprintd.calls.count("VerifyStop") == 2 and "Release" in fprintd.calls


def test_verify_retries_after_smudge(bus: str, fprintd: FakeFprintd) -> None:
    """A retry-scan status prompts retry_finger and the next scan decides."""
    with _scanner(bus) as scanner:
        seen: list[str] = []

        def prompt(name: str) -> None:
            seen.append(name)
            if name == "place_finger":
                fprintd.present("smudge")
            elif name == "retry_finger":
                fprintd.present("finger-r1")

        assert scanner.verify(0, prompt=prompt).matched
        assert "retry_finger" in seen


def test_enroll_two_stages_then_count(bus: str, fprintd: FakeFprintd) -> None:
    """EnrollStart collects stage-passed then completed; the finger is then listed."""
    with _scanner(bus, user="newcomer") as scanner:
        assert scanner.count() == 0

        def prompt(name: str) -> None:
            if name in ("place_finger", "place_finger_again"):
                fprintd.present("finger-new")

        assert scanner.enroll(prompt=prompt) == 0
        assert fprintd.enrolled["newcomer"] == {FINGERS[0]: "finger-new"}
        assert scanner.count() == 1
        scanner.delete(0)
        assert scanner.count() == 0


def test_enroll_with_different_fingers_fails(bus: str, fprintd: FakeFprintd) -> None:
    """Two different fingers during one enrolment give enroll-failed → EnrollMismatch."""
    fingers = iter(["finger-a", "finger-b"])
    with _scanner(bus) as scanner:

        def prompt(name: str) -> None:
            if name in ("place_finger", "place_finger_again"):
                fprintd.present(next(fingers))

        with pytest.raises(EnrollMismatch):
            scanner.enroll(3, prompt=prompt)


def test_no_finger_times_out(bus: str, fprintd: FakeFprintd) -> None:
    """Nobody scanning within the timeout raises FingerNotDetected and stops the verify."""
    with _scanner(bus) as scanner:
        with pytest.raises(FingerNotDetected):
            scanner.verify(0, timeout=0.2)
        assert fprintd.calls[-1] == "VerifyStop"


def test_cancel_stops_fprintd_verify(bus: str, fprintd: FakeFprintd) -> None:
    """cancel() during the wait ends the verify with Cancelled and stops it in fprintd."""
    from hardware.errors import Cancelled

    with _scanner(bus) as scanner:

        def prompt(name: str) -> None:
            if name == "place_finger":
                scanner.cancel()

        with pytest.raises(Cancelled):
            scanner.verify(0, prompt=prompt)
        assert fprintd.calls[-1] == "VerifyStop"


def test_disconnected_reader(bus: str, fprintd: FakeFprintd) -> None:
    """A verify-disconnected status raises ConnectionLost."""
    with _scanner(bus) as scanner:
        fprintd.disconnected = True
        with pytest.raises(ConnectionLost):
            scanner.verify(0)


def test_claim_conflict_and_missing_reader(bus: str, fprintd: FakeFprintd) -> None:
    """A second client cannot claim a claimed reader; no reader at all is NoHardware."""
    with _scanner(bus):
        other = _scanner(bus, user="other")
        other.open()
        with pytest.raises(FingerprintStatusError) as info:
            other.claim()
        assert info.value.meaning == "AlreadyInUse"
        other.close()
    fprintd.has_device = False
    with pytest.raises(NoHardware):
        _scanner(bus).open()


def test_unsupported_operations_and_health(bus: str, fprintd: FakeFprintd) -> None:
    """Template/image/search operations are refused; health checks list enrolled fingers."""
    with _scanner(bus) as scanner:
        for call in (scanner.search, lambda: scanner.download_template(0), scanner.read_system_parameters):
            with pytest.raises(UnsupportedOperation):
                call()
        result = scanner.check_health(HealthLevel.EXTERNAL)
        assert result.ok and result.steps[0].detail == "1 fingers enrolled"

        def prompt(name: str) -> None:
            if name == "place_finger":
                fprintd.present("finger-r1")

        assert scanner.check_health(HealthLevel.INTERACTIVE, prompt=prompt).ok


def test_no_bus_is_no_hardware(tmp_path: Path) -> None:
    """A bus address nobody listens on raises NoHardware on open."""
    address = f"unix:path={tmp_path / 'nothing'}"
    with pytest.raises(NoHardware):
        _scanner(address).open()
