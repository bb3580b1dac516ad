"""Group-wide scope evidence in the worker: observations out, one owner per scope ledger.

Each worker sees a share of every region, source system and client version; the scope evidence
(pipeline/correlation/evidence.py) must be the group's. So:

- :class:`EvidenceOutbox`: what the worker observed (deadlines due, late syncs, uploads, answers)
  goes out at most every ``FLUSH_SPACING`` seconds, one record per scope value touched (its
  observations as runs: a burst of uploads is one run), to the evidence topic, on the partition
  fixed by the scope's key (``ledger_partition``). Sent per batch, it doubled the batches the
  agent handles (each came back as evidence records) and added a round trip per batch (alert
  lateness in ``make bench --quick`` 27-39 s p50 against main's 12-17 s, a noisy shared machine).
  A crash loses what was observed since the last send (docs/causes.md, limits);
- :class:`ScopeLedgers`: the evidence topic is one more co-partitioned input of the single agent,
  so the worker owning partition *p* folds the observations of the scopes keyed to *p* into their
  ledgers, in a faust table (RocksDB + changelog: durable across restarts, moved with the
  partition), and on *p*'s ticks alone opens and closes their ``degraded`` episodes. One scope,
  one owner: one episode, one ``alert_id``, whichever workers saw its invoices; a restarted or new
  owner recovers the open episode with the ledger and resolves it.

Every write happens inside the agent's stream iteration, on the partition of the event in hand
(evidence record of *p*, or tick of *p*), which is the ledger's own partition (FAUST.md trap 2).
Every worker reads all ledgers through :class:`~pipeline.worker.ledger_view.LedgerView`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from pipeline.correlation.alerts import Alert, Scope
from pipeline.correlation.causes import NO_EVIDENCE
from pipeline.correlation.evidence import (
    LedgerPolicy,
    Observation,
    Run,
    ScopeLedger,
    decode_ledger,
    decode_runs,
    encode_ledger,
    encode_runs,
    evaluate,
    ledger_key,
    ledger_partition,
    observe_run,
    parse_ledger_key,
    scope_keys,
)
from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow
from pipeline.correlation.state import InvoiceState
from pipeline.logs import get_logger
from pipeline.worker.ledger_view import LedgerView

log = get_logger(__name__)

#: Observations are sent at most this often (seconds): evidence counts over minutes.
FLUSH_SPACING = 0.5
#: Backoff (seconds) while observations cannot be sent (e.g. the broker is away).
SEND_RETRY_FIRST = 0.1
SEND_RETRY_MAX = 5.0


#: Distinct (region, source, client) whose ledger keys are remembered (then forgotten at once).
KEYS_CACHED = 10_000

#: A run being gathered (a mutable twin of ``evidence.Run``, on the per-event path):
#: kind, failed, bucket index, first at, last at, count, unsynced.
_OpenRun = list[Any]


class EvidenceOutbox:
    """What this worker observed since the last send, per ledger key, as runs (a run: one kind
    in one bucket, ``evidence.runs``), gathered as they come: a few µs per observation."""

    def __init__(self, topic: Any, partitions: int, policy: LedgerPolicy) -> None:
        self._topic = topic
        self._partitions = partitions
        self._policy = policy
        self._pending: dict[str, list[_OpenRun]] = {}
        self._keys: dict[tuple[str | None, str | None, str | None], list[str]] = {}
        self._flushed_at = 0.0

    def add(self, state: InvoiceState, observation: Observation) -> None:
        """``observation`` about ``state``'s invoice counts for each scope it belongs to."""
        scope = (state.region_code, state.source_system, state.client)
        keys = self._keys.get(scope)
        if keys is None:
            if len(self._keys) >= KEYS_CACHED:
                self._keys.clear()
            keys = self._keys[scope] = [ledger_key(s, v) for s, v in scope_keys(state)]
        kind, at, failed = observation.kind, observation.at, observation.failed
        index = self._policy.index(at)
        pending = self._pending
        for key in keys:
            found = pending.get(key)
            if found is None:
                found = pending[key] = []
            elif (last := found[-1])[0] == kind and last[1] == failed and last[2] == index:
                if at > last[4]:
                    last[4] = at
                last[5] += 1
                last[6] += observation.unsynced
                continue
            found.append([kind, failed, index, at, at, 1, int(observation.unsynced)])

    def runs(self, key: str) -> list[Run]:
        """The runs gathered for ``key`` so far."""
        return [Run(kind, first, last, count, unsynced, failed)
                for kind, failed, _, first, last, count, unsynced in self._pending.get(key, [])]

    async def send(self) -> list[Any] | None:
        """Start sending the batch's records, one per ledger key: their deliveries, for
        :meth:`confirm` (None: the send failed at once; confirm sends again)."""
        try:
            return [await self._topic.send(
                key=key.encode(), value=encode_runs(self.runs(key)),
                partition=ledger_partition(key, self._partitions))
                for key in self._pending]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("evidence_send_failed", error=repr(exc)[:500])
            return None

    async def confirm(self, deliveries: list[Any] | None) -> None:
        """Wait until the broker has every record :meth:`send` started, sending them again
        after a failure until it does: the batch must not be committed without them."""
        delay = SEND_RETRY_FIRST
        while True:
            try:
                if deliveries is None:
                    deliveries = await self.send()
                    if deliveries is None:
                        raise ConnectionError("evidence not sent")
                await asyncio.gather(*deliveries)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("evidence_send_retried", retry_in=delay, error=repr(exc)[:500])
                await asyncio.sleep(delay)
                delay = min(delay * 2, SEND_RETRY_MAX)
                deliveries = None
        self._pending.clear()

    async def flush(self) -> None:
        """:meth:`send` and :meth:`confirm`."""
        await self.confirm(await self.send())

    async def flush_due(self, now: float) -> None:
        """:meth:`flush` if ``FLUSH_SPACING`` passed since the last one (``now``: monotonic)."""
        if self._pending and now - self._flushed_at >= FLUSH_SPACING:
            await self.flush()
            self._flushed_at = now


