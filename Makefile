# invoice-sync: every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup venv kafka-jars monitoring-tools deploy-tools lint test test-unit test-integration test-faults demo bench bench-quick bench-lateness schemas rules clean

setup: venv kafka-jars monitoring-tools deploy-tools

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint,profile]'
	touch $(STAMP)

kafka-jars: venv
	$(BIN)/python -m pipeline.localkafka fetch

monitoring-tools:
	bash scripts/install-monitoring.sh

deploy-tools: venv
	bash scripts/install-deploy-tools.sh

lint: venv
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/mypy

schemas: venv
	$(BIN)/invoice-sync schemas export --dir schemas
	$(BIN)/python scripts/chart-values-schema.py

# deploy/prometheus/rules/invoice-sync.rules.yml from the chart's rules template (one source).
rules: deploy-tools
	$(BIN)/python scripts/render-rules.py

# Unit, component, integration (a real Kafka broker started by the test session), fault (real
# broker and worker processes under faults) and end-to-end (real Prometheus and Alertmanager) tests.
test: setup
	$(BIN)/pytest -p no:cacheprovider tests

test-unit: venv
	$(BIN)/pytest -p no:cacheprovider tests/unit

test-integration: venv kafka-jars
	$(BIN)/pytest -p no:cacheprovider tests/integration

# The fault suite alone (issue 10): real broker, real worker processes, faults from outside.
test-faults: venv kafka-jars
	$(BIN)/pytest -p no:cacheprovider --durations=0 tests/faults

demo: venv kafka-jars
	$(BIN)/invoice-sync demo

# Throughput, alert lateness, memory and recovery of one worker on a local broker, and the
# Kafka Streams and Quix Streams peers on the same backlog (docs/performance.md). `make bench ARGS=--quick` or `make bench-quick` for the short run.
bench: venv kafka-jars
	$(BIN)/python -m benchmarks.bench $(ARGS)

bench-quick: venv kafka-jars
	$(BIN)/python -m benchmarks.bench --quick $(ARGS)

# Figure d (alert lateness at 1,000 events/s live) alone, on a small backlog: about 1.5 minutes.
bench-lateness: venv kafka-jars
	$(BIN)/python -m benchmarks.lateness $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
