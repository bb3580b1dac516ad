"""JSON Schemas of the wire events, generated from the contract models and kept in ``schemas/``.

Inputs (``invoice.issued``, ``invoice.submitted``, ``tax.acknowledged``) are exported in
pydantic's *validation* mode: the schema describes what a producer may send (fields with defaults
are optional). The alert, which this pipeline produces, is exported in *serialization* mode: it
describes what readers receive (every field is always present). Cross-field rules (amount sums,
signs, type/number rules, per-kind alert fields) are stated in each schema's description, not
encoded in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from pipeline.contracts import InvoiceIssued, InvoiceSubmitted, SyncAlert, TaxAcknowledged
from pipeline.contracts.action import InvoiceAction
from pipeline.contracts.maintenance import MaintenanceDeclaration
from pipeline.contracts.sla_rules import SlaRulesDocument

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

WIRE_SCHEMAS: dict[str, tuple[type[BaseModel], JsonSchemaMode]] = {
    "invoice.issued": (InvoiceIssued, "validation"),
    "invoice.submitted": (InvoiceSubmitted, "validation"),
    "tax.acknowledged": (TaxAcknowledged, "validation"),
    "invoice.sync.alert": (SyncAlert, "serialization"),
    "invoice.sync.action": (InvoiceAction, "serialization"),
    "invoice.sync.maintenance": (MaintenanceDeclaration, "serialization"),
}
"""event_type -> (model, schema mode)."""

DOCUMENT_SCHEMAS: dict[str, tuple[type[BaseModel], JsonSchemaMode]] = {
    # Not an event: the SLA rules file, for the Helm chart's values schema.
    "sla-rules": (SlaRulesDocument, "validation"),
}
ALL_SCHEMAS = {**WIRE_SCHEMAS, **DOCUMENT_SCHEMAS}


def schema_id(event_type: str) -> str:
    """The ``$id`` of an event's schema (also the alerts' ``ce_dataschema``)."""
    return f"urn:invoice-sync:schema:{event_type}"


def schema_file_name(event_type: str) -> str:
    """``invoice.issued`` -> ``invoice.issued.schema.json``."""
    return f"{event_type}.schema.json"


def render(event_type: str) -> str:
    """The schema document of ``event_type``: sorted keys, two-space indent, final newline."""
    model, mode = ALL_SCHEMAS[event_type]
    schema: dict[str, Any] = model.model_json_schema(mode=mode)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = schema_id(event_type)
    schema["title"] = f"{model.__name__} ({event_type})"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(dir: Path) -> list[Path]:
    """Write every wire schema into ``dir`` (created if missing); return the paths written."""
    dir.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in ALL_SCHEMAS:
        path = dir / schema_file_name(event_type)
        path.write_text(render(event_type), encoding="utf-8")
        written.append(path)
    return written


def check(dir: Path) -> list[str]:
    """File names in ``dir`` that are missing or differ from the models (empty: no drift)."""
    drifted = []
    for event_type in ALL_SCHEMAS:
        path = dir / schema_file_name(event_type)
        if not path.is_file() or path.read_text(encoding="utf-8") != render(event_type):
            drifted.append(path.name)
    return drifted
