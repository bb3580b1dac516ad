"""Bearer tokens of the operator API: who may read, who may act, and how a request proves it.

Tokens come from ``INVOICE_SYNC_API_TOKENS`` (entries separated by commas or whitespace) and/or
the file ``INVOICE_SYNC_API_TOKENS_FILE`` (one entry a line, ``#`` comments; a mounted
Kubernetes Secret), or, for a ``.yaml``/``.yml``/``.json`` file, a document
``{tokens: [{name, role, token}]}``. An entry is ``name:role:token`` or ``role:token`` (then the
name is the role and the token's fingerprint). Roles: ``read`` (lookups, lists, reports) and
``operator`` (also close and reopen invoices). The name is what the audit trail records as the
actor; the token itself is never logged, printed or returned.

A presented token is compared with every configured one in constant time (``hmac.compare_digest``
of SHA-256 digests, all entries, no early exit), so neither its content nor its length leaks
through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

Role = Literal["read", "operator"]
ROLES: tuple[Role, ...] = ("read", "operator")
MIN_TOKEN_CHARS = 16
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class TokenConfigError(ValueError):
    """The configured tokens cannot be used; the message names the setting and the entry."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: the token's name and role (``anonymous`` when auth is disabled)."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        """An operator may do everything a reader may."""
        return role == "read" or self.role == "operator"


ANONYMOUS = Principal("anonymous", "operator")


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    digest: bytes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def fingerprint(token: str) -> str:
    """A short public handle of a token (first 8 hex digits of its SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


class TokenSet:
    """The configured tokens; :meth:`authenticate` maps a presented token to its principal."""

    def __init__(self, entries: list[tuple[str, Role, str]]) -> None:
        self._entries = tuple(_Entry(Principal(name, role), _digest(token))
                              for name, role, token in entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:  # never the tokens
        return f"TokenSet({[e.principal.name for e in self._entries]})"

    def names(self) -> list[tuple[str, Role]]:
        return [(e.principal.name, e.principal.role) for e in self._entries]

    def authenticate(self, presented: str) -> Principal | None:
        """The principal of ``presented``, or None. Constant time in the token's content."""
        digest = _digest(presented)
        found: Principal | None = None
        for entry in self._entries:  # every entry, no early exit
            if hmac.compare_digest(entry.digest, digest):
                found = entry.principal
        return found


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None if absent or another
    scheme)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def parse_entry(text: str, where: str) -> tuple[str, Role, str]:
    """``name:role:token`` or ``role:token`` -> (name, role, token)."""
    parts = text.split(":")
    if len(parts) == 2:
        role, token = parts
        name = f"{role}-{fingerprint(token)}"
    elif len(parts) == 3:
        name, role, token = parts
    else:
        raise TokenConfigError(f"{where}: expected name:role:token or role:token")
    return _checked(name, role, token, where)


def _checked(name: Any, role: Any, token: Any, where: str) -> tuple[str, Role, str]:
    if not isinstance(name, str) or not _NAME.match(name):
        raise TokenConfigError(f"{where}: name must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
    if role not in ROLES:
        raise TokenConfigError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise TokenConfigError(f"{where}: token must be A-Z a-z 0-9 . _ ~ + / = - characters")
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenConfigError(f"{where}: token shorter than {MIN_TOKEN_CHARS} characters")
    checked_role: Role = "operator" if role == "operator" else "read"
    return name, checked_role, token


def parse_entries(text: str, source: str) -> list[tuple[str, Role, str]]:
    """Entries separated by commas, spaces or newlines; ``#`` starts a comment line."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        for item in re.split(r"[,\s]+", line.strip()):
            if item:
                entries.append(parse_entry(item, f"{source} line {number}"))
    return entries


def parse_document(data: Any, source: str) -> list[tuple[str, Role, str]]:
    """``{tokens: [{name, role, token}, ...]}`` (YAML or JSON)."""
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
        raise TokenConfigError(f"{source}: expected a mapping with a 'tokens' list")
    entries = []
    for index, item in enumerate(data["tokens"]):
        where = f"{source}: tokens[{index}]"
        if not isinstance(item, dict) or set(item) - {"name", "role", "token"}:
            raise TokenConfigError(f"{where}: expected a mapping of name, role, token")
        entries.append(_checked(item.get("name"), item.get("role"), item.get("token"), where))
    return entries


def read_file(path: Path) -> list[tuple[str, Role, str]]:
    """Entries of a tokens file (line format, or YAML/JSON by suffix)."""
    source = f"INVOICE_SYNC_API_TOKENS_FILE={path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenConfigError(f"{source}: cannot read: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml", ".json"):
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise TokenConfigError(f"{source}: not valid {path.suffix[1:].upper()}: "
                                   f"{str(exc).splitlines()[0]}") from None
        return parse_document(data, source)
    return parse_entries(text, source)


def build(entries: list[tuple[str, Role, str]]) -> TokenSet:
    """A TokenSet; TokenConfigError if two entries share a name or a token."""
    names = [name for name, _, _ in entries]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise TokenConfigError(
            f"INVOICE_SYNC_API_TOKENS(_FILE): token name {duplicate!r} is configured twice")
    if len({token for _, _, token in entries}) != len(entries):
        raise TokenConfigError("INVOICE_SYNC_API_TOKENS(_FILE): one token is configured twice")
    return TokenSet(entries)
