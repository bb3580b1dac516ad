"""Map the security settings onto aiokafka's and faust's client options.

Secrets stay :class:`~pydantic.SecretStr` until the very call that needs them.
"""

from __future__ import annotations

import ssl
from typing import Any

from pipeline.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A TLS context for SSL / SASL_SSL, with the configured CA and client certificate."""
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
    if settings.ssl_certfile:
        context.load_cert_chain(
            str(settings.ssl_certfile),
            keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None)
    return context


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None)
    return options


def faust_credentials(settings: Settings) -> Any:
    """faust's ``broker_credentials`` for the configured security, or None for PLAINTEXT."""
    import faust

    context = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        username = settings.sasl_username or ""
        if settings.sasl_mechanism == "PLAIN":
            return faust.SASLCredentials(
                username=username, password=password, ssl_context=context)
        return faust.SASLCredentials(
            username=username, password=password, ssl_context=context,
            mechanism=settings.sasl_mechanism)
    if context is not None:
        return faust.SSLCredentials(context)
    return None
