#!/usr/bin/env bash
# One-shot topic creation for the compose stack (service `kafka-init`, apache/kafka image).
# Idempotent: --if-not-exists, so `docker compose up` can be re-run against an existing volume.
set -euo pipefail

bootstrap="${BOOTSTRAP_SERVERS:?BOOTSTRAP_SERVERS is required}"
partitions="${PARTITIONS:-6}"
replication="${REPLICATION_FACTOR:-1}"
read -r -a topics <<< "${TOPICS:?TOPICS is required (space-separated names)}"

kafka_topics=/opt/kafka/bin/kafka-topics.sh

for topic in "${topics[@]}"; do
  "$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor "$replication"
done

# Fail loudly if any topic is missing after all (e.g. a broker that dropped the request).
existing="$("$kafka_topics" --bootstrap-server "$bootstrap" --list)"
for topic in "${topics[@]}"; do
  if ! grep -qxF "$topic" <<< "$existing"; then
    echo "create-topics: topic $topic is missing after creation" >&2
    exit 1
  fi
done
echo "create-topics: ${topics[*]} ready (${partitions} partitions each)"
