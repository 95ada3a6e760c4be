"""Prometheus metrics, one registry per app (no process-global state between app instances)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    """The office's metrics; exposed at ``/metrics`` in the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "doorstep_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "doorstep_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.logins = Counter(
            "doorstep_logins", "Login attempts by outcome", ["outcome"], registry=self.registry
        )
        self.websockets = Gauge(
            "doorstep_websocket_connections", "Open WebSocket connections", ["role"], registry=self.registry
        )
