#!/usr/bin/env python3
"""Drives confluent-kafka (librdkafka) for confluent-kafka.test.ts, one operation per run.

    /usr/bin/python3 confluent-kafka-driver.py OP < args.json > result.json

The arguments come as JSON on stdin (always with "bootstrap"), the result goes to stdout as
JSON; bytes travel as hex strings. Any failure exits non-zero with the reason on stderr.
"""

import json
import sys
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

CLIENT_ID = "brook-interop-confluent-kafka"
TIMEOUT = 15


def unhex(value):
    return None if value is None else bytes.fromhex(value)


def tohex(value):
    return None if value is None else bytes(value).hex()


def common(args):
    return {"bootstrap.servers": args["bootstrap"], "client.id": CLIENT_ID}


def wait_all(futures, what):
    """Waits for admin futures; raises with every failure."""
    failures = []
    for name, future in futures.items():
        try:
            future.result(timeout=TIMEOUT)
        except Exception as error:  # noqa: BLE001 - reported to the test
            failures.append(f"{name}: {error}")
    if failures:
        sys.exit(f"{what} failed: " + "; ".join(failures))


def create_topics(args):
    admin = AdminClient(common(args))
    topics = [
        NewTopic(t["name"], num_partitions=t["partitions"], replication_factor=1, config=t["configs"])
        for t in args["topics"]
    ]
    wait_all(admin.create_topics(topics, operation_timeout=TIMEOUT), "create_topics")
    return sorted(admin.list_topics(timeout=TIMEOUT).topics)


def list_topics(args):
    return sorted(AdminClient(common(args)).list_topics(timeout=TIMEOUT).topics)


def produce(args):
    """One producer per job; returns, per job, the delivery report of each record in order."""
    results = []
    for job in args["jobs"]:
        fatal = []
        producer = Producer(
            {
                **common(args),
                "compression.codec": job["codec"],
                "enable.idempotence": job["idempotent"],
                "acks": "all",
                "linger.ms": 20,
                "message.timeout.ms": TIMEOUT * 1000,
                "error_cb": lambda error, fatal=fatal: fatal.append(str(error))
                if error.fatal()
                else None,
            }
        )
        reports = [None] * len(job["records"])

        def delivered(error, message, index, reports=reports):
            reports[index] = {
                "error": None if error is None else str(error),
                "partition": message.partition(),
                "offset": message.offset(),
            }

        for index, record in enumerate(job["records"]):
            producer.produce(
                job["topic"],
                key=unhex(record["key"]),
                value=unhex(record["value"]),
                headers=[(key, unhex(value)) for key, value in record["headers"]],
                partition=record["partition"],
                timestamp=record["timestamp"],
                on_delivery=lambda error, message, index=index: delivered(error, message, index),
            )
        deadline = time.time() + TIMEOUT
        while producer.flush(0.1) > 0 and not fatal and time.time() < deadline:
            pass
        if fatal:
            sys.exit(f"producer to {job['topic']} ({job['codec']}): fatal error: {fatal}")
        left = len(producer)
        if left:
            sys.exit(f"producer to {job['topic']} ({job['codec']}): {left} records not delivered")
        failed = [r for r in reports if r is None or r["error"] is not None]
        if failed:
            sys.exit(f"producer to {job['topic']} ({job['codec']}): delivery failed: {failed}")
        results.append(reports)
    return results


def consume(args):
    """Assigns every partition from the beginning (no group) and reads to the end of each."""
    consumer = Consumer(
        {
            **common(args),
            # Required by the library; with assign() and no commits no group is joined.
            "group.id": "brook-interop-unused",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )
    partitions = [(p["topic"], p["partition"]) for p in args["partitions"]]
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in partitions])
    pending = set(partitions)
    records = []
    deadline = time.time() + TIMEOUT
    while pending and time.time() < deadline:
        message = consumer.poll(0.1)
        if message is None:
            continue
        if message.error() is not None:
            if message.error().code() == KafkaError._PARTITION_EOF:
                pending.discard((message.topic(), message.partition()))
                continue
            sys.exit(f"consumer error: {message.error()}")
        timestamp_type, timestamp = message.timestamp()
        records.append(
            {
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                # librdkafka: 1 CreateTime, 2 LogAppendTime; Kafka's attribute: 0 and 1.
                "timestamp_type": timestamp_type - 1,
                "timestamp": timestamp,
                "key": tohex(message.key()),
                "value": tohex(message.value()),
                "headers": [[k, tohex(v)] for k, v in (message.headers() or [])],
            }
        )
    consumer.close()
    if pending:
        sys.exit(f"no end of partition for {sorted(pending)} after {TIMEOUT} s ({len(records)} read)")
    return records


def list_offsets(args):
    """Earliest and latest (ListOffsets -2/-1) and the offset for a timestamp, per partition."""
    consumer = Consumer({**common(args), "group.id": "brook-interop-unused"})
    results = []
    for query in args["queries"]:
        tp = TopicPartition(query["topic"], query["partition"])
        earliest, latest = consumer.get_watermark_offsets(tp, timeout=TIMEOUT, cached=False)
        [found] = consumer.offsets_for_times(
            [TopicPartition(query["topic"], query["partition"], query["timestamp"])],
            timeout=TIMEOUT,
        )
        if found.error is not None:
            sys.exit(f"offsets_for_times {query}: {found.error}")
        results.append({"earliest": earliest, "latest": latest, "for_timestamp": found.offset})
    consumer.close()
    return results


def describe_configs(args):
    admin = AdminClient(common(args))
    [future] = admin.describe_configs(
        [ConfigResource("topic", args["topic"])], request_timeout=TIMEOUT
    ).values()
    try:
        entries = future.result(timeout=TIMEOUT)
    except KafkaException as error:
        sys.exit(f"describe_configs: {error}")
    return {
        name: {
            "value": entry.value,
            "source": int(entry.source),
            "is_default": bool(entry.is_default),
            "read_only": bool(entry.is_read_only),
            "sensitive": bool(entry.is_sensitive),
        }
        for name, entry in entries.items()
    }


def alter_configs(args):
    admin = AdminClient(common(args))
    resource = ConfigResource("topic", args["topic"], set_config=args["configs"])
    wait_all(admin.alter_configs([resource], request_timeout=TIMEOUT), "alter_configs")
    return None


def delete_topics(args):
    admin = AdminClient(common(args))
    wait_all(admin.delete_topics(args["topics"], operation_timeout=TIMEOUT), "delete_topics")
    return sorted(admin.list_topics(timeout=TIMEOUT).topics)


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
