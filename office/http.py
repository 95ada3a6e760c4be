"""ASGI middleware: request IDs, access log and metrics, security headers.

Pure ASGI (no ``BaseHTTPMiddleware``) so streaming bodies and WebSockets pass through untouched and
the per-request overhead stays small.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from office.errors import error_body
from office.logs import request_id_var
from office.metrics import Metrics

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("office.access")
_SAFE_RID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        b"connect-src 'self' ws: wss:; frame-ancestors 'none'; object-src 'none'",
    ),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=()"),
]


class RequestContextMiddleware:
    """Assigns a request ID, logs one access line, records metrics, adds security headers."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        #: Labelled metric children by (method, route, status): ``labels()`` validates and locks on
        #: every call. Bounded: routes are templates, methods and statuses few.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        #: Request IDs: 32 hex digits, a random per-process half and a counter (uuid4 reads the
        #: kernel's random source on every request).
        self._rid_prefix = os.urandom(8).hex()
        self._rid_counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if _SAFE_RID.match(incoming) else f"{self._rid_prefix}{next(self._rid_counter):016x}"
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = 500
        path: str = scope["path"]

        replaced = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, replaced
            if replaced:
                return  # the framework's plain-text body was replaced by the JSON envelope below
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if status == 413 and (b"content-type", b"application/json") not in headers:
                    # Starlette answers a declared oversized body before routing, in plain text.
                    body = json.dumps(error_body("payload_too_large", "request body too large")).encode()
                    headers = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                    replaced = True
                    await send({"type": "http.response.start", "status": 413, "headers": _decorate(headers)})
                    await send({"type": "http.response.body", "body": body})
                    return
                message["headers"] = _decorate(headers)
            await send(message)

        def _decorate(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
            headers.append((b"x-request-id", rid.encode()))
            headers.extend(_SECURITY_HEADERS)
            if path.startswith("/api/"):
                headers.append((b"cache-control", b"no-store"))
            return headers

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - start
                route = _route_template(scope)
                key = (scope["method"], route, str(status))
                children = self._children.get(key)
                if children is None:
                    children = self._children[key] = (
                        self.metrics.requests.labels(*key),
                        self.metrics.latency.labels(route),
                    )
                children[0].inc()
                children[1].observe(elapsed)
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label cardinality), or ``other``.

    The router records the matched route in the scope it was given (the same dict object).
    """
    route: Any = scope.get("route")
    return str(getattr(route, "path", "other")) if route is not None else "other"
