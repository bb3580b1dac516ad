"""``invoice-sync status | pending | report``: the operator API from a terminal.

Any worker can be asked (``--url``, or ``INVOICE_SYNC_API_URL``, default
``http://127.0.0.1:6066``): lookups are routed to the owner, lists and reports fan out.
The bearer token comes from ``INVOICE_SYNC_API_TOKEN``, or the file named by
``INVOICE_SYNC_API_TOKEN_FILE`` (its first line). Exit codes: 0 answered, 1 unknown invoice
(404), 2 bad parameter (400), 3 the service could not answer (unreachable, 503), 4 not
authenticated or not allowed (401, 403).
"""

from __future__ import annotations

import itertools
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import orjson

from pipeline.queries.export import (
    DisplayZoneError,
    display_zone,
    local_time,
    write_pending_csv,
    write_report_csv,
    zone_label,
)

DEFAULT_URL = "http://127.0.0.1:6066"
EXIT_NOT_FOUND, EXIT_BAD_REQUEST, EXIT_UNAVAILABLE, EXIT_DENIED = 1, 2, 3, 4


class ApiError(Exception):
    """The API answered with an error, or could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def exit_code(self) -> int:
        return {404: EXIT_NOT_FOUND, 400: EXIT_BAD_REQUEST, 401: EXIT_DENIED, 403: EXIT_DENIED,
                409: EXIT_BAD_REQUEST}.get(self.status, EXIT_UNAVAILABLE)


def base_url(url: str | None) -> str:
    return (url or os.environ.get("INVOICE_SYNC_API_URL") or DEFAULT_URL).rstrip("/")


def api_token() -> str | None:
    """The caller's bearer token: INVOICE_SYNC_API_TOKEN, or INVOICE_SYNC_API_TOKEN_FILE."""
    token = os.environ.get("INVOICE_SYNC_API_TOKEN")
    path = os.environ.get("INVOICE_SYNC_API_TOKEN_FILE")
    if not token and path:
        try:
            with open(path, encoding="utf-8") as file:
                token = file.readline().strip()
        except OSError as exc:
            raise ApiError(0, f"INVOICE_SYNC_API_TOKEN_FILE={path}: {exc.strerror}") from None
    return token or None


def get(url: str, path: str, params: dict[str, str] | None = None,
        timeout: float = 30.0) -> dict[str, Any]:
    """GET a JSON document; ApiError on an error status or a connection failure."""
    return call("GET", url, path, params, timeout=timeout)


