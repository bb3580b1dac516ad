"""The web server's front door: which routes exist, who may call them, and JSON for every error.

One aiohttp middleware (faust passes ``web_application_options`` to aiohttp's Application) runs
before every view:

- only routes registered through :class:`Routes` answer; faust's own views (``/`` and anything
  else a faust version mounts) and unknown paths get a JSON 404;
- ``/healthz``, ``/readyz`` and ``/metrics`` are public (probes and Prometheus carry no token);
  everything else needs ``Authorization: Bearer <token>``: 401 without a valid one, 403 when the
  token's role is not enough (a ``read`` token asking to close an invoice);
- the caller's :class:`~pipeline.api_tokens.Principal` is put on the request for the views (the
  audit trail records its name);
- aiohttp's own errors (405, 413, ...) and anything a view lets escape become JSON, never HTML.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from pipeline.api_tokens import ANONYMOUS, Principal, Role, TokenSet, bearer
from pipeline.logs import get_logger

log = get_logger(__name__)

PRINCIPAL = "invoice_sync_principal"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """The API's error document ``{"status", "error", "message"}``."""
    body = orjson.dumps({"status": status, "error": code, "message": message, **extra})
    headers = {"WWW-Authenticate": 'Bearer realm="invoice-sync"'} if status == 401 else None
    return web.Response(body=body, status=status, content_type="application/json",
                        headers=headers)


class Routes:
    """Paths (aiohttp's canonical form, ``/invoices/{invoice_id}``) and the role each needs;
    ``None``: public."""

    def __init__(self) -> None:
        self._required: dict[str, Role | None] = {}

    def add(self, path: str, role: Role | None) -> str:
        self._required[path] = role
        return path

    def required(self, path: str) -> tuple[bool, Role | None]:
        """(known, role needed)."""
        return path in self._required, self._required.get(path)


def principal_of(request: Any) -> Principal:
    """The authenticated caller of a request that passed the guard."""
    found: Principal = request.get(PRINCIPAL, ANONYMOUS)
    return found


def guard(routes: Routes, tokens: TokenSet | None) -> Any:
    """The middleware; ``tokens`` None: authentication disabled (everyone is an operator)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else None
        known, role = routes.required(path) if path is not None else (False, None)
        refused: web.HTTPException | None = getattr(request.match_info, "http_exception", None)
        if refused is not None and refused.status == 405:  # a known path, another method
            known, role = True, "read"
        if not known or role is not None:
            principal = ANONYMOUS if tokens is None else _authenticate(request, tokens)
            if principal is None:
                return json_error(401, "unauthorized",
                                  "a valid bearer token is required "
                                  "(Authorization: Bearer <token>)")
            if not known:
                return json_error(404, "not_found", f"no such endpoint: {request.path}")
            assert role is not None
            if refused is not None:
                return json_error(refused.status, "method_not_allowed",
                                  f"{request.method} is not allowed on {request.path}")
            if not principal.may(role):
                return json_error(403, "forbidden",
                                  f"token {principal.name!r} has role {principal.role!r}; "
                                  f"this needs {role!r}")
            request[PRINCIPAL] = principal
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        except Exception:
            log.exception("api_request_failed", path=request.path, method=request.method)
            return json_error(500, "internal_error", "the worker failed to answer; see its log")

    return middleware


def _authenticate(request: web.Request, tokens: TokenSet) -> Principal | None:
    token = bearer(request.headers.get("Authorization"))
    return None if token is None else tokens.authenticate(token)
