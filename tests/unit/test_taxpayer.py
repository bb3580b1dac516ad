"""Taxpayer id classification: USCC check digits warn, format errors reject."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.taxpayer import (
    USCC_ALPHABET,
    TaxpayerIdKind,
    check_taxpayer_id,
    uscc_check_char,
)


@dataclass(frozen=True)
class Case:
    value: str
    kind: TaxpayerIdKind


CASES = [
    Case("91350100M000100Y43", TaxpayerIdKind.USCC),  # DOMAIN.md valid example
    Case("91350100M0001TGQXM", TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED),  # legal pilot code
    Case("91350100M000100Y44", TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED),
    Case("91110108MA01AB2C0H", TaxpayerIdKind.USCC),
    Case("11010519491231002X", TaxpayerIdKind.PERSONAL_ID),  # GB 11643 example
    Case("110105194912310021", TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED),  # bad ID check -> warn
    Case("110105199902300024", TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED),  # 30 Feb is no birthday
    Case("110108123456789", TaxpayerIdKind.LEGACY),
    Case("11010812345678A", TaxpayerIdKind.LEGACY),
    Case("11010519491231002X01", TaxpayerIdKind.LEGACY),
    Case("91350100m000100y43", TaxpayerIdKind.INVALID),  # lower case
    Case("91350100M000100O43", TaxpayerIdKind.INVALID),  # O is not in the alphabet
    Case("91350100M000100I43", TaxpayerIdKind.INVALID),
    Case("91350100M000100Y4", TaxpayerIdKind.INVALID),  # 17 chars
    Case("91350100M000100Y433", TaxpayerIdKind.INVALID),  # 19 chars
    Case("", TaxpayerIdKind.INVALID),
    Case("11010812345678-", TaxpayerIdKind.INVALID),
    Case("9135 100M000100Y43", TaxpayerIdKind.INVALID),
    Case("\uff19\uff11350100M000100Y43", TaxpayerIdKind.INVALID),  # full-width digits
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.kind}-{case.value}")
def test_classification(case: Case) -> None:
    check = check_taxpayer_id(case.value)
    assert check.kind is case.kind
    assert check.usable is (case.kind is not TaxpayerIdKind.INVALID)
    assert check.check_digit_failed is (case.kind is TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED)
    assert (check.problem is None) is (case.kind in {
        TaxpayerIdKind.USCC, TaxpayerIdKind.PERSONAL_ID, TaxpayerIdKind.LEGACY})


def test_check_char_of_the_domain_example() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    "body", ["", "91350100M000100Y", "91350100M000100Y4Z", "91350100M000100I4"])
def test_check_char_needs_17_alphabet_characters(body: str) -> None:
    with pytest.raises(ValueError, match="17 characters"):
        uscc_check_char(body)


bodies = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


@given(bodies)
def test_computed_check_char_always_verifies(body: str) -> None:
    assert check_taxpayer_id(body + uscc_check_char(body)).kind is TaxpayerIdKind.USCC


@given(bodies, st.sampled_from(USCC_ALPHABET))
def test_any_other_last_char_is_at_worst_a_warning(body: str, last: str) -> None:
    check = check_taxpayer_id(body + last)
    assert check.usable
    if last != uscc_check_char(body):
        assert check.kind in {TaxpayerIdKind.USCC_CHECK_DIGIT_FAILED, TaxpayerIdKind.PERSONAL_ID}


@given(st.text(max_size=25))
def test_never_raises_and_rejects_only_bad_formats(value: str) -> None:
    check = check_taxpayer_id(value)
    if len(value) not in (15, 18, 20):
        assert check.kind is TaxpayerIdKind.INVALID
