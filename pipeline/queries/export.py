"""What finance opens: CSV of pending invoices and of a period's reconciliation, and times shown
in a display zone.

The API's JSON stays ISO 8601 in UTC with an offset; only what a person reads is converted, to
``INVOICE_SYNC_DISPLAY_TZ`` (default ``Asia/Shanghai``) or ``--tz``. CSV is UTF-8 with a byte
order mark, because Excel opens a BOM-less UTF-8 CSV as the system code page and garbles Chinese
seller names; the BOM is harmless to Python's csv module (``encoding="utf-8-sig"``), pandas and
LibreOffice.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DISPLAY_TZ = "Asia/Shanghai"
BOM = "\ufeff"

PENDING_COLUMNS = ("invoice_id", "invoice_number", "status", "issued_at", "age_hours",
                   "region_code", "source_system", "seller_tax_id", "seller_name",
                   "total_amount", "alerted", "reason_code")
REPORT_COLUMNS = ("since", "until", "region_code", "issued", "synced", "pending", "rejected",
                  "closed")


class DisplayZoneError(ValueError):
    """The display time zone is not a known IANA zone name."""


def display_zone(name: str | None) -> ZoneInfo:
    """``name``, else ``INVOICE_SYNC_DISPLAY_TZ``, else Asia/Shanghai."""
    chosen = name or os.environ.get("INVOICE_SYNC_DISPLAY_TZ") or DEFAULT_DISPLAY_TZ
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError):
        raise DisplayZoneError(f"time zone {chosen!r}: expected an IANA name such as "
                               f"Asia/Shanghai or UTC") from None


def local_time(iso: str | None, zone: ZoneInfo) -> str:
    """An API time (ISO 8601 with offset) as ``YYYY-MM-DD HH:MM:SS`` in ``zone``; "" for None.

    Seconds only: finance reads to the second, and Excel parses this form as a date-time."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def zone_label(column: str, zone: ZoneInfo) -> str:
    """A time column's header naming its zone: ``issued_at (Asia/Shanghai)``."""
    return f"{column} ({zone.key})"


def write_pending_csv(out: TextIO, pages: Iterable[list[dict[str, Any]]], zone: ZoneInfo,
                      ) -> int:
    """The BOM, a header row, one row per pending invoice; returns the number of rows."""
    writer = csv.writer(out)
    out.write(BOM)
    writer.writerow([zone_label(c, zone) if c == "issued_at" else c for c in PENDING_COLUMNS])
    count = 0
    for rows in pages:
        for row in rows:
            writer.writerow(pending_row(row, zone))
            count += 1
    return count


def pending_row(row: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """One /pending item as CSV cells (in PENDING_COLUMNS order)."""
    return [
        row["invoice_id"], row.get("invoice_number") or "", row["status"],
        local_time(row["issued_at"], zone), f"{row['age_seconds'] / 3600:.2f}",
        row.get("region_code") or "", row.get("source_system") or "",
        row.get("seller_tax_id") or "", row.get("seller_name") or "",
        row.get("total_amount") or "", row.get("alerted") or "", row.get("reason_code") or "",
    ]


def write_report_csv(out: TextIO, report: dict[str, Any], zone: ZoneInfo) -> None:
    """The BOM, a header row, one row per region, then the total as region ``all``."""
    writer = csv.writer(out)
    out.write(BOM)
    writer.writerow([zone_label(c, zone) if c in ("since", "until") else c
                     for c in REPORT_COLUMNS])
    since = local_time(report["period"]["since"], zone)
    until = local_time(report["period"]["until"], zone)
    for region, counts in report["by_region"].items():
        writer.writerow([since, until, region, counts["issued"], counts["synced"],
                         counts["pending"], counts["rejected"], counts.get("closed", 0)])
    writer.writerow([since, until, "all", report["issued"], report["synced"],
                     report["pending"], report["rejected"], report.get("closed", 0)])
