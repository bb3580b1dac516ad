"""Taxpayer identifiers: classify a seller/buyer id and verify what can be verified.

Most ids are the 18-character Unified Social Credit Code (USCC, GB 32100-2015). Some legal
early-pilot codes fail their own check digit, so a failed check is a *warning* (counted in a
metric), never a reason to drop an invoice. Only format errors (wrong length or characters) make
an id unusable. Older ids are 15 or 20 characters; individuals carry an 18-character resident
ID number (GB 11643-1999), which has its own check digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {char: index for index, char in enumerate(USCC_ALPHABET)}
# W_i = 3^(i-1) mod 31 for positions 1..17.
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

_PERSONAL_ID = re.compile(r"[0-9]{17}[0-9X]")
_PERSONAL_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_PERSONAL_CHECK = "10X98765432"
_LEGACY = re.compile(r"[0-9A-Z]{15}|[0-9A-Z]{20}")


class TaxpayerIdKind(StrEnum):
    """What a taxpayer id string turned out to be."""

    USCC = "uscc"
    USCC_CHECK_DIGIT_FAILED = "uscc_check_digit_failed"
    PERSONAL_ID = "personal_id"
    LEGACY = "legacy"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class TaxpayerIdCheck:
    """The verdict on one taxpayer id; ``problem`` explains a warning or a format error."""

    kind: TaxpayerIdKind
    problem: str | None = None

    @property
    def usable(self) -> bool:
        """False only for format errors: everything else is accepted (maybe with a warning)."""
        return self.kind is not TaxpayerIdKind.INVALID

    @property
    def check_digit_failed(self) -> bool:
        """True when the id looks like a USCC but its check digit does not match (a warning)."""
        return self.kind is TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED


def uscc_check_char(first17: str) -> str:
    """The USCC check character for the first 17 characters of a code.

    >>> uscc_check_char("91350100M000100Y4")
    '3'
    """
    if len(first17) != 17 or any(char not in _USCC_VALUE for char in first17):
        raise ValueError("need 17 characters from the USCC alphabet")
    pairs = zip(first17, _USCC_WEIGHTS, strict=True)
    total = sum(_USCC_VALUE[char] * weight for char, weight in pairs)
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _personal_id_ok(value: str) -> bool:
    pairs = zip(value[:17], _PERSONAL_WEIGHTS, strict=True)
    total = sum(int(digit) * weight for digit, weight in pairs)
    if _PERSONAL_CHECK[total % 11] != value[17]:
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return True


def check_taxpayer_id(value: str) -> TaxpayerIdCheck:
    """Classify ``value`` as a USCC, a personal ID number, a legacy id, or a format error.

    An 18-character value made of USCC characters is a USCC when its check digit holds, else a
    personal ID number when that check holds, else a USCC whose check digit failed (warning).
    Lower-case letters are a format error: ids are compared byte for byte, so we do not fold case.
    """
    if len(value) == 18:
        if any(char not in _USCC_VALUE for char in value):
            return TaxpayerIdCheck(
                TaxpayerIdKind.INVALID,
                "18-character id must use 0-9 and upper-case A-Y without I, O, S, V, Z",
            )
        if uscc_check_char(value[:17]) == value[17]:
            return TaxpayerIdCheck(TaxpayerIdKind.USCC)
        if _PERSONAL_ID.fullmatch(value) and _personal_id_ok(value):
            return TaxpayerIdCheck(TaxpayerIdKind.PERSONAL_ID)
        return TaxpayerIdCheck(
            TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED, "USCC check digit does not match"
        )
    if len(value) in (15, 20):
        if _LEGACY.fullmatch(value):
            return TaxpayerIdCheck(TaxpayerIdKind.LEGACY)
        return TaxpayerIdCheck(
            TaxpayerIdKind.INVALID, "legacy id must use only digits and upper-case letters"
        )
    return TaxpayerIdCheck(
        TaxpayerIdKind.INVALID, "taxpayer id must be 18 characters (USCC or ID number), or 15 or 20"
    )