def call(method: str, url: str, path: str, params: dict[str, str] | None = None,
         body: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """One API call with the caller's token; ApiError on an error status or no answer."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    token = api_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = None
    if body is not None:
        payload = orjson.dumps(body)
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"{url}{path}{query}", data=payload, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: dict[str, Any] = orjson.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        answer = exc.read()
        try:
            message = str(orjson.loads(answer).get("message", answer[:200]))
        except (orjson.JSONDecodeError, AttributeError):
            message = answer[:200].decode("utf-8", "replace")
        raise ApiError(exc.code, message) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(0, f"cannot reach {url}: {exc}") from None


def _params(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def status(url: str, invoice_id: str, out: TextIO, zone: ZoneInfo | None = None) -> None:
    zone = zone or display_zone(None)
    view = get(url, "/invoices/" + urllib.parse.quote(invoice_id, safe=""))
    ack = view.get("acknowledgement") or {}
    closed = view.get("closed")
    lines = [
        ("invoice", view["invoice_id"]),
        ("number", view.get("invoice_number")),
        ("status", view["status"]),
        (zone_label("issued at", zone), local_time(view.get("issued_at"), zone) or None),
        ("region / source", f"{view.get('region_code')} / {view.get('source_system')}"),
        ("seller", " ".join(filter(None, [view.get("seller_tax_id"), view.get("seller_name")]))
         or None),
        ("total amount", view.get("total_amount")),
        ("acknowledgement", ack.get("status")),
        ("acknowledged at", local_time(ack.get("acknowledged_at"), zone) or None),
        ("reason", " ".join(filter(None, [ack.get("reason_code"), ack.get("reason")])) or None),
        ("latency", _seconds(view.get("latency_seconds"))),
        ("age", _seconds(view.get("age_seconds"))),
        ("warning deadline", local_time(view["deadlines"]["warning"], zone) or None),
        ("critical deadline", local_time(view["deadlines"]["critical"], zone) or None),
        ("alerts", ", ".join(f"{a['kind']}/{a['severity']} {a['alert_id']}"
                             for a in view["alerts"]) or "none"),
        ("closed", None if not closed else
         f"{closed['reason']} by {closed['actor']} at {local_time(closed['at'], zone)}"),
    ]
    for label, value in lines:
        if value is not None:
            out.write(f"{label:<30} {value}\n")
    for action in view.get("actions") or []:
        note = f": {action['note']}" if action.get("note") else ""
        out.write(f"{'action':<30} {local_time(action['at'], zone)} {action['kind']} "
                  f"{action.get('reason') or ''} by {action['actor']}{note}\n")


def act(url: str, kind: str, invoice_id: str, out: TextIO, *, reason: str | None,
        note: str | None, as_json: bool) -> None:
    """POST /invoices/{id}/close or /reopen (an operator token is needed)."""
    body = {k: v for k, v in (("reason", reason), ("note", note)) if v is not None}
    answer = call("POST", url, f"/invoices/{urllib.parse.quote(invoice_id, safe='')}/{kind}",
                  body=body)
    if as_json:
        out.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif answer.get("status") == "accepted":
        out.write(f"{kind} of {invoice_id} recorded (action {answer['action']['action_id']}); "
                  f"the owning worker applies it shortly\n")
    else:
        done = answer["actions"][-1]
        out.write(f"{invoice_id}: {done['kind']} {done.get('reason') or ''} by {done['actor']} "
                  f"(action {done['action_id']}); status now {answer['status']}\n")


def pending_pages(url: str, params: dict[str, str], all_pages: bool,
                  ) -> Iterator[dict[str, Any]]:
    """/pending pages from ``params``'s cursor on: every page with ``all_pages``, else one."""
    params = dict(params)
    while True:
        page = get(url, "/pending", params)
        yield page
        if not page["next_cursor"] or not all_pages:
            return
        params["cursor"] = page["next_cursor"]


def pending(url: str, out: TextIO, *, region_code: str | None, source_system: str | None,
            older_than: str | None, limit: int, cursor: str | None, all_pages: bool,
            seller_tax_id: str | None = None, output: str = "table",
            zone: ZoneInfo | None = None) -> None:
    zone = zone or display_zone(None)
    params = _params(region_code=region_code, source_system=source_system,
                     older_than=older_than, limit=limit, cursor=cursor,
                     seller_tax_id=seller_tax_id)
    last: dict[str, Any] = {}
    pages = pending_pages(url, params, all_pages)
    first = next(pages)  # an error before any output: no header above an error message

    def rows() -> Iterator[list[dict[str, Any]]]:
        for page in itertools.chain([first], pages):
            last.update(page)
            yield page["items"]

    if output == "csv":
        write_pending_csv(out, rows(), zone)
        if last.get("next_cursor"):
            print(f"invoice-sync pending: first page only; more: --cursor "
                  f"{last['next_cursor']} (or --all)", file=sys.stderr)
        return
    out.write(f"{'invoice_id':<22} {'status':<9} {zone_label('issued_at', zone):<34} "
              f"{'age':>9} {'region':<7} {'seller':<20} {'total':>12} alerted\n")
    shown = 0
    for items in rows():
        for row in items:
            out.write(f"{row['invoice_id']:<22} {row['status']:<9} "
                      f"{local_time(row['issued_at'], zone):<34} "
                      f"{_seconds(row['age_seconds']):>9} {row['region_code'] or '':<7} "
                      f"{(row.get('seller_name') or row.get('seller_tax_id') or '')[:20]:<20} "
                      f"{row.get('total_amount') or '':>12} {row['alerted'] or '-'}\n")
            shown += 1
    if last.get("next_cursor"):
        out.write(f"... more: --cursor {last['next_cursor']} (or --all)\n")
    out.write(f"{shown} pending invoice(s) shown\n")


def pending_json(url: str, params: dict[str, str], all_pages: bool) -> dict[str, Any]:
    """The API's answer; with ``all_pages`` one document holding every page's items."""
    pages = list(pending_pages(url, params, all_pages))
    items = [row for page in pages for row in page["items"]]
    return {"items": items, "count": len(items), "next_cursor": pages[-1]["next_cursor"],
            "workers": pages[-1].get("workers")}


def report(url: str, out: TextIO, *, region_code: str | None, source_system: str | None,
           since: str | None, until: str | None, output: str = "table",
           zone: ZoneInfo | None = None) -> None:
    zone = zone or display_zone(None)
    r = get(url, "/summary", _params(region_code=region_code, source_system=source_system,
                                      since=since, until=until))
    if output == "csv":
        write_report_csv(out, r, zone)
        return
    period = (f"{local_time(r['period']['since'], zone) or 'start of retention'} .. "
              f"{local_time(r['period']['until'], zone) or 'now'} ({zone.key})")
    out.write(f"{'period':<24} {period}\n")
    if r.get("region_code"):
        out.write(f"{'region':<24} {r['region_code']}\n")
    for key in ("issued", "synced", "pending", "rejected", "closed",
                "acknowledged_not_issued", "red_letter"):
        out.write(f"{key:<24} {r.get(key, 0):>8}\n")
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


def run(command: str, args: Any, out: TextIO | None = None) -> int:
    """Run status, pending or report; returns the exit code."""
    out = out or sys.stdout
    url = base_url(args.url)
    try:
        zone = display_zone(getattr(args, "tz", None))
    except DisplayZoneError as exc:
        print(f"invoice-sync {command}: --tz: {exc}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    output = getattr(args, "format", "table")
    if output == "csv" and out is sys.stdout and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", newline="")  # Chinese whatever the locale
    try:
        if command in ("close", "reopen"):
            act(url, command, args.invoice_id, out, reason=getattr(args, "reason", None),
                note=args.note, as_json=args.json)
        elif command == "status":
            if args.json:
                data = get(url, "/invoices/" + urllib.parse.quote(args.invoice_id, safe=""))
                out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
            else:
                status(url, args.invoice_id, out, zone)
        elif command == "pending":
            if args.json:
                data = pending_json(url, _params(
                    region_code=args.region_code, source_system=args.source_system,
                    older_than=args.older_than, limit=args.limit, cursor=args.cursor,
                    seller_tax_id=args.seller_tax_id), args.all)
                out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
            else:
                pending(url, out, region_code=args.region_code,
                        source_system=args.source_system, older_than=args.older_than,
                        limit=args.limit, cursor=args.cursor, all_pages=args.all,
                        seller_tax_id=args.seller_tax_id, output=output, zone=zone)
        elif args.json:
            data = get(url, "/summary", _params(
                region_code=args.region_code, source_system=args.source_system,
                since=args.since, until=args.until))
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            report(url, out, region_code=args.region_code, source_system=args.source_system,
                   since=args.since, until=args.until, output=output, zone=zone)
    except ApiError as exc:
        print(f"invoice-sync {command}: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
