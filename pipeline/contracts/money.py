"""Money on the wire: Decimal(18,2) values carried as strings with exactly two places."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

MONEY_PATTERN = r"^-?[0-9]{1,16}\.[0-9]{2}$"
CENT = Decimal("0.01")
# Decimal(18,2): at most 16 digits before the point.
MONEY_LIMIT = Decimal(10) ** 16

_MONEY_RE = re.compile(MONEY_PATTERN)


def parse_money(value: Any) -> Decimal:
    """Accept a two-place decimal string (the wire form) or an exact ``Decimal``.

    JSON numbers are refused: a float has already lost the cents the invoice was issued with.
    """
    if isinstance(value, str):
        if not _MONEY_RE.fullmatch(value):
            raise ValueError('must be a decimal string with exactly two places, e.g. "100.00"')
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or abs(value) >= MONEY_LIMIT:
            raise ValueError("must be a finite Decimal(18,2)")
        try:
            amount = value.quantize(CENT)
        except InvalidOperation as error:
            raise ValueError("must be a finite Decimal(18,2)") from error
        if amount != value:
            raise ValueError("must not have more than two decimal places")
    else:
        raise ValueError('must be a decimal string with exactly two places, e.g. "100.00"')
    # Fold -0.00 into 0.00 so the wire form is unique.
    return amount if amount else abs(amount)


def format_money(value: Decimal) -> str:
    """The wire form of an amount, e.g. ``"100.00"``."""
    return format(value.quantize(CENT), "f")


Money = Annotated[
    Decimal,
    PlainValidator(parse_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "Decimal(18,2) as a string with exactly two places, e.g. \"100.00\".",
        }
    ),
]
"""An amount in the invoice currency: ``Decimal`` in Python, two-place string on the wire."""
