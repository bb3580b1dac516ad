# syntax=docker/dockerfile:1
# invoice-sync worker image.
#
#   docker build -t invoice-sync:dev .
#   docker run --rm -e INVOICE_SYNC_BROKER=kafka://kafka:9092 invoice-sync:dev   # = invoice-sync worker
#
# Two stages: the builder installs the project and its dependencies into a virtualenv; the runtime
# stage copies only that virtualenv. Every dependency (rocksdict included) ships manylinux wheels,
# so neither stage needs a compiler; --only-binary=:all: makes that a build failure, not a surprise.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/invoice-sync
# Build a wheel first, then install it: the venv then holds a regular (non-editable) install and
# no trace of /src, which does not exist in the runtime stage.
# README.md* (a glob): the build still works before the README exists.
COPY pyproject.toml README.md* ./
COPY pipeline/ ./pipeline/
RUN /opt/invoice-sync/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
 && /opt/invoice-sync/bin/pip install --only-binary=:all: /tmp/wheels/*.whl \
 && /opt/invoice-sync/bin/invoice-sync --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="invoice-sync" \
      org.opencontainers.image.description="Watches issued invoices and tax-platform acknowledgements on Kafka and alerts on invoices not acknowledged in time." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# A fixed uid/gid so Kubernetes' runAsUser/fsGroup and volume ownership line up with the image.
RUN groupadd --system --gid 10001 invoice-sync \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/invoice-sync --shell /usr/sbin/nologin invoice-sync \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/invoice-sync

COPY --from=builder /opt/invoice-sync /opt/invoice-sync

# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only under Kubernetes; the wheel install
# already compiled the bytecode.
ENV PATH=/opt/invoice-sync/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INVOICE_SYNC_DATA_DIR=/var/lib/invoice-sync \
    INVOICE_SYNC_WEB_PORT=6066

USER 10001:10001
WORKDIR /var/lib/invoice-sync
# RocksDB state (faust tables). Recoverable from the changelog topics, but slow to rebuild:
# keep it on a persistent volume.
VOLUME ["/var/lib/invoice-sync"]
EXPOSE 6066

# /healthz is liveness only (no Kafka dependency); urlopen raises on connection errors and on
# non-2xx answers, which makes python exit non-zero.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INVOICE_SYNC_WEB_PORT', '6066'), timeout=4)"]

# The worker drains on SIGTERM (up to 60 s); give it that: `docker stop -t 90`, compose
# stop_grace_period, Kubernetes terminationGracePeriodSeconds.
STOPSIGNAL SIGTERM
ENTRYPOINT ["invoice-sync"]
CMD ["worker"]
