"""The committed JSON Schemas in schemas/ match the contract models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.schema_export import (
    ALL_SCHEMAS,
    WIRE_SCHEMAS,
    check,
    export,
    render,
    schema_file_name,
)

COMMITTED = Path(__file__).resolve().parents[2] / "schemas"
FILES = [schema_file_name(event_type) for event_type in ALL_SCHEMAS]


def test_file_names() -> None:
    assert FILES == ["invoice.issued.schema.json", "invoice.submitted.schema.json",
                     "tax.acknowledged.schema.json", "invoice.sync.alert.schema.json",
                     "invoice.sync.action.schema.json", "invoice.sync.maintenance.schema.json",
                     "sla-rules.schema.json"]


@pytest.mark.parametrize("name", FILES)
def test_committed_schema_matches_regenerated(tmp_path: Path, name: str) -> None:
    export(tmp_path)
    fresh = (tmp_path / name).read_text(encoding="utf-8")
    committed = (COMMITTED / name).read_text(encoding="utf-8")
    assert committed == fresh, (
        f"schemas/{name} drifted from the models: run `invoice-sync schemas export`")


def test_check_reports_no_drift_in_the_repository() -> None:
    assert check(COMMITTED) == []


def test_check_reports_missing_and_edited_files(tmp_path: Path) -> None:
    export(tmp_path)
    (tmp_path / FILES[0]).unlink()
    edited = tmp_path / FILES[3]
    edited.write_text(edited.read_text(encoding="utf-8").replace("alert", "alarm"),
                      encoding="utf-8")
    assert check(tmp_path) == [FILES[0], FILES[3]]


def test_export_creates_the_directory_and_returns_paths(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert export(target) == [target / name for name in FILES]


@pytest.mark.parametrize("event_type", list(WIRE_SCHEMAS))
def test_schema_document_shape(event_type: str) -> None:
    text = render(event_type)
    schema = json.loads(text)
    assert text.endswith("}\n")
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert schema["$id"] == f"urn:invoice-sync:schema:{event_type}"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert event_type in schema["title"]
    assert schema["properties"]["event_type"]["const"] == event_type
    assert schema.get("additionalProperties") is not False


def test_defaulted_fields_are_optional() -> None:
    issued = json.loads(render("invoice.issued"))
    assert "schema_version" not in issued["required"]
    assert "invoice_id" in issued["required"]
    assert issued["properties"]["amount"]["type"] == "string"
    submitted = json.loads(render("invoice.submitted"))
    assert set(submitted["required"]) == {"event_type", "event_id", "invoice_id", "submitted_at",
                                          "channel", "client_name", "client_version", "attempt"}
    assert submitted["properties"]["channel"]["enum"] == ["leqi", "web", "third_party"]
    alert = json.loads(render("invoice.sync.alert"))
    # The worker omits null fields when it writes alerts, so only these are always present.
    assert set(alert["required"]) == {"alert_id", "kind", "severity", "invoice_id", "detected_at"}
    assert alert["properties"]["detected_at"]["format"] == "date-time"
