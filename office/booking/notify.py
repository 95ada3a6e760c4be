"""Notification gateways for booking reminders and notices.

:class:`Notifier` is the interface (one synchronous ``send``). :class:`LogNotifier` (the default)
writes one log line with the masked number and the booking reference, never the number or the
text's personal parts; :class:`HttpSmsNotifier` POSTs JSON to an SMS gateway with httpx.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field

import httpx

from office.booking.identity import mask_phone

__all__ = [
    "HttpSmsNotifier",
    "LogNotifier",
    "NotificationFailed",
    "Notifier",
    "RecordingNotifier",
    "make_notifier",
]

log = logging.getLogger("office.booking.notify")


class NotificationFailed(RuntimeError):
    """The gateway did not accept the message (the reason is a code, never the message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Notifier(abc.ABC):
    """Delivers a short text message to a resident's phone."""

    @abc.abstractmethod
    def send(self, phone: str, text: str, *, ref: str, kind: str) -> None:
        """Send ``text`` to ``phone``; ``ref`` (booking code) and ``kind`` are for tracing.

        Raises :class:`NotificationFailed` when the gateway refuses or cannot be reached.
        """


class LogNotifier(Notifier):
    """Logs a masked line per message; the development and default backend."""

    def send(self, phone: str, text: str, *, ref: str, kind: str) -> None:
        log.info("notice sent", extra={"to": mask_phone(phone), "ref": ref, "kind": kind, "chars": len(text)})


@dataclass
class RecordingNotifier(Notifier):
    """Keeps messages in memory (for tests, and for a kiosk-less demo)."""

    sent: list[tuple[str, str, str, str]] = field(default_factory=list)
    fail: bool = False

    def send(self, phone: str, text: str, *, ref: str, kind: str) -> None:
        if self.fail:
            raise NotificationFailed("gateway_down")
        self.sent.append((phone, text, ref, kind))


class HttpSmsNotifier(Notifier):
    """POSTs ``{"to", "text", "ref", "kind"}`` as JSON to ``url``; any non-2xx is a failure."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the SMS gateway URL must be http(s)")
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)

    def send(self, phone: str, text: str, *, ref: str, kind: str) -> None:
        try:
            resp = self._client.post(self.url, json={"to": phone, "text": text, "ref": ref, "kind": kind})
        except httpx.HTTPError as err:
            log.warning(
                "sms gateway unreachable", extra={"ref": ref, "kind": kind, "exc_type": type(err).__name__}
            )
            raise NotificationFailed("unreachable") from None
        if not resp.is_success:
            log.warning("sms gateway refused", extra={"ref": ref, "kind": kind, "status": resp.status_code})
            raise NotificationFailed(f"http_{resp.status_code}")
        log.info("notice sent", extra={"to": mask_phone(phone), "ref": ref, "kind": kind, "via": "http"})

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def make_notifier(sms_gateway_url: str | None = None, *, token: str | None = None) -> Notifier:
    """The configured backend: HTTP when a gateway URL is set, else the log backend."""
    if sms_gateway_url:
        return HttpSmsNotifier(sms_gateway_url, token=token)
    return LogNotifier()
