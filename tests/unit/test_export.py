"""CSV exports for finance: BOM, Chinese text read back by the csv module, times in a zone."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest

from pipeline.queries.export import (
    DisplayZoneError,
    display_zone,
    local_time,
    write_pending_csv,
    write_report_csv,
)
from pipeline.queries.views import amount

ROW = {"invoice_id": "24111000000000000042", "invoice_number": "24111000000000000042",
       "status": "rejected", "issued_at": "2026-11-29T01:00:00+00:00", "age_seconds": 5400.0,
       "region_code": "110000", "source_system": "erp-beijing",
       "seller_tax_id": "91110108MA01AB2C0H", "seller_name": "北京示例科技有限公司",
       "total_amount": "-113.00", "alerted": "warning", "reason_code": "E1001"}


def test_pending_csv_has_a_bom_and_reads_back_with_chinese_text() -> None:
    out = io.StringIO()
    assert write_pending_csv(out, [[ROW], [ROW | {"invoice_id": "2"}]],
                             ZoneInfo("Asia/Shanghai")) == 2
    data = out.getvalue().encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0]["seller_name"] == "北京示例科技有限公司"
    assert rows[0]["issued_at (Asia/Shanghai)"] == "2026-11-29 09:00:00"
    assert rows[0]["total_amount"] == "-113.00" and rows[0]["age_hours"] == "1.50"
    assert [r["invoice_id"] for r in rows] == ["24111000000000000042", "2"]


def test_report_csv_has_a_row_per_region_and_a_total() -> None:
    report = {"period": {"since": "2026-10-31T16:00:00+00:00", "until": None},
              "issued": 3, "synced": 1, "pending": 1, "rejected": 1,
              "by_region": {"110000": {"issued": 2, "synced": 1, "pending": 1, "rejected": 0},
                            "310000": {"issued": 1, "synced": 0, "pending": 0, "rejected": 1}}}
    out = io.StringIO()
    write_report_csv(out, report, ZoneInfo("Asia/Shanghai"))
    rows = list(csv.DictReader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))
    assert [r["region_code"] for r in rows] == ["110000", "310000", "all"]
    assert rows[0]["since (Asia/Shanghai)"] == "2026-11-01 00:00:00"
    assert rows[-1]["issued"] == "3" and rows[-1]["until (Asia/Shanghai)"] == ""


def test_display_zone_default_env_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICE_SYNC_DISPLAY_TZ", raising=False)
    assert display_zone(None).key == "Asia/Shanghai"
    monkeypatch.setenv("INVOICE_SYNC_DISPLAY_TZ", "Europe/Warsaw")
    assert display_zone(None).key == "Europe/Warsaw" and display_zone("UTC").key == "UTC"
    with pytest.raises(DisplayZoneError, match="IANA"):
        display_zone("Mars/Olympus")
    assert local_time(None, ZoneInfo("UTC")) == ""


@pytest.mark.parametrize(("cents", "text"), [(11300, "113.00"), (-5, "-0.05"), (0, "0.00"),
                                             (None, None)])
def test_amounts_are_exact_decimal_strings(cents: int | None, text: str | None) -> None:
    assert amount(cents) == text
