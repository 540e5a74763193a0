#!/usr/bin/env bash
# Stands in for Apache Kafka's bin/kafka-topics.sh, which a few librdkafka tests run (through
# KAFKA_PATH) to create topics with configs, add partitions or delete topics. run.ts points
# KAFKA_PATH at this directory; the work is done by ../../kafka-topics.ts against the broker.
exec "${BROOK_NODE:-node}" "$(dirname "$0")/../../kafka-topics.ts" "$@"
