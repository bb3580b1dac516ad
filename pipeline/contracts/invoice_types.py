"""Invoice type codes and the code space they come from.

The national verification space uses 81/82 for fully digital (数电) special/general invoices,
01/04/08/10 for legacy VAT invoices and 85/86 for paper 数电 invoices. The 乐企 (enterprise
direct-connection) channel numbers its own types: 01 专票, 02 普票 -- both fully digital. The
same "01" therefore means a legacy paper special invoice in one space and a 数电专票 in the
other, which is why every event records its ``type_code_space``.
"""

from __future__ import annotations

from typing import Literal

TypeCodeSpace = Literal["national", "leqi"]

FULLY_DIGITAL = frozenset({"81", "82"})
PAPER_DIGITAL = frozenset({"85", "86"})
LEGACY = frozenset({"01", "04", "08", "10"})
NATIONAL_TYPES = FULLY_DIGITAL | PAPER_DIGITAL | LEGACY
LEQI_TO_NATIONAL = {"01": "81", "02": "82"}


def to_national(invoice_type: str, space: TypeCodeSpace) -> str:
    """The national-space code of ``invoice_type`` (乐企 01 -> 81, 02 -> 82)."""
    if space == "leqi":
        return LEQI_TO_NATIONAL[invoice_type]
    return invoice_type


def known_types(space: TypeCodeSpace) -> frozenset[str]:
    """The codes valid in ``space``."""
    return frozenset(LEQI_TO_NATIONAL) if space == "leqi" else NATIONAL_TYPES
