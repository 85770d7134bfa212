"""Prometheus metrics, on a registry of the app's own (several apps can live in one process)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge("relay_connections", "Open widget connections by transport",
                                 ["transport"], registry=self.registry)
        self.events_in = Counter("relay_events_in_total", "Events stored, by source and type",
                                 ["source", "type"], registry=self.registry)
        self.events_out = Counter("relay_events_out_total", "Events delivered to widgets, by transport",
                                  ["transport"], registry=self.registry)
        self.webhooks = Counter("relay_webhooks_total", "Webhook requests by result",
                                ["result"], registry=self.registry)
        self.latency = Histogram("relay_delivery_seconds", "Event received by the relay until sent to a widget",
                                 ["transport"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25))
        self.http = Counter("relay_http_requests_total", "HTTP requests by route and status",
                            ["route", "status"], registry=self.registry)
        for transport in ("ws", "longpoll", "poll"):
            self.connections.labels(transport)

    def render(self) -> bytes:
        return generate_latest(self.registry)
