"""The ground truth of a simulated run, one JSON object per line.

Line types (field ``type``), in file order:

- ``run``: the run's parameters (scenario, seed, thresholds, topics, start time);
- ``invoice``: one per valid invoice: its ``fate``, region, source system, ``issued_at``, the
  thresholds that apply to it, and ``expect``, the alerts it must raise (empty: must not alert);
- ``dead_letter``: one per malformed record: its ``key``, ``topic`` role, the ``reason`` the
  dead-letter topic must give, and the ``defect`` planted;
- ``produced``: written last, once every record was produced (``records``, ``last_record_at``,
  ``max_lag_seconds``). A file without it describes an interrupted run.

Times are ISO 8601 with an offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from .invoices import wire_time
from .outcomes import ExpectedAlert

AlertIdentity = tuple[str, str, str]
"""(invoice_id, kind, severity): what precision and recall compare."""
DeadLetterIdentity = tuple[str, str]
"""(record key, error_reason) of a dead letter."""


@dataclass(frozen=True, slots=True)
class InvoiceTruth:
    """What the worker must (``expect``) and must not say about one valid invoice."""

    invoice_id: str
    fate: str
    region_code: str
    source_system: str
    issued_at: float
    warn_after: float
    critical_after: float
    expect: tuple[ExpectedAlert, ...]
    #: The probable cause its unsynced alerts must name (None: not scored).
    cause: str | None = None

    def identities(self) -> list[tuple[AlertIdentity, float]]:
        """(identity, due_at) of each expected alert."""
        return [((self.invoice_id, a.kind, a.severity), a.due_at) for a in self.expect]


@dataclass(frozen=True, slots=True)
class DeadLetterTruth:
    """A malformed record that must reach the dead-letter topic with ``reason``."""

    key: str
    topic: str
    reason: str
    defect: str
    invoice_id: str = ""  # the invoice id inside the value, when it has one

    @property
    def identity(self) -> DeadLetterIdentity:
        """(key, reason)."""
        return (self.key, self.reason)


@dataclass(slots=True)
class GroundTruth:
    """A whole ground-truth file."""

    run: dict[str, Any]
    invoices: list[InvoiceTruth] = field(default_factory=list)
    dead_letters: list[DeadLetterTruth] = field(default_factory=list)
    produced: dict[str, Any] | None = None

    def known_ids(self) -> set[str]:
        """Every invoice id and record key this run used (alerts about others are ignored)."""
        ids = {truth.invoice_id for truth in self.invoices}
        for letter in self.dead_letters:
            ids.add(letter.key)
            if letter.invoice_id:
                ids.add(letter.invoice_id)
        return ids

    def observe_until(self) -> float:
        """When the run's outcome is settled: every record produced and every invoice past
        its warning deadline, deferred ones (declared maintenance) included (later critical
        deadlines need ``--horizon``)."""
        last = float(self.produced["last_record_at"]) if self.produced else 0.0
        warnings = [truth.issued_at + truth.warn_after for truth in self.invoices]
        warnings += [a.due_at for truth in self.invoices for a in truth.expect
                     if (a.kind, a.severity) == ("unsynced", "warning")]
        return max(last, max(warnings, default=last))


def parse_time(value: str) -> float:
    """Epoch seconds of an ISO 8601 time with offset."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return moment.timestamp()


def to_line(record: InvoiceTruth | DeadLetterTruth | dict[str, Any]) -> bytes:
    """One JSONL line (with its newline) for a truth record or a ``run``/``produced`` dict."""
    if isinstance(record, InvoiceTruth):
        data: dict[str, Any] = {
            "type": "invoice",
            "invoice_id": record.invoice_id,
            "fate": record.fate,
            "region_code": record.region_code,
            "source_system": record.source_system,
            "issued_at": wire_time(record.issued_at),
            "warn_after": record.warn_after,
            "critical_after": record.critical_after,
            "expect": [{"kind": a.kind, "severity": a.severity, "due_at": wire_time(a.due_at)}
                       for a in record.expect],
        }
        if record.cause is not None:
            data["cause"] = record.cause
    elif isinstance(record, DeadLetterTruth):
        data = {"type": "dead_letter", "key": record.key, "topic": record.topic,
                "reason": record.reason, "defect": record.defect}
        if record.invoice_id:
            data["invoice_id"] = record.invoice_id
    else:
        data = record
    return orjson.dumps(data) + b"\n"


def _invoice(data: dict[str, Any]) -> InvoiceTruth:
    return InvoiceTruth(
        invoice_id=data["invoice_id"],
        fate=data["fate"],
        region_code=data["region_code"],
        source_system=data["source_system"],
        issued_at=parse_time(data["issued_at"]),
        warn_after=float(data["warn_after"]),
        critical_after=float(data["critical_after"]),
        expect=tuple(ExpectedAlert(a["kind"], a["severity"], parse_time(a["due_at"]))
                     for a in data["expect"]),
        cause=data.get("cause"),
    )


def parse_truth(lines: Iterable[bytes]) -> GroundTruth:
    """Read ground-truth lines; raises ``ValueError`` naming the line at fault."""
    truth: GroundTruth | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
            kind = data["type"]
            if kind == "run":
                truth = GroundTruth(run=data)
            elif truth is None:
                raise ValueError("the first line must be the run header")
            elif kind == "invoice":
                truth.invoices.append(_invoice(data))
            elif kind == "dead_letter":
                truth.dead_letters.append(DeadLetterTruth(
                    data["key"], data["topic"], data["reason"], data["defect"],
                    data.get("invoice_id", "")))
            elif kind == "produced":
                truth.produced = data
            else:
                raise ValueError(f"unknown record type {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number}: {exc}") from exc
    if truth is None:
        raise ValueError("empty ground truth")
    return truth


def read_truth(path: Path) -> GroundTruth:
    """Read a ground-truth file."""
    with path.open("rb") as lines:
        return parse_truth(lines)
