"""Short, value-free descriptions of contract violations (for dead letters and logs)."""

from __future__ import annotations

from pydantic import ValidationError

ERROR_LIMIT = 500
_NOISE = ("Value error, ", "Assertion failed, ")


def compact_error(error: ValidationError, limit: int = ERROR_LIMIT) -> str:
    """``field.path: message; ...`` truncated to ``limit`` characters.

    Input values are never included: they may be taxpayer ids or names, and the dead letter
    keeps the original record anyway.
    """
    parts = []
    for detail in error.errors(include_url=False, include_input=False, include_context=False):
        message = detail["msg"]
        for prefix in _NOISE:
            message = message.removeprefix(prefix)
        path = ".".join(str(part) for part in detail["loc"])
        parts.append(f"{path}: {message}" if path else message)
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
