"""``invoice-sync status | pending | report``: the operator API from a terminal.

Any worker can be asked (``--url``, or ``INVOICE_SYNC_API_URL``, default
``http://127.0.0.1:6066``): lookups are routed to the owner, lists and reports fan out.
Exit codes: 0 answered, 1 unknown invoice (404), 2 bad parameter (400), 3 the service could not
answer (unreachable, 503).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

import orjson

DEFAULT_URL = "http://127.0.0.1:6066"
EXIT_NOT_FOUND, EXIT_BAD_REQUEST, EXIT_UNAVAILABLE = 1, 2, 3


class ApiError(Exception):
    """The API answered with an error, or could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def exit_code(self) -> int:
        return {404: EXIT_NOT_FOUND, 400: EXIT_BAD_REQUEST}.get(self.status, EXIT_UNAVAILABLE)


def base_url(url: str | None) -> str:
    return (url or os.environ.get("INVOICE_SYNC_API_URL") or DEFAULT_URL).rstrip("/")


def get(url: str, path: str, params: dict[str, str] | None = None,
        timeout: float = 30.0) -> dict[str, Any]:
    """GET a JSON document; ApiError on an error status or a connection failure."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    try:
        with urllib.request.urlopen(f"{url}{path}{query}", timeout=timeout) as response:
            data: dict[str, Any] = orjson.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            message = str(orjson.loads(body).get("message", body[:200]))
        except (orjson.JSONDecodeError, AttributeError):
            message = body[:200].decode("utf-8", "replace")
        raise ApiError(exc.code, message) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(0, f"cannot reach {url}: {exc}") from None


def _params(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def status(url: str, invoice_id: str, out: TextIO) -> None:
    view = get(url, "/invoices/" + urllib.parse.quote(invoice_id, safe=""))
    ack = view.get("acknowledgement") or {}
    upload = view.get("submission") or {}
    uploaded = None
    if upload:
        uploaded = (f"attempt {upload.get('attempts')} at {upload.get('last_attempt_at')} over "
                    f"{upload.get('channel')} ({upload.get('client')})"
                    + (f": {upload['transport_error']}" if upload.get("transport_error") else ""))
    lines = [
        ("invoice", view["invoice_id"]),
        ("status", view["status"]),
        ("issued at", view.get("issued_at")),
        ("region / source", f"{view.get('region_code')} / {view.get('source_system')}"),
        ("seller", view.get("seller_tax_id")),
        ("last upload", uploaded),
        ("acknowledgement", ack.get("status")),
        ("acknowledged at", ack.get("acknowledged_at")),
        ("reason", " ".join(filter(None, [ack.get("reason_code"), ack.get("reason")])) or None),
        ("latency", _seconds(view.get("latency_seconds"))),
        ("age", _seconds(view.get("age_seconds"))),
        ("warning deadline", view["deadlines"]["warning"]),
        ("critical deadline", view["deadlines"]["critical"]),
        ("alerts", ", ".join(f"{a['kind']}/{a['severity']} {a['alert_id']}"
                             for a in view["alerts"]) or "none"),
    ]
    for label, value in lines:
        if value is not None:
            out.write(f"{label:<18} {value}\n")


def pending(url: str, out: TextIO, *, region_code: str | None, source_system: str | None,
            older_than: str | None, limit: int, cursor: str | None, all_pages: bool) -> None:
    params = _params(region_code=region_code, source_system=source_system,
                     older_than=older_than, limit=limit, cursor=cursor)
    out.write(f"{'invoice_id':<22} {'status':<9} {'issued_at':<26} {'age':>9} "
              f"{'region':<7} {'source':<16} alerted\n")
    shown = 0
    while True:
        page = get(url, "/pending", params)
        for row in page["items"]:
            out.write(f"{row['invoice_id']:<22} {row['status']:<9} {row['issued_at']:<26} "
                      f"{_seconds(row['age_seconds']):>9} {row['region_code'] or '':<7} "
                      f"{(row['source_system'] or '')[:16]:<16} {row['alerted'] or '-'}\n")
        shown += page["count"]
        if not page["next_cursor"]:
            break
        if not all_pages:
            out.write(f"... more: --cursor {page['next_cursor']} (or --all)\n")
            break
        params["cursor"] = page["next_cursor"]
    out.write(f"{shown} pending invoice(s) shown\n")


def report(url: str, out: TextIO, *, region_code: str | None, source_system: str | None,
           since: str | None, until: str | None) -> None:
    r = get(url, "/summary", _params(region_code=region_code, source_system=source_system,
                                      since=since, until=until))
    period = f"{r['period']['since'] or 'start of retention'} .. {r['period']['until'] or 'now'}"
    out.write(f"{'period':<24} {period}\n")
    if r.get("region_code"):
        out.write(f"{'region':<24} {r['region_code']}\n")
    for key in ("issued", "synced", "pending", "rejected", "acknowledged_not_issued",
                "red_letter"):
        out.write(f"{key:<24} {r[key]:>8}\n")
    out.write(f"{'alerted':<24} {r['alerted']['warning']:>8} warning, "
              f"{r['alerted']['critical']} critical\n")
    lat = r["latency_seconds"]
    out.write(f"{'latency':<24} p50 {_seconds(lat['p50'])}  p90 {_seconds(lat['p90'])}  "
              f"p95 {_seconds(lat['p95'])}  p99 {_seconds(lat['p99'])}  "
              f"max {_seconds(lat['max'])}  (n={lat['count']})\n")
    if len(r["by_region"]) > 1:
        out.write(f"\n{'region':<8} {'issued':>8} {'synced':>8} {'pending':>8} {'rejected':>8}\n")
        for region, c in r["by_region"].items():
            out.write(f"{region:<8} {c['issued']:>8} {c['synced']:>8} {c['pending']:>8} "
                      f"{c['rejected']:>8}\n")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def run(command: str, args: Any, out: TextIO = sys.stdout) -> int:
    """Run one of the three commands; returns the exit code."""
    url = base_url(args.url)
    try:
        if args.json:
            if command == "status":
                data: Any = get(url, "/invoices/" + urllib.parse.quote(args.invoice_id, safe=""))
            elif command == "pending":
                data = get(url, "/pending", _params(
                    region_code=args.region_code, source_system=args.source_system,
                    older_than=args.older_than, limit=args.limit, cursor=args.cursor))
            else:
                data = get(url, "/summary", _params(
                    region_code=args.region_code, source_system=args.source_system,
                    since=args.since, until=args.until))
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        elif command == "status":
            status(url, args.invoice_id, out)
        elif command == "pending":
            pending(url, out, region_code=args.region_code, source_system=args.source_system,
                    older_than=args.older_than, limit=args.limit, cursor=args.cursor,
                    all_pages=args.all)
        else:
            report(url, out, region_code=args.region_code, source_system=args.source_system,
                   since=args.since, until=args.until)
    except ApiError as exc:
        print(f"invoice-sync {command}: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
