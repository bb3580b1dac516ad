"""Judge a run: the alerts and dead letters read back against the ground truth.

Identities compared: ``(invoice_id, kind, severity)`` for alerts, ``(key, error_reason)``
for dead letters; an identity observed more than once counts once (delivery is at least once;
repeats are reported). What is judged:

- every per-invoice alert kind (``unsynced``, ``rejected``, ``resolved``, ``orphan_ack``) about
  an invoice id or record key of this run; alerts about other ids are ignored (``foreign``);
- expected alerts due after the cutoff (usually ``critical``, see ``--horizon``) are not
  judged, and alerts matching them are neither true nor false positives;
- ``degraded`` alerts and the ``resolved`` that end them carry no invoice id: they depend on
  window counts, not on one invoice, so they are listed but not scored.

Causes: every expected ``unsynced`` alert observed (first delivery) of an invoice whose truth
names a cause is compared on ``probable_cause.code``; accuracy = right / compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .truth import AlertIdentity, DeadLetterIdentity, GroundTruth

T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Score(Generic[T]):
    """Precision and recall of ``observed`` against ``expected``.

    With nothing observed precision is 1.0 (no false alarm); with nothing expected recall
    is 1.0 (nothing missed).
    """

    expected: frozenset[T]
    observed: frozenset[T]

    @property
    def true_positives(self) -> frozenset[T]:
        """Observed and expected."""
        return self.expected & self.observed

    @property
    def false_positives(self) -> frozenset[T]:
        """Observed but not expected."""
        return self.observed - self.expected

    @property
    def missed(self) -> frozenset[T]:
        """Expected but not observed."""
        return self.expected - self.observed

    @property
    def precision(self) -> float:
        """True positives / observed."""
        return len(self.true_positives) / len(self.observed) if self.observed else 1.0

    @property
    def recall(self) -> float:
        """True positives / expected."""
        return len(self.true_positives) / len(self.expected) if self.expected else 1.0

    def meets(self, minimum: float) -> bool:
        """Both precision and recall at least ``minimum``."""
        return self.precision >= minimum and self.recall >= minimum


@dataclass(frozen=True, slots=True)
class CauseScore:
    """How many (expected cause, observed cause) pairs the judged unsynced alerts had."""

    pairs: tuple[tuple[str, str, int], ...] = ()

    @property
    def compared(self) -> int:
        """Unsynced alerts whose cause was judged."""
        return sum(count for _, _, count in self.pairs)

    @property
    def right(self) -> int:
        """Those naming the expected cause."""
        return sum(count for expected, observed, count in self.pairs if expected == observed)

    @property
    def accuracy(self) -> float:
        """Right / compared (1.0 with nothing to compare)."""
        return self.right / self.compared if self.compared else 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judged run."""

    alerts: Score[AlertIdentity]
    dead_letters: Score[DeadLetterIdentity]
    not_judged: int = 0
    repeats: int = 0
    foreign: int = 0
    scopes: tuple[str, ...] = field(default=())
    causes: CauseScore = field(default=CauseScore())

    def passed(self, minimum: float = 1.0, cause_minimum: float = 0.0) -> bool:
        """Alerts and dead letters both meet ``minimum``, cause accuracy ``cause_minimum``."""
        return (self.alerts.meets(minimum) and self.dead_letters.meets(minimum)
                and self.causes.accuracy >= cause_minimum)


def judge(
    truth: GroundTruth,
    alerts: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[tuple[str | None, str]],
    cutoff: float,
) -> Verdict:
    """Score ``alerts`` (decoded alert events) and ``dead_letters`` ((key, error_reason)).

    Expected alerts due after ``cutoff`` (epoch seconds) are left out of the judgement.
    """
    known = truth.known_ids()
    expected: set[AlertIdentity] = set()
    later: set[AlertIdentity] = set()
    for invoice in truth.invoices:
        for identity, due_at in invoice.identities():
            (expected if due_at <= cutoff else later).add(identity)
    observed: set[AlertIdentity] = set()
    causes = {truth.invoice_id: truth.cause for truth in truth.invoices if truth.cause}
    pairs: Counter[tuple[str, str]] = Counter()
    scopes: list[str] = []
    repeats = foreign = 0
    for alert in alerts:
        invoice_id = str(alert.get("invoice_id") or "")
        if not invoice_id:
            scope = str(alert.get("scope") or "")
            scopes.append(f"{alert.get('kind')} {scope}={alert.get(scope, '') if scope else ''}")
            continue
        if invoice_id not in known:
            foreign += 1
            continue
        identity = (invoice_id, str(alert.get("kind")), str(alert.get("severity")))
        if identity in later:
            continue
        if identity in observed:
            repeats += 1
            continue
        observed.add(identity)
        if identity[1] == "unsynced" and identity in expected and invoice_id in causes:
            cause = alert.get("probable_cause") or {}
            pairs[(causes[invoice_id], str(cause.get("code") or "none"))] += 1
    letters: set[DeadLetterIdentity] = set()
    for key, reason in dead_letters:
        if key is None or key not in known:
            foreign += 1
            continue
        letters.add((key, reason))
    expected_letters = frozenset(letter.identity for letter in truth.dead_letters)
    return Verdict(
        alerts=Score(frozenset(expected), frozenset(observed)),
        dead_letters=Score(expected_letters, frozenset(letters)),
        not_judged=len(later),
        repeats=repeats,
        foreign=foreign,
        scopes=tuple(scopes),
        causes=CauseScore(tuple((e, o, n) for (e, o), n in sorted(pairs.items()))),
    )
