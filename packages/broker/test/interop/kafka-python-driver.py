#!/usr/bin/env python3
"""Drives kafka-python for kafka-python.test.ts, one operation per run.

    /usr/bin/python3 kafka-python-driver.py OP < args.json > result.json

The arguments come as JSON on stdin (always with "bootstrap"), the result goes to stdout as
JSON; bytes travel as hex strings. Any failure exits non-zero with the reason on stderr.
Debian's kafka-python 2.0.2 has no idempotent producer and no DeleteRecords.
"""

import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

CLIENT_ID = "brook-interop-kafka-python"
TIMEOUT = 15


def unhex(value):
    return None if value is None else bytes.fromhex(value)


def tohex(value):
    return None if value is None else bytes(value).hex()


def admin_client(args):
    return KafkaAdminClient(
        bootstrap_servers=args["bootstrap"], client_id=CLIENT_ID, request_timeout_ms=TIMEOUT * 1000
    )


def check_errors(response, what):
    """Exits with the errors of a CreateTopics or DeleteTopics response."""
    errors = []
    # CreateTopics: topic_errors (name, code, message); DeleteTopics: topic_error_codes.
    entries = getattr(response, "topic_errors", None) or getattr(response, "topic_error_codes", [])
    for entry in entries:
        if entry[1] != 0:
            errors.append(str(entry))
    if errors:
        sys.exit(f"{what} failed: {errors}")


def create_topics(args):
    admin = admin_client(args)
    topics = [
        NewTopic(t["name"], t["partitions"], 1, topic_configs=t["configs"]) for t in args["topics"]
    ]
    check_errors(admin.create_topics(topics, timeout_ms=TIMEOUT * 1000), "create_topics")
    result = sorted(admin.list_topics())
    admin.close()
    return result


def list_topics(args):
    admin = admin_client(args)
    result = sorted(admin.list_topics())
    admin.close()
    return result


def produce(args):
    """One producer per job; returns, per job, the delivery report of each record in order."""
    results = []
    for job in args["jobs"]:
        if job["idempotent"]:
            sys.exit("kafka-python 2.0.2 has no idempotent producer")
        producer = KafkaProducer(
            bootstrap_servers=args["bootstrap"],
            client_id=CLIENT_ID,
            compression_type=None if job["codec"] == "none" else job["codec"],
            acks="all",
            linger_ms=20,
            request_timeout_ms=TIMEOUT * 1000,
        )
        futures = [
            producer.send(
                job["topic"],
                key=unhex(record["key"]),
                value=unhex(record["value"]),
                headers=[(key, unhex(value)) for key, value in record["headers"]],
                partition=record["partition"],
                timestamp_ms=record["timestamp"],
            )
            for record in job["records"]
        ]
        producer.flush(timeout=TIMEOUT)
        reports = []
        for future in futures:
            metadata = future.get(timeout=TIMEOUT)
            reports.append({"error": None, "partition": metadata.partition, "offset": metadata.offset})
        producer.close(timeout=TIMEOUT)
        results.append(reports)
    return results


def consume(args):
    """Assigns every partition (no group), seeks to the beginning and reads to the end."""
    consumer = KafkaConsumer(
        bootstrap_servers=args["bootstrap"],
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        request_timeout_ms=TIMEOUT * 1000 + 1000,
    )
    partitions = [TopicPartition(p["topic"], p["partition"]) for p in args["partitions"]]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    end = consumer.end_offsets(partitions)
    records = []
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        if all(consumer.position(tp) >= end[tp] for tp in partitions):
            break
        for messages in consumer.poll(timeout_ms=100).values():
            for message in messages:
                records.append(
                    {
                        "topic": message.topic,
                        "partition": message.partition,
                        "offset": message.offset,
                        "timestamp_type": message.timestamp_type,
                        "timestamp": message.timestamp,
                        "key": tohex(message.key),
                        "value": tohex(message.value),
                        "headers": [[k, tohex(v)] for k, v in message.headers],
                    }
                )
    else:
        positions = {f"{tp.topic}:{tp.partition}": (consumer.position(tp), end[tp]) for tp in partitions}
        sys.exit(f"did not reach the end offsets after {TIMEOUT} s: {positions}")
    consumer.close()
    return records


def list_offsets(args):
    """Earliest and latest (ListOffsets -2/-1) and the offset for a timestamp, per partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=args["bootstrap"], client_id=CLIENT_ID, group_id=None
    )
    results = []
    for query in args["queries"]:
        tp = TopicPartition(query["topic"], query["partition"])
        earliest = consumer.beginning_offsets([tp])[tp]
        latest = consumer.end_offsets([tp])[tp]
        found = consumer.offsets_for_times({tp: query["timestamp"]})[tp]
        results.append(
            {
                "earliest": earliest,
                "latest": latest,
                "for_timestamp": -1 if found is None else found.offset,
                "timestamp": None if found is None else found.timestamp,
            }
        )
    consumer.close()
    return results


def describe_configs(args):
    admin = admin_client(args)
    [response] = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, args["topic"])])
    [resource] = response.resources
    error_code, error_message = resource[0], resource[1]
    if error_code != 0:
        sys.exit(f"describe_configs: error {error_code}: {error_message}")
    result = {}
    for entry in resource[4]:
        name, value, read_only, default_or_source, sensitive = entry[:5]
        if response.API_VERSION == 0:
            # v0 has is_default; v1+ has the config source (5 DEFAULT_CONFIG).
            source, is_default = None, bool(default_or_source)
        else:
            source, is_default = default_or_source, default_or_source == 5
        result[name] = {
            "value": value,
            "source": source,
            "is_default": is_default,
            "read_only": bool(read_only),
            "sensitive": bool(sensitive),
        }
    admin.close()
    return result


def alter_configs(args):
    admin = admin_client(args)
    resource = ConfigResource(ConfigResourceType.TOPIC, args["topic"], configs=args["configs"])
    response = admin.alter_configs([resource])
    for entry in response.resources:
        if entry[0] != 0:
            sys.exit(f"alter_configs: error {entry[0]}: {entry[1]}")
    admin.close()
    return None


def delete_topics(args):
    admin = admin_client(args)
    check_errors(admin.delete_topics(args["topics"], timeout_ms=TIMEOUT * 1000), "delete_topics")
    result = sorted(admin.list_topics())
    admin.close()
    return result


OPS = {
    "create_topics": create_topics,
    "list_topics": list_topics,
    "produce": produce,
    "consume": consume,
    "list_offsets": list_offsets,
    "describe_configs": describe_configs,
    "alter_configs": alter_configs,
    "delete_topics": delete_topics,
}

if __name__ == "__main__":
    result = OPS[sys.argv[1]](json.load(sys.stdin))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
