#!/usr/bin/env python3
"""Copy the SLA rules file's JSON Schema into the Helm chart's values schema (`slaRules`).

schemas/sla-rules.schema.json is generated from the pydantic model the worker validates the file
with (`make schemas`); the chart writes `slaRules` into that file, so `helm install` should refuse
what the worker would. Helm validates values.schema.json as one document, so the SLA schema's
`$defs` references are inlined and its `$id`/`$schema` dropped.

    scripts/chart-values-schema.py            # update deploy/helm/invoice-sync/values.schema.json
    scripts/chart-values-schema.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SLA_SCHEMA = ROOT / "schemas" / "sla-rules.schema.json"
VALUES_SCHEMA = ROOT / "deploy" / "helm" / "invoice-sync" / "values.schema.json"
DESCRIPTION = ("The SLA rules file (INVOICE_SYNC_SLA_RULES), {} for none; generated from "
               "schemas/sla-rules.schema.json by scripts/chart-values-schema.py")


def inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/X"}`` replaced by (an inlined copy of) X."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = inline(defs[ref.removeprefix("#/$defs/")], defs)
            rest = {k: inline(v, defs) for k, v in node.items() if k != "$ref"}
            return {**target, **rest}
        return {k: inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [inline(item, defs) for item in node]
    return node


def sla_values_schema() -> dict[str, Any]:
    source = json.loads(SLA_SCHEMA.read_text(encoding="utf-8"))
    defs = source.pop("$defs", {})
    for key in ("$id", "$schema"):
        source.pop(key, None)
    schema: dict[str, Any] = inline(source, defs)
    schema["description"] = DESCRIPTION
    return schema


def rendered() -> str:
    values_schema = json.loads(VALUES_SCHEMA.read_text(encoding="utf-8"))
    values_schema["properties"]["slaRules"] = sla_values_schema()
    return json.dumps(values_schema, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    text = rendered()
    if not args.check:
        VALUES_SCHEMA.write_text(text, encoding="utf-8")
        return 0
    if VALUES_SCHEMA.read_text(encoding="utf-8") != text:
        print(f"{VALUES_SCHEMA.relative_to(ROOT)}: slaRules differs from {SLA_SCHEMA.name}: "
              "run `make schemas`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
