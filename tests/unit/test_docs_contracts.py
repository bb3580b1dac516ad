"""docs/alerts.md and docs/topics.md describe contracts: keep them true to the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.correlation.alerts import Alert
from pipeline.settings import Settings
from pipeline.topics import topic_names
from pipeline.worker.wire import ALERT_TYPE_PREFIX, alert_headers, alert_source

ROOT = Path(__file__).resolve().parents[2]
ALERTS_DOC = ROOT / "docs" / "alerts.md"
TOPICS_DOC = ROOT / "docs" / "topics.md"
ALERT_SCHEMA = ROOT / "schemas" / "invoice.sync.alert.schema.json"


def table_column(markdown: str, header: str) -> list[str]:
    """First-column cells (backticks stripped) of the table whose header row starts ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    cells = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells.append(line.split("|")[1].strip().strip("`"))
    return cells


def code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", markdown, flags=re.DOTALL)


def sample_alert() -> Alert:
    return Alert(
        alert_id="a1b2c3", kind="unsynced", severity="warning",
        invoice_id="24111000000000000042", region_code="110000", source_system="erp-a",
        seller_tax_id=None, issued_at=None, deadline_at=None, detected_at=1_764_547_200.0,
        age_seconds=None, reason_code=None, reason=None, latency_seconds=None,
        resolved_alert_ids=(), scope=None, unsynced_count=None, due_count=None,
        window_seconds=None, message="")


def test_header_table_is_what_the_worker_writes() -> None:
    documented = table_column(ALERTS_DOC.read_text(encoding="utf-8"), "header")
    written = [name for name, _ in alert_headers(sample_alert(), alert_source("invoice-sync"))]
    assert documented == written


def test_documented_header_values_match() -> None:
    text = ALERTS_DOC.read_text(encoding="utf-8")
    headers = dict(alert_headers(sample_alert(), alert_source("invoice-sync")))
    assert f"`{ALERT_TYPE_PREFIX}<kind>`" in text
    assert headers["ce_type"] == f"{ALERT_TYPE_PREFIX}unsynced".encode()
    assert f"`{alert_source('<app id>')}`" in text
    assert headers["ce_id"] == b"a1b2c3"
    assert f"`{headers['ce_dataschema'].decode()}`" in text


def test_every_alert_kind_is_documented() -> None:
    kinds = json.loads(ALERT_SCHEMA.read_text())["properties"]["kind"]["enum"]
    assert table_column(ALERTS_DOC.read_text(encoding="utf-8"), "kind") == kinds


def test_python_consumer_example_compiles_and_handles_known_kinds() -> None:
    [example] = code_blocks(ALERTS_DOC.read_text(encoding="utf-8"), "python")
    compile(example, "docs/alerts.md", "exec")
    handled = re.search(r"HANDLED = (\{.*\})", example)
    assert handled is not None
    kinds = set(json.loads(ALERT_SCHEMA.read_text())["properties"]["kind"]["enum"])
    assert set(eval(handled.group(1))) <= kinds  # a set literal of strings


def test_console_consumer_reads_the_default_alert_topic() -> None:
    [command] = [b for b in code_blocks(ALERTS_DOC.read_text(encoding="utf-8"), "sh")
                 if "kafka-console-consumer.sh" in b]
    assert f"--topic {Settings().topic_alerts}" in command
    assert "print.headers=true" in command


def test_topics_page_lists_every_topic_the_worker_uses() -> None:
    documented = set(table_column(TOPICS_DOC.read_text(encoding="utf-8"), "topic"))
    names = {cell.split("`")[0].strip() for cell in documented}
    settings = Settings()
    faust_topics = {f"{settings.app_id}-invoices-changelog",
                    f"{settings.app_id}-scope_ledgers-changelog",
                    f"{settings.app_id}-__assignor-__leader"}
    assert set(topic_names(settings).values()) | faust_topics == names
