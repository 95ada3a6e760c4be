"""Validated office settings (pydantic-settings, ``OFFICE_`` prefix).

Settings are built by the caller and passed into :func:`office.app.create_app`; nothing here runs at
import time. Secrets that still hold a placeholder value are refused outside development.
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PLACEHOLDER_SECRET", "Environment", "Settings"]

#: The shipped default for every secret. Development accepts it; every other environment refuses it.
PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the placeholder that is refused


class Environment(StrEnum):
    """Where the office runs; only ``development`` accepts placeholder secrets."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _looks_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return (
        not lowered
        or lowered == PLACEHOLDER_SECRET
        or lowered.startswith(("change", "changeme", "placeholder", "secret", "dev-", "example"))
        or len(set(lowered)) < 4
    )


class Settings(BaseSettings):
    """Everything the office process needs, validated once at start-up."""

    model_config = SettingsConfigDict(env_prefix="OFFICE_", extra="forbid", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///var/doorstep.db"
    bus_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"
    timezone: str = "Asia/Shanghai"

    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    #: 32 bytes, base64: AES-256-GCM key for personal data at rest.
    data_encryption_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    #: HMAC key for the keyed hash of ID numbers (look-up without storing the value).
    lookup_hash_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)

    session_idle_timeout_s: int = Field(default=30 * 60, ge=60)
    session_absolute_timeout_s: int = Field(default=12 * 3600, ge=300)
    #: How often a session's last-seen stamp is written (idle timeout precision).
    session_touch_interval_s: int = Field(default=60, ge=1)
    #: Argon2id cost for new password hashes (verification uses each hash's own parameters).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_s: int = Field(default=15 * 60, ge=1)
    enrollment_code_ttl_s: int = Field(default=24 * 3600, ge=60)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Largest document still a kiosk may upload (JPEG/PNG/PDF), stored encrypted in the database.
    document_max_bytes: int = Field(default=15 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    audit_retention_days: int = Field(default=180, ge=180)
    #: HTTP SMS gateway for booking reminders; unset = reminders are logged (masked) only.
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    #: Run the periodic jobs (ring time-outs, holds, no-shows, reminders) inside this process.
    background_jobs: bool = True
    #: STUN servers handed to kiosks and agents (``stun:host:3478``); empty = none.
    stun_urls: list[str] = Field(default_factory=list)
    #: TURN servers (coturn with ``use-auth-secret``); used only with ``turn_secret``.
    turn_urls: list[str] = Field(default_factory=list)
    #: coturn's ``static-auth-secret``: TURN credentials are HMAC-SHA1 of it, valid ``turn_ttl_s``.
    turn_secret: SecretStr | None = None
    turn_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    #: 好差评: level recorded when a served ticket gets no rating in time (3 = 基本满意, Guangdong's rule).
    rating_default_level: int = Field(default=3, ge=1, le=5)
    #: Minutes after the ticket ended before the default rating applies (Guangdong: 7 natural days).
    rating_default_after_min: int = Field(default=7 * 24 * 60, ge=1)
    #: Working days allowed per follow-up step of a 差评 (service-rules.md §2.4; 汝州 "123" defaults).
    followup_contact_days: int = Field(default=1, ge=0, le=30)
    followup_fix_now_days: int = Field(default=2, ge=0, le=30)
    followup_ledger_days: int = Field(default=5, ge=1, le=60)
    followup_review_days: int = Field(default=5, ge=1, le=60)
    followup_feedback_days: int = Field(default=1, ge=0, le=30)
    followup_revisit_days: int = Field(default=5, ge=1, le=60)
    #: A kiosk with no health report for this long raises a ``kiosk.alert`` (silent).
    kiosk_silent_after_s: int = Field(default=5 * 60, ge=30)
    log_level: str = "INFO"
    log_json: bool = True
    data_dir: Path = Path("var")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown IANA time zone: {value!r}") from err
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_db(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("bus_url")
    @classmethod
    def _supported_bus(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("bus_url must be memory:// or redis://")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment is not Environment.DEVELOPMENT:
            bad = [
                name
                for name in ("secret_key", "data_encryption_key", "lookup_hash_key")
                if _looks_placeholder(getattr(self, name).get_secret_value())
            ]
            if bad:
                raise ValueError(
                    f"placeholder secrets are refused in {self.environment.value}: set OFFICE_"
                    + ", OFFICE_".join(n.upper() for n in bad)
                )
        key = self.data_encryption_key.get_secret_value()
        if key != PLACEHOLDER_SECRET:
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError) as err:
                raise ValueError("data_encryption_key must be base64") from err
            if len(raw) != 32:
                raise ValueError("data_encryption_key must decode to 32 bytes")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The office's IANA time zone (business rules apply in it)."""
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        """True when storage is the embedded SQLite engine."""
        return self.database_url.startswith("sqlite")
