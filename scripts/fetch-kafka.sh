#!/usr/bin/env bash
# Pre-fetch the local Kafka broker's jars (Maven Central -> ~/.cache/invoice-sync/kafka-*/lib,
# or $INVOICE_SYNC_KAFKA_LIB) so tests and CI do not pay for it inside a test.
# Needs Java 17+ and Maven. Prints the jar folder. Does nothing when the cache is complete.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
exec "$PYTHON" -m pipeline.localkafka fetch
