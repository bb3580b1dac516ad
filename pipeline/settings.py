"""Configuration: environment variables with the ``INVOICE_SYNC_`` prefix.

Every setting is validated at start-up; a bad value stops the process with one line that names the
environment variable and what it accepts (see :func:`load_settings`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.api_tokens import Role, TokenConfigError, TokenSet, parse_entries
from pipeline.api_tokens import build as build_tokens
from pipeline.api_tokens import read_file as read_tokens_file
from pipeline.correlation.durations import parse_duration
from pipeline.correlation.maintenance import MaintenanceCalendar
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.maintenance_file import load_maintenance

ENV_PREFIX = "INVOICE_SYNC_"

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, given as ``90s``, ``15m``, ``4h``, ``7d`` or a plain number of seconds."""

_BROKER_URL = re.compile(r"^(kafka://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._\-]{1,249}$")
_HTTP_URL = re.compile(r"^https?://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}/?$")


class Settings(BaseSettings):
    """All settings of a worker; field ``x`` is read from ``INVOICE_SYNC_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "invoice-sync"
    instance_id: str | None = None

    topic_issued: str = "invoice.issued"
    topic_acknowledged: str = "invoice.acknowledged"
    #: Upload attempts (invoice.submitted); unset: submissions are not tracked.
    topic_submitted: str | None = None
    topic_alerts: str = "invoice.sync.alerts"
    topic_dlq: str = "invoice.sync.dlq"
    topic_ticks: str = "invoice-sync.ticks"
    #: Operators' close/reopen actions: the audit trail and the worker's input at once.
    topic_actions: str = "invoice.sync.actions"
    #: What each worker observed of a scope (region, source system, client version, platform),
    #: keyed by scope: the input of the scope ledgers' owners (pipeline/worker/ledgers.py).
    topic_evidence: str = "invoice-sync.evidence"
    #: Maintenance windows declared through ``POST /maintenance``, keyed by window id
    #: (compacted); every worker reads it whole.
    topic_maintenance: str = "invoice-sync.maintenance"
    partitions: int = Field(default=6, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)

    warn_after: Duration = 15 * 60.0
    critical_after: Duration = 4 * 3600.0
    retention: Duration = 7 * 86400.0
    max_clock_skew: Duration = 300.0
    tick_interval: Duration = 1.0
    #: After the worker regains a broker it lost, deadlines that fell during the loss wait this
    #: long before firing, so acks buffered in producers meanwhile can land (docs/watermark.md).
    reconnect_settle: Duration = 120.0
    sla_rules: Path | None = None
    #: Declared maintenance windows (pipeline/maintenance_file.py); unset: none.
    maintenance_windows: Path | None = None

    alert_rate: float = Field(default=200.0, gt=0)
    alert_burst: int = Field(default=1000, ge=1)
    degraded_window: Duration = 300.0
    degraded_min_invoices: int = Field(default=20, ge=1)
    degraded_share: float = Field(default=0.5, gt=0, le=1)
    #: How long a scope's uploads must go without any answer before a probable cause calls it
    #: an ack silence (platform_unavailable); a busy scope sees short gaps all the time.
    cause_min_silence: Duration = 60.0

    data_dir: Path = Path("var/state")
    web_port: int = Field(default=6066, ge=1, le=65535)
    web_bind: str = "0.0.0.0"
    #: The URL other workers use to reach this one (key lookups are routed to the worker that
    #: owns the key; /pending and /summary fan out to every worker). Default: http://HOSTNAME:PORT.
    advertised_url: str | None = None
    #: How long a fanned-out or routed operator API call waits for another worker.
    api_timeout: Duration = 10.0
    #: ``tokens``: every API call but /healthz, /readyz, /metrics needs a bearer token, and the
    #: worker refuses to start without one configured. ``disabled``: no authentication (local
    #: demos only; said loudly in the log).
    api_auth: Literal["tokens", "disabled"] = "tokens"
    #: Entries ``name:role:token`` or ``role:token`` (roles read, operator), comma-separated.
    api_tokens: SecretStr | None = None
    #: The same, one a line, in a file (a mounted Secret); YAML/JSON ``{tokens: [...]}`` too.
    api_tokens_file: Path | None = None
    #: Pending invoices one /pending call examines per worker before it answers with what it
    #: found and a cursor to continue (a filter matching nothing must not walk everything).
    api_scan_budget: int = Field(default=20_000, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    session_timeout: Duration = 30.0
    rocksdb_block_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=1024 * 1024)
    rocksdb_write_buffer_bytes: int = Field(default=8 * 1024 * 1024, ge=1024 * 1024)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        hosts = value.removeprefix("kafka://").split(",")
        if not all(_BROKER_URL.match(h.strip()) for h in hosts):
            raise ValueError("expected kafka://HOST:PORT[,HOST:PORT...]")
        return value

    @field_validator(
        "topic_issued", "topic_acknowledged", "topic_alerts", "topic_dlq", "topic_ticks",
        "topic_actions", "topic_submitted", "topic_evidence", "topic_maintenance")
    @classmethod
    def _topic_name(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC_NAME.match(value):
            raise ValueError("expected 1-249 characters of A-Z a-z 0-9 . _ -")
        return value

    @field_validator("advertised_url")
    @classmethod
    def _advertised_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError("expected http://HOST:PORT or https://HOST:PORT (no path)")
        return value

    @field_validator("critical_after")
    @classmethod
    def _critical_after_warning(cls, value: float, info: object) -> float:
        warn = getattr(info, "data", {}).get("warn_after")
        if warn is not None and value <= warn:
            raise ValueError(f"must be longer than WARN_AFTER ({warn:g}s)")
        return value

    @property
    def bootstrap_servers(self) -> str:
        """The broker list without the ``kafka://`` scheme, as aiokafka wants it."""
        return ",".join(h.strip().removeprefix("kafka://") for h in self.broker.split(","))


