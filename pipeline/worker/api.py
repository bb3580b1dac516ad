"""The operator API on faust's web server: one invoice, pending invoices, the period summary.

- ``GET /invoices/{invoice_id}`` is answered by the worker that owns the key: the request is
  forwarded to the URL that worker advertised to the group (``INVOICE_SYNC_ADVERTISED_URL``),
  so any worker (or a load balancer in front of them) can be asked. The owner is found from the
  issued topic's partition of the raw key, which is where the record lives (the table is
  co-partitioned with its input); faust's ``table_route`` would hash the table's
  JSON-serialised key (``"2411..."`` with quotes) and land on the wrong worker. Forwarding is
  ours rather than faust's ``topic_route`` so that a dead owner gives a JSON 503 after
  ``INVOICE_SYNC_API_TIMEOUT`` and a forwarded request is never forwarded again.
- ``GET /pending`` and ``GET /summary`` fan out: the worker asked sends the same query to
  ``/pending/local`` (``/summary/local``) of every worker in the group's table assignment,
  itself included, and merges the answers. Fan-out was chosen over a compacted state topic
  because the table already is the state; a second copy would double the writes on the hot
  path for a query an operator runs a few times a day. The assignment must cover every
  partition, and every worker must answer, or the call fails with 503: a partial pending list
  or summary would read as "all good" to a finance team.

Errors are JSON ``{"status": N, "error": "...", "message": "..."}``: 400 for bad parameters,
401/403 from the guard (worker/guard.py), 404 for an unknown invoice, 503 while the group is
rebalancing or a worker does not answer. A forwarded or fanned-out request carries the caller's
``Authorization`` header: every worker holds the same tokens (one Secret), so the worker that
answers authenticates the caller itself and records the caller's name, not a worker's.

Bounded work per request: /pending examines at most ``INVOICE_SYNC_API_SCAN_BUDGET`` pending
invoices per worker and call, in slices of at most SCAN_SLICE records or YIELD_AFTER seconds
with a yield to the event loop between
them; /summary scans the table in slices too, one scan at a time per worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
import orjson
from aiokafka.partitioner import murmur2

from pipeline.correlation.state import InvoiceState, UndecodableRecord, decode
from pipeline.logs import get_logger
from pipeline.queries.paging import PendingScan, merge_pages
from pipeline.queries.params import (
    PendingQuery,
    QueryError,
    SummaryQuery,
    check_invoice_id,
    parse_pending,
    parse_summary,
)
from pipeline.queries.summary import Summary
from pipeline.queries.views import invoice_view

if TYPE_CHECKING:
    from pipeline.worker.serving import ServedWorker

log = get_logger(__name__)

#: Header on requests one worker forwards to another (answered locally, never forwarded again).
FORWARDED = "X-Invoice-Sync-Forwarded"
#: Records summarised (or pending candidates examined) between two yields to the event loop: a
#: scan must not stall the agent or /healthz.
SCAN_SLICE = 2000
#: ... and at the latest after this long: one HTTP request needs several turns of the event loop,
#: so a slice of 2,000 RocksDB reads (~0.3 s on a loaded machine) per turn made /healthz wait
#: seconds behind a /summary (benchmarks/api_responsiveness.py).
YIELD_AFTER = 0.005
#: Records between two looks at the clock.
_CLOCK_EVERY = 50


class Unavailable(Exception):
    """The group cannot answer completely right now (HTTP 503)."""


def partition_of(invoice_id: str, partitions: int) -> int:
    """The input partition of a record keyed by ``invoice_id``: Kafka's default partitioner
    (murmur2 of the UTF-8 key, as the Java client and aiokafka compute it). The input topics are
    co-partitioned with ``partitions`` partitions (pipeline/topics.py refuses to start otherwise).

    Computed here rather than by faust's router, which asks its producer's metadata: once the
    producer has sent to some topics (ticks, changelog) it refreshes metadata for those only, the
    issued topic drops out and the router raised TypeError (a 500 on every lookup)."""
    hashed: int = murmur2(invoice_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


async def answer(web: Any, compute: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    """``compute()`` as JSON; a bad parameter is a 400, an incomplete group a 503."""
    try:
        return web.json(await compute())
    except QueryError as exc:
        return error(web, 400, "bad_request", str(exc))
    except Unavailable as exc:
        return error(web, 503, "unavailable", str(exc))


def error(web: Any, status: int, code: str, message: str, **extra: Any) -> Any:
    """A JSON error response."""
    return web.json({"status": status, "error": code, "message": message, **extra},
                    status=status)


class OperatorApi:
    """Local answers and the fan-out over the group, for one worker."""

    def __init__(self, worker: ServedWorker) -> None:
        self.worker = worker
        self.app = worker.app
        # One table scan at a time on this worker: concurrent /summary calls queue here
        # instead of multiplying the scan work on the event loop.
        self._scanning = asyncio.Lock()

    # -- local answers --------------------------------------------------------------------

    def load(self, invoice_id: str) -> InvoiceState | None:
        """The stored record; Unavailable if this version cannot read it (a newer format)."""
        raw = self.worker.batch_store.find(invoice_id)
        if raw is None:
            return None
        try:
            return decode(raw)
        except UndecodableRecord as exc:
            raise Unavailable(f"invoice {invoice_id}'s record cannot be read by this worker "
                              f"version ({exc}); ask again once the upgrade is complete") from None

    def check_recovered(self) -> None:
        """Unavailable while a rebalance is under way: from the new assignment until faust has
        recovered the table from its changelog, a record this worker now owns may not be in
        its store yet (a lookup would answer 404 for an invoice that exists)."""
        if self.app.rebalancing:
            raise Unavailable("this worker is rebalancing: its table is being recovered; "
                              "ask again shortly")

    def owned(self, invoice_id: str) -> InvoiceState | None:
        """The record if it lies in a partition this worker actively owns."""
        state = self.load(invoice_id)
        if state is None or state.partition not in self.worker.active_partitions():
            return None
        return state

    async def local_pending(self, query: PendingQuery) -> dict[str, Any]:
        self.check_recovered()
        if not self.worker.state_rebuilt():
            raise Unavailable("pending index is being rebuilt after a rebalance")
        now = time.time()
        scan = PendingScan(query, now=now, budget=self.worker.settings.api_scan_budget)
        issued_before = None if query.older_than is None else now - query.older_than
        slice_started, examined = time.perf_counter(), 0
        while True:
            # A fresh iterator after each yield: the book changes while events are applied.
            scan.feed(self.worker.pending_oldest_first(after=scan.position,
                                                       issued_before=issued_before),
                      self.owned, slice_size=_CLOCK_EVERY)
            if scan.done:
                return scan.page()
            if scan.examined - examined >= SCAN_SLICE \
                    or time.perf_counter() - slice_started >= YIELD_AFTER:
                await asyncio.sleep(0)
                slice_started, examined = time.perf_counter(), scan.examined

    async def local_summary(self, query: SummaryQuery) -> Summary:
        self.check_recovered()
        summary = Summary()
        slice_started, yielded_at = time.perf_counter(), 0
        async with self._scanning:
            for count, (invoice_id, raw) in enumerate(self.worker.batch_store.records(),
                                                      start=1):
                try:
                    state = decode(raw)
                except UndecodableRecord as exc:  # a partial summary would read as complete
                    raise Unavailable(f"invoice {invoice_id}'s record cannot be read by this "
                                      f"worker version ({exc})") from None
                summary.add(state, query)
                if count % _CLOCK_EVERY == 0 and (
                        count - yielded_at >= SCAN_SLICE
                        or time.perf_counter() - slice_started >= YIELD_AFTER):
                    await asyncio.sleep(0)
                    slice_started, yielded_at = time.perf_counter(), count
        return summary

    # -- the group ------------------------------------------------------------------------

    def members(self) -> list[str]:
        """URLs of the workers that own the table's partitions; Unavailable unless all owned."""
        try:
            hosts = self.app.router.table_metadata(self.worker.table.name)
        except KeyError:
            raise Unavailable("no partition assignment yet") from None
        owned: set[int] = set()
        for partitions in hosts.values():
            for numbers in partitions.values():
                owned.update(numbers)
        missing = set(range(self.worker.settings.partitions)) - owned
        if missing:
            raise Unavailable(f"partitions {sorted(missing)} have no owner (rebalancing)")
        return sorted(url for url, parts in hosts.items() if any(parts.values()))

    def is_self(self, url: str) -> bool:
        return url.rstrip("/") == str(self.app.conf.canonical_url).rstrip("/")

    async def forward(self, url: str, path: str, params: dict[str, str] | None = None, *,
                      authorization: str | None = None, method: str = "GET",
                      body: bytes | None = None) -> tuple[int, dict[str, Any]]:
        """Another worker's JSON answer: (status, body); Unavailable if it gives none.

        ``authorization``: the caller's header, passed on so the other worker authenticates
        the caller itself."""
        timeout = aiohttp.ClientTimeout(total=self.worker.settings.api_timeout)
        target = url.rstrip("/") + path
        headers = {FORWARDED: "1"}
        if authorization is not None:
            headers["Authorization"] = authorization
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self.app.http_client.request(
                    method, target, params=params or {}, timeout=timeout, headers=headers,
                    data=body) as response:
                body = await response.read()
                data: dict[str, Any] = orjson.loads(body)
                return response.status, data
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise Unavailable(f"worker {url} did not answer: {exc!r}") from None

    async def fetch(self, url: str, path: str, params: dict[str, str],
                    authorization: str | None) -> dict[str, Any]:
        """Another worker's 200 answer; Unavailable for anything else."""
        status, data = await self.forward(url, path, params, authorization=authorization)
        if status != 200:
            raise Unavailable(f"worker {url} answered {status}: {data.get('message', data)}")
        return data

    def forward_to(self, invoice_id: str, headers: Mapping[str, str]) -> str | None:
        """Where a request about ``invoice_id`` goes: its owner's URL, or None when this worker
        answers it (it owns the invoice, or the request was forwarded already: at most once, no
        ping-pong), which it may only once its table is recovered."""
        if FORWARDED not in headers:
            url = self.owner(invoice_id)
            if not self.is_self(url):
                return url
        self.check_recovered()
        return None

    def owner(self, invoice_id: str) -> str:
        """URL of the worker owning the invoice's partition (of the issued topic)."""
        partition = partition_of(invoice_id, self.worker.settings.partitions)
        topic = self.worker.issued.get_topic_name()
        for url, topics in self.app.router.external_topics_metadata().items():
            if partition in topics.get(topic, ()):
                return str(url)
        raise Unavailable("the invoice's partition has no owner (rebalancing)")

    async def pending(self, query: PendingQuery, authorization: str | None,
                      ) -> dict[str, Any]:
        async def one(url: str) -> dict[str, Any]:
            if self.is_self(url):
                return await self.local_pending(query)
            return await self.fetch(url, "/pending/local", query.to_params(), authorization)

        pages = await asyncio.gather(*(one(url) for url in self.members()))
        result = merge_pages(pages, query.limit)
        result["workers"] = len(pages)
        return result

    async def summary(self, query: SummaryQuery, authorization: str | None,
                      ) -> dict[str, Any]:
        async def one(url: str) -> Summary:
            if self.is_self(url):
                return await self.local_summary(query)
            return Summary.from_json(await self.fetch(url, "/summary/local",
                                                      query.to_params(), authorization))

        total = Summary()
        parts = await asyncio.gather(*(one(url) for url in self.members()))
        for part in parts:
            total.merge(part)
        report = total.report(query)
        report["workers"] = len(parts)
        return report


