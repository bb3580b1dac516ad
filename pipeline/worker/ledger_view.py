"""Every worker's read-only view of all scope ledgers: what a probable cause looks up.

The owner of a scope's ledger (pipeline/worker/ledgers.py) writes it to a faust table; the
table's changelog is a compacted topic holding the latest ledger of every scope. Each worker
reads that changelog whole (pipeline/worker/follow.py) and keeps the latest ledger per key in
memory (a few hundred bytes per scope value). A worker that just started
answers from what it has read so far: until the view has caught up, causes that need scope
evidence fall back to what the invoice's own record decides.
"""

from __future__ import annotations

import orjson

from pipeline.correlation.causes import NO_EVIDENCE, EvidenceScope, ScopeEvidence
from pipeline.correlation.evidence import (
    LedgerPolicy,
    ScopeLedger,
    decode_ledger,
    ledger_key,
    summary,
)
from pipeline.logs import get_logger

log = get_logger(__name__)


class LedgerView:
    """The latest ledger of every scope value, as the owners last wrote them."""

    def __init__(self, policy: LedgerPolicy) -> None:
        self.policy = policy
        self.ledgers: dict[str, ScopeLedger] = {}
        #: Changelog records applied (a readiness hint for tests and logs).
        self.applied = 0

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One changelog record: the ledger of ``key`` now (None: deleted)."""
        if key is None:
            return
        try:
            name = orjson.loads(key)
        except orjson.JSONDecodeError:
            name = key.decode(errors="replace")
        if not isinstance(name, str):
            return
        self.applied += 1
        if value is None:
            self.ledgers.pop(name, None)
            return
        try:
            self.ledgers[name] = decode_ledger(value)
        except ValueError as exc:
            log.error("ledger_view_undecodable", key=name, error=str(exc)[:200])

    def lookup(self, scope: EvidenceScope, value: str, now: float) -> ScopeEvidence:
        """The group's evidence about one scope value as of ``now``."""
        ledger = self.ledgers.get(ledger_key(scope, value))
        return NO_EVIDENCE if ledger is None else summary(ledger, now, policy=self.policy)
