"""The kiosk's settings (``KIOSK_`` environment variables), validated and passed into factories.

The device token lives in ``state_dir/device_token`` (mode 0600) after enrollment; it is never
logged and never part of :class:`KioskSettings`' repr.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KioskSettings", "TokenStore"]


class KioskSettings(BaseSettings):
    """Everything ``doorstep kiosk`` needs; each field maps to ``KIOSK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="KIOSK_", extra="forbid")

    office_url: str = "http://127.0.0.1:8000"
    signaling_path: str = "/ws/signaling"
    state_dir: Path = Path("var/kiosk")
    idcard_url: str = "sim://idcard?card=resident-male"
    fingerprint_url: str = "sim://fingerprint"
    document_camera_url: str = "sim://document_camera"
    face_camera_url: str = ""
    """Empty: send a synthetic moving pattern instead of a camera."""
    printer_url: str = "sim://printer"
    video_width: int = Field(default=640, ge=160, le=1920)
    video_height: int = Field(default=480, ge=120, le=1080)
    video_fps: float = Field(default=30.0, gt=0, le=30)
    video_codec: Literal["VP8", "H264"] = "VP8"
    document_live_fps: float = Field(default=12.0, gt=0, le=30)
    """Frame rate of the live document-camera view (the call's second video track)."""
    document_live_width: int = Field(default=960, ge=160, le=1920)
    """Widest frame of the live document view (the camera's frames are scaled down to it)."""
    microphone: str = ""
    """PyAV input, e.g. ``alsa:default`` or ``pulse:default``; empty: a quiet synthetic tone."""
    ui_host: str = "127.0.0.1"
    ui_port: int = Field(default=8100, ge=1, le=65535)
    health_interval_s: float = Field(default=60.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, ge=0.2, le=2.0)
    media_dead_after_s: float = Field(default=3.5, gt=0)
    consent: Literal["ui", "grant", "refuse"] = "grant"
    """``grant``: headless/demo mode, consent is granted and logged; ``ui``: the resident UI decides."""
    speaker: str = ""
    """Where the agent's voice plays: ``aplay:<ALSA device>`` (e.g. ``aplay:default``), ``file:<path>``
    (raw s16le 48 kHz stereo, tests) or empty (not played)."""
    ui_timeouts: dict[str, float] = Field(default_factory=dict)
    """Inactivity limits per session state in seconds, overriding the defaults (``{"choosing": 60}``)."""
    ui_poll_interval_s: float = Field(default=3.0, gt=0)
    """How often the waiting screen refreshes the ticket's position and estimate."""
    ui_retry_interval_s: float = Field(default=5.0, gt=0)
    """How often the UI retries the office while it is unreachable."""
    chromium: str = "chromium"
    """The browser the launcher starts in kiosk mode."""

    @field_validator("office_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("office_url must start with http:// or https://")
        return value.rstrip("/")

    def device_urls(self) -> dict[str, str]:
        """Configured device URLs by kind (empty ones left out)."""
        urls = {
            "idcard": self.idcard_url,
            "fingerprint": self.fingerprint_url,
            "document_camera": self.document_camera_url,
            "face_camera": self.face_camera_url,
            "printer": self.printer_url,
        }
        return {kind: url for kind, url in urls.items() if url}

    def signaling_url(self) -> str:
        """``ws(s)://`` URL of the office's signaling endpoint."""
        scheme, rest = self.office_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{self.signaling_path}"


class TokenStore:
    """The device token on disk: ``state_dir/device_token``, written atomically with mode 0600."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "device_token"

    def load(self) -> str | None:
        """The stored token, or None before enrollment."""
        try:
            token = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return token or None

    def save(self, token: str) -> None:
        """Store the token (0600; the directory is created 0700)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(token)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"
