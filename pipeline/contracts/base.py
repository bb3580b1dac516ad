"""What every wire event shares: immutable, tolerant of unknown fields, UTF-8 JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireEvent(BaseModel):
    """Base of the Kafka event contracts.

    Unknown fields are ignored (not kept), so producers may add fields without breaking readers.
    A breaking change gets a new ``event_type``; additive ones bump ``schema_version``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    def warnings(self) -> list[str]:
        """Accepted-but-suspicious findings, e.g. ``"seller_tax_id_check_digit"``."""
        return []

    def to_wire(self) -> bytes:
        """The UTF-8 JSON record value."""
        return self.model_dump_json().encode("utf-8")
