"""Settings: defaults, durations, and one clear line per bad value naming the variable."""

from __future__ import annotations

import pytest

from pipeline.kafka_options import aiokafka_options
from pipeline.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("INVOICE_SYNC_"):
            monkeypatch.delenv(name)


def test_defaults_match_the_documented_contract() -> None:
    s = load_settings()
    assert s.broker == "kafka://127.0.0.1:9092"
    assert (s.topic_issued, s.topic_acknowledged, s.topic_alerts, s.topic_dlq) == (
        "invoice.issued", "invoice.acknowledged", "invoice.sync.alerts", "invoice.sync.dlq")
    assert (s.warn_after, s.critical_after) == (900.0, 14400.0)
    assert s.reconnect_settle == 120.0
    assert s.bootstrap_servers == "127.0.0.1:9092"


@pytest.mark.parametrize(("value", "seconds"), [("90s", 90.0), ("15m", 900.0), ("4h", 14400.0),
                                                ("2d", 172800.0), ("45", 45.0)])
def test_durations_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str,
                                        seconds: float) -> None:
    monkeypatch.setenv("INVOICE_SYNC_WARN_AFTER", value)
    monkeypatch.setenv("INVOICE_SYNC_CRITICAL_AFTER", "30d")
    assert load_settings().warn_after == seconds


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("WARN_AFTER", "soon", "invalid setting INVOICE_SYNC_WARN_AFTER='soon'"),
    ("RECONNECT_SETTLE", "-5s", "invalid setting INVOICE_SYNC_RECONNECT_SETTLE='-5s'"),
    ("PARTITIONS", "0", "invalid setting INVOICE_SYNC_PARTITIONS='0'"),
    ("BROKER", "http://x", "expected kafka://HOST:PORT"),
    ("TOPIC_ALERTS", "bad topic!", "INVOICE_SYNC_TOPIC_ALERTS"),
    ("SECURITY_PROTOCOL", "TLS", "'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or 'SASL_SSL'"),
    ("CRITICAL_AFTER", "5m", "must be longer than WARN_AFTER"),
])
def test_bad_values_stop_start_up_with_the_setting_named(
        monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str) -> None:
    monkeypatch.setenv(f"INVOICE_SYNC_{name}", value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert expected in str(error.value)
    assert f"INVOICE_SYNC_{name}" in str(error.value)


def test_a_bad_password_value_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_SYNC_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("INVOICE_SYNC_PARTITIONS", "x")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "hunter2" not in str(error.value)


def test_sasl_settings_map_to_aiokafka_and_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_SYNC_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("INVOICE_SYNC_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("INVOICE_SYNC_SASL_USERNAME", "sync")
    monkeypatch.setenv("INVOICE_SYNC_SASL_PASSWORD", "hunter2")
    s = load_settings()
    assert "hunter2" not in repr(s)
    options = aiokafka_options(s)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "sync"
    assert options["sasl_plain_password"] == "hunter2"
    assert options["security_protocol"] == "SASL_PLAINTEXT"