def register_api(worker: ServedWorker) -> OperatorApi:
    """Attach the operator API's read views to the worker's faust app (roles:
    worker/guard.py); the API, for the action views (worker/actions_api.py)."""
    app, api, routes = worker.app, OperatorApi(worker), worker.routes

    def query_of(request: Any) -> dict[str, str]:
        return {k: request.query[k] for k in request.query}

    def authorization(request: Any) -> str | None:
        value: str | None = request.headers.get("Authorization")
        return value

    @app.page(routes.add("/invoices/{invoice_id}", "read"))
    async def invoice(web: Any, request: Any, invoice_id: str) -> Any:
        try:
            check_invoice_id(invoice_id)
            url = api.forward_to(invoice_id, request.headers)
            if url is not None:
                status, body = await api.forward(url, f"/invoices/{quote(invoice_id)}",
                                                 authorization=authorization(request))
                return web.json(body, status=status)
        except QueryError as exc:
            return error(web, 400, "bad_request", str(exc))
        except Unavailable as exc:
            return error(web, 503, "unavailable", str(exc))
        try:
            state = api.load(invoice_id)
        except Unavailable as exc:
            return error(web, 503, "unreadable_record", str(exc))
        if state is None:
            return error(web, 404, "not_found",
                         f"invoice {invoice_id} is not known: neither issued nor acknowledged "
                         f"(or expired after the retention period)",
                         served_by=str(app.conf.canonical_url))
        view = invoice_view(state, now=time.time())
        view["served_by"] = str(app.conf.canonical_url)
        return web.json(view)

    @app.page(routes.add("/pending", "read"))
    async def pending(web: Any, request: Any) -> Any:
        return await answer(web, lambda: api.pending(parse_pending(query_of(request)),
                                                     authorization(request)))

    @app.page(routes.add("/pending/local", "read"))
    async def pending_local(web: Any, request: Any) -> Any:
        return await answer(web, lambda: api.local_pending(parse_pending(query_of(request))))

    @app.page(routes.add("/summary", "read"))
    async def summary(web: Any, request: Any) -> Any:
        return await answer(web, lambda: api.summary(parse_summary(query_of(request)),
                                                     authorization(request)))

    @app.page(routes.add("/summary/local", "read"))
    async def summary_local(web: Any, request: Any) -> Any:
        async def local() -> dict[str, Any]:
            return (await api.local_summary(parse_summary(query_of(request)))).to_json()
        return await answer(web, local)

    return api
