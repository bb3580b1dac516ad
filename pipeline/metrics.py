"""The worker's Prometheus metrics, in their own registry.

Conventions (../shared/STYLE.md): prefix ``invoice_sync_``, base units, ``_total`` on counters,
timestamps rather than ages, and bounded labels only: never an invoice or taxpayer id, and
region, source system and reason codes capped (the first values seen keep their name, the rest
are ``other``).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from pipeline import __version__

LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
"""Seconds from issued_at to the accepted ack; includes the default 15m and 4h thresholds."""

AGE_BANDS = ("within_sla", "past_warning", "past_critical")


class CappedLabel:
    """Bounds a label's cardinality: the first ``limit`` values pass, later ones become other."""

    def __init__(self, limit: int = 50) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self._limit:
            self._seen.add(value)
            return value
        return "other"


class Metrics:
    """Every metric the worker exports. One instance per process (tests make their own)."""

    def __init__(self, label_limit: int = 50) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series double the scrape for no alerting value
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.region = CappedLabel(label_limit)
        self.source = CappedLabel(label_limit)
        self.reason_code = CappedLabel(label_limit)

        self.events = Counter(
            "invoice_sync_events_total", "Events consumed, by topic and outcome (valid|invalid).",
            ["topic", "outcome"], registry=r)
        self.dead_letters = Counter(
            "invoice_sync_dead_letters_total", "Events sent to the dead-letter topic, by reason.",
            ["topic", "reason"], registry=r)
        self.latency = Histogram(
            "invoice_sync_latency_seconds",
            "Seconds from issued_at to the accepted acknowledgement.",
            ["region_code", "source_system"], buckets=LATENCY_BUCKETS, registry=r)
        self.pending = Gauge(
            "invoice_sync_pending_invoices",
            "Unacknowledged invoices owned by this worker, by region and age band.",
            ["region_code", "age_band"], registry=r)
        self.oldest_pending = Gauge(
            "invoice_sync_oldest_pending_issued_timestamp_seconds",
            "issued_at of the oldest unacknowledged invoice owned by this worker (0: none).",
            registry=r)
        self.alerts = Counter(
            "invoice_sync_alerts_total", "Alerts emitted to the alert topic.",
            ["kind", "severity", "region_code"], registry=r)
        self.rejections = Counter(
            "invoice_sync_rejections_total", "Rejected acknowledgements, by reason code.",
            ["reason_code"], registry=r)
        self.unsynced_by_cause = Gauge(
            "invoice_sync_unsynced_by_cause",
            "Invoices alerted unsynced and still not synced, owned by this worker, by the probable "
            "cause their alert named (none: no cause named).", ["code"], registry=r)
        self.degraded = Gauge(
            "invoice_sync_degraded",
            "1 while a scope (region, source system, client version, platform) is degraded; "
            "reported by the worker owning the scope's ledger only.",
            ["scope", "value"], registry=r)
        self.watermark = Gauge(
            "invoice_sync_ack_watermark_timestamp_seconds",
            "Acknowledgements up to this time are known read (min over active ack partitions).",
            registry=r)
        self.lag = Gauge(
            "invoice_sync_consumer_lag_messages", "Messages not yet read, by topic.",
            ["topic"], registry=r)
        self.last_commit = Gauge(
            "invoice_sync_last_commit_timestamp_seconds", "When offsets were last committed.",
            registry=r)
        self.retries = Counter(
            "invoice_sync_retries_total",
            "Events whose handling failed on the infrastructure (send refused, timeout) and was "
            "retried after a backoff, by topic.", ["topic"], registry=r)
        self.isolated = Counter(
            "invoice_sync_isolated_total",
            "Invoices set aside so they cannot block their partition: deadline_failed (a defect "
            "while firing its deadline: deadline dropped, record kept), undecodable (a stored "
            "record this version cannot read: left for a worker that can).",
            ["reason"], registry=r)
        self.taxpayer_id_warnings = Counter(
            "invoice_sync_taxpayer_id_check_failures_total",
            "Taxpayer ids whose USCC check digit failed (accepted, not dropped), by field.",
            ["field"], registry=r)
        self.build_info = Gauge(
            "invoice_sync_build_info", "Always 1; the version is a label.", ["version"], registry=r)
        self.build_info.labels(version=__version__).set(1)
        for band in AGE_BANDS:
            self.pending.labels(region_code="other", age_band=band).set(0)
