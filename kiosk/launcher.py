"""``doorstep kiosk launch``: the resident page full-screen in Chromium's kiosk mode.

The browser runs with a throw-away profile (``--incognito`` and a fresh ``--user-data-dir`` that is
deleted when it exits), so nothing a resident saw survives in a browser profile; it waits until the
kiosk's UI answers before opening it, and is restarted by systemd when it dies (docs/deploy.md).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from kiosk.config import KioskSettings

__all__ = ["chromium_command", "launch", "ui_url"]


def ui_url(settings: KioskSettings) -> str:
    """The page's URL on this station."""
    return f"http://{settings.ui_host}:{settings.ui_port}/"


def chromium_command(settings: KioskSettings, profile_dir: str) -> list[str]:
    """The Chromium command line for the kiosk page."""
    return [
        settings.chromium,
        "--kiosk",
        f"--app={ui_url(settings)}",
        "--incognito",
        f"--user-data-dir={profile_dir}",
        "--no-first-run",
        "--noerrdialogs",
        "--disable-infobars",
        "--disable-session-crashed-bubble",
        "--disable-translate",
        "--disable-features=Translate,TouchpadOverscrollHistoryNavigation",
        "--overscroll-history-navigation=0",
        "--disable-pinch",
        "--autoplay-policy=no-user-gesture-required",
        "--check-for-update-interval=31536000",
        "--password-store=basic",
    ]


def wait_for_ui(url: str, timeout: float = 60.0) -> bool:
    """Poll the UI's ``/healthz`` until it answers (the kiosk process may still be starting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as response:  # noqa: S310 - loopback URL
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def launch(settings: KioskSettings, *, dry_run: bool = False) -> int:
    """Start Chromium on the page and wait for it; returns its exit code (0 for ``dry_run``)."""
    profile = tempfile.mkdtemp(prefix="doorstep-kiosk-chromium-")
    try:
        cmd = chromium_command(settings, profile)
        if dry_run:
            print(" ".join(cmd))
            return 0
        if not wait_for_ui(ui_url(settings)):
            print(f"doorstep kiosk launch: the UI at {ui_url(settings)} does not answer")
            return 1
        return subprocess.call(cmd)  # noqa: S603 - fixed argv built above
    finally:
        shutil.rmtree(profile, ignore_errors=True)