class ScopeLedgers:
    """The ledgers of the scopes keyed to this worker's partitions, and their episodes."""

    def __init__(self, table: MutableMapping[str, bytes], view: LedgerView, *,
                 policy: LedgerPolicy, partitions: int, submissions_tracked: bool,
                 maintenance: MaintenanceCalendar | None = None) -> None:
        self.table = table
        self.view = view
        self.policy = policy
        self.partitions = partitions
        self.submissions_tracked = submissions_tracked
        self.maintenance = maintenance

    def on_evidence(self, key: str, value: bytes) -> None:
        """Fold one evidence record into its ledger; ValueError for a defective record (the
        processor dead-letters it)."""
        parse_ledger_key(key)
        found = decode_runs(value)
        ledger = self._load(key)
        for run in found:
            ledger = observe_run(ledger, run, policy=self.policy)
        self.table[key] = encode_ledger(ledger)

    async def evaluate(self, partition: int, now: float,
                       emit: Callable[[Sequence[Alert]], Awaitable[None]]) -> list[Alert]:
        """Open and close the episodes of ``partition``'s scopes as of ``now``: the alerts are
        delivered before the ledgers that record them are written. A ledger with nothing left
        in its window and no open episode is deleted."""
        alerts: list[Alert] = []
        writes: dict[str, ScopeLedger | None] = {}
        for key, raw in list(self.table.items()):
            if ledger_partition(key, self.partitions) != partition:
                continue
            scope, value = parse_ledger_key(key)
            ledger = decode_ledger(raw)
            parent = (NO_EVIDENCE if scope == "platform"
                      else self.view.lookup("platform", "", now))
            new, raised = evaluate(ledger, scope, value, now, policy=self.policy, parent=parent,
                                   submissions_tracked=self.submissions_tracked,
                                   maintenance=self._window(scope, value, now))
            alerts.extend(raised)
            if self._spent(new, now):
                writes[key] = None
            elif new != ledger:
                writes[key] = new
        if alerts:
            await emit(alerts)
        for key, written in writes.items():
            if written is None:
                del self.table[key]
            else:
                self.table[key] = encode_ledger(written)
        return alerts

    def active(self) -> list[tuple[Scope, str]]:
        """(scope, value) of the episodes open in the ledgers this worker owns."""
        found: list[tuple[Scope, str]] = []
        for key, raw in list(self.table.items()):
            if decode_ledger(raw).episode_id is not None:
                found.append(parse_ledger_key(key))
        return sorted(found)

    def _load(self, key: str) -> ScopeLedger:
        raw = self.table.get(key)
        if raw is None:
            return ScopeLedger()
        try:
            return decode_ledger(raw)
        except ValueError:
            log.error("ledger_undecodable", key=key)  # started again: counts come back
            return ScopeLedger()

    def _window(self, scope: Scope, value: str, now: float) -> MaintenanceWindow | None:
        if self.maintenance is None:
            return None
        region = value if scope == "region_code" else None
        source = value if scope == "source_system" else None
        return self.maintenance.covering(region, source, now)

    def _spent(self, ledger: ScopeLedger, now: float) -> bool:
        """Nothing in the window, no episode open or just recovered, no silence going on."""
        oldest = self.policy.index(now) - self.policy.buckets
        silence = ledger.silence
        return (ledger.episode_id is None and ledger.recovered_bucket is None
                and all(b.index <= oldest for b in ledger.buckets)
                and (silence is None or silence.until is not None))
