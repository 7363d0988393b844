"""The streams seen from outside: a readiness check on the deliverer, and each stream's lag and failures in
/metrics (read from the store at each scrape, like the other gauges)."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Gauge

from store.lifecycle import health
from store.streams.registry import lag, list_streams
from ui.ops import metrics

LAG_EVENTS = Gauge('audit_stream_lag_events', 'Matching events stored but not yet delivered, by stream.', ['stream'])
LAG_SECONDS = Gauge('audit_stream_lag_seconds', 'Age of the oldest event not yet delivered, by stream.', ['stream'])
FAILURES = Gauge('audit_stream_failures', 'Failed deliveries since the last success, by stream.', ['stream'])
DELIVERED = Gauge('audit_stream_delivered_events', 'Events delivered, by stream.', ['stream'])


def refresh() -> None:
    """Every stream's figures; a removed stream's series disappear."""
    figures = [(stream, lag(stream)) for stream in list_streams()]
    for gauge in (LAG_EVENTS, LAG_SECONDS, FAILURES, DELIVERED):
        gauge.clear()
    for stream, behind in figures:
        LAG_EVENTS.labels(stream.name).set(behind.events)
        LAG_SECONDS.labels(stream.name).set(behind.seconds)
        FAILURES.labels(stream.name).set(stream.failures)
        DELIVERED.labels(stream.name).set(stream.delivered)


class Delivery(Protocol):
    """What delivers the streams: a process of its own (cli/delivery.py) or threads (store/streams/delivery.py)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...


def watch(deliverer: Delivery) -> None:
    """Readiness fails while `deliverer` is down; /metrics shows the streams."""
    health.register('streams', lambda: None if deliverer.alive() else 'the stream deliverer has stopped')
    metrics.on_scrape(refresh)