class SettingsError(Exception):
    """A setting has a bad value; the message names the environment variable."""


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, raising :class:`SettingsError` with one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    """Render pydantic errors as ``invalid setting INVOICE_SYNC_X='v': reason`` lines."""
    lines = []
    for err in exc.errors():
        name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
        value = err.get("input")
        secret = "PASSWORD" in name or name == f"{ENV_PREFIX}API_TOKENS"
        shown = "" if secret or isinstance(value, dict) or value is None else f"={value!r}"
        reason = err["msg"].removeprefix("Value error, ")
        lines.append(f"invalid setting {name}{shown}: {reason}")
    return "\n".join(lines)


def load_api_tokens(settings: Settings) -> TokenSet | None:
    """The operator API's tokens; None when INVOICE_SYNC_API_AUTH=disabled.

    Raises :class:`SettingsError` when authentication is on and no token is configured:
    an API that returns seller tax ids and closes invoices must not start open by accident.
    """
    entries: list[tuple[str, Role, str]] = []
    try:
        if settings.api_tokens is not None:
            entries += parse_entries(settings.api_tokens.get_secret_value(),
                                     f"{ENV_PREFIX}API_TOKENS")
        if settings.api_tokens_file is not None:
            entries += read_tokens_file(settings.api_tokens_file)
        tokens = build_tokens(entries)
    except TokenConfigError as exc:
        raise SettingsError(f"invalid setting {exc}") from None
    if settings.api_auth == "disabled":
        return None
    if not len(tokens):
        raise SettingsError(
            f"invalid setting {ENV_PREFIX}API_AUTH=tokens: no API token configured; set "
            f"{ENV_PREFIX}API_TOKENS or {ENV_PREFIX}API_TOKENS_FILE (entries name:role:token, "
            f"roles read, operator), or {ENV_PREFIX}API_AUTH=disabled for a local demo")
    return tokens


def load_sla(settings: Settings) -> SlaRules:
    """The SLA rules file if one is configured, else the WARN_AFTER/CRITICAL_AFTER defaults.

    Raises :class:`~pipeline.correlation.sla.SlaRulesError` for a bad rules file.
    """
    default = Thresholds(warn_after=settings.warn_after, critical_after=settings.critical_after)
    if settings.sla_rules is None:
        return SlaRules(default=default)
    return SlaRules.load(settings.sla_rules, default)


def load_maintenance_windows(settings: Settings) -> MaintenanceCalendar | None:
    """The declared maintenance windows if a file is configured, else None.

    Raises :class:`~pipeline.maintenance_file.MaintenanceFileError` for a bad file.
    """
    if settings.maintenance_windows is None:
        return None
    return load_maintenance(settings.maintenance_windows)
