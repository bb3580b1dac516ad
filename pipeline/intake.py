"""The front door: turn one Kafka record into a validated event or a dead-letter verdict.

Pure and total: :func:`classify` never raises on any key or value, so a poison record can only
ever become a :class:`Rejected` with one of the dead-letter reasons the metrics count.
The common valid issued event takes the fast path (:mod:`pipeline.intake_fast`, orjson and
precompiled checks); anything else is judged by the pydantic contract, which also names the error.
:func:`classify_by_contract` is the contract alone (the reference the fast path is tested
against, and the benchmark's "before").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, overload

from pydantic import ValidationError

from pipeline import intake_fast
from pipeline.contracts import InvoiceIssued, InvoiceSubmitted, TaxAcknowledged, compact_error
from pipeline.contracts.action import InvoiceAction
from pipeline.correlation.frozen import quick_init

MAX_VALUE_BYTES = 1024 * 1024
"""Values larger than this (1 MiB) are rejected as ``too_large`` without being parsed."""

RejectReason = Literal["too_large", "not_json", "contract", "key_mismatch"]
EventKind = Literal["issued", "submitted", "acknowledged", "action"]
E = TypeVar("E", InvoiceIssued, InvoiceSubmitted, TaxAcknowledged, InvoiceAction)

_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type"})


@quick_init
@dataclass(frozen=True, slots=True)
class Accepted(Generic[E]):
    """A record that satisfies its contract; ``warnings`` as from ``event.warnings()``."""

    event: E
    warnings: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class Rejected:
    """A record for the dead-letter topic; ``error`` is a short message without input values."""

    reason: RejectReason
    error: str


@overload
def classify(
    kind: Literal["issued"], key: bytes | None, value: bytes | None
) -> Accepted[InvoiceIssued] | Rejected: ...
@overload
def classify(
    kind: Literal["submitted"], key: bytes | None, value: bytes | None
) -> Accepted[InvoiceSubmitted] | Rejected: ...
@overload
def classify(
    kind: Literal["acknowledged"], key: bytes | None, value: bytes | None
) -> Accepted[TaxAcknowledged] | Rejected: ...
@overload
def classify(
    kind: Literal["action"], key: bytes | None, value: bytes | None
) -> Accepted[InvoiceAction] | Rejected: ...
def classify(
    kind: EventKind, key: bytes | None, value: bytes | None
) -> (Accepted[InvoiceIssued] | Accepted[InvoiceSubmitted] | Accepted[TaxAcknowledged]
      | Accepted[InvoiceAction] | Rejected):
    """Validate one record of ``kind`` read from Kafka (``key`` must equal ``invoice_id``).

    Checks in order: size, JSON object, contract, key. Raises only ``ValueError`` for an
    unknown ``kind`` (a programming error, not bad input).
    """
    if kind == "issued":
        return _classify(InvoiceIssued, key, value, intake_fast.issued)
    if kind == "submitted":
        # no fast path: uploads are a fraction of the traffic (pipeline.intake_fast)
        return _classify(InvoiceSubmitted, key, value, None)
    if kind == "acknowledged":
        # no fast path: pydantic's parser is already the cheaper one (pipeline.intake_fast)
        return _classify(TaxAcknowledged, key, value, None)
    if kind == "action":
        return _classify(InvoiceAction, key, value, None)
    raise ValueError(f"unknown event kind {kind!r}")


@overload
def classify_by_contract(
    kind: Literal["issued"], key: bytes | None, value: bytes | None
) -> Accepted[InvoiceIssued] | Rejected: ...
@overload
def classify_by_contract(
    kind: Literal["acknowledged"], key: bytes | None, value: bytes | None
) -> Accepted[TaxAcknowledged] | Rejected: ...
@overload
def classify_by_contract(
    kind: Literal["action"], key: bytes | None, value: bytes | None
) -> Accepted[InvoiceAction] | Rejected: ...
def classify_by_contract(
    kind: EventKind, key: bytes | None, value: bytes | None
) -> Accepted[InvoiceIssued] | Accepted[TaxAcknowledged] | Accepted[InvoiceAction] | Rejected:
    """:func:`classify` by the pydantic contract alone, without the fast path."""
    if kind == "issued":
        return _classify(InvoiceIssued, key, value, None)
    if kind == "acknowledged":
        return _classify(TaxAcknowledged, key, value, None)
    if kind == "action":
        return _classify(InvoiceAction, key, value, None)
    raise ValueError(f"unknown event kind {kind!r}")


def _classify(model: type[E], key: bytes | None, value: bytes | None,
              fast: Callable[[bytes], tuple[E, tuple[str, ...]] | None] | None,
              ) -> Accepted[E] | Rejected:
    if value is None or not value:
        return Rejected("not_json", "empty record value")
    if len(value) > MAX_VALUE_BYTES:
        return Rejected("too_large", f"value is {len(value)} bytes; the limit is {MAX_VALUE_BYTES}")
    if fast is not None:
        try:
            plain = fast(value)
        except Exception:  # a fast-path bug must cost only speed: the contract decides
            plain = None
        if plain is not None:
            mismatch = _key_mismatch(key, plain[0].invoice_id)
            if mismatch:
                return Rejected("key_mismatch", mismatch)
            return Accepted(*plain)
    try:
        event = model.model_validate_json(value)
    except ValidationError as error:
        return _rejection(error)
    except Exception as error:  # a validator bug must not stop the worker on one record
        return Rejected("contract", f"validation failed unexpectedly: {type(error).__name__}")
    mismatch = _key_mismatch(key, event.invoice_id)
    if mismatch:
        return Rejected("key_mismatch", mismatch)
    return Accepted(event, tuple(event.warnings()))


def _rejection(error: ValidationError) -> Rejected:
    details = error.errors(include_url=False, include_input=False, include_context=False)
    root_types = {detail["type"] for detail in details if not detail["loc"]}
    if "json_invalid" in root_types:
        return Rejected("not_json", compact_error(error))
    if root_types & _NOT_AN_OBJECT:
        return Rejected("not_json", "value is JSON but not a JSON object")
    return Rejected("contract", compact_error(error))


def _key_mismatch(key: bytes | None, invoice_id: str) -> str | None:
    if key is None:
        return "record has no key; the key must be the invoice_id"
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return "record key is not UTF-8; the key must be the invoice_id"
    if text != invoice_id:
        return f"record key ({len(key)} bytes) does not equal invoice_id"
    return None
