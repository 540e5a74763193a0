#!/usr/bin/env python3
"""Drives confluent-kafka (librdkafka) against the capture server.

Produces the records of records.json with every codec (librdkafka has them all built in) from
an idempotent producer (InitProducerId, batches with producer id and sequence numbers), reads
every topic back with a consumer that assigns partitions itself, then runs a consumer group
(join, sync, offset fetch, consume, commit, heartbeats, leave).

    /usr/bin/python3 tools/capture/clients/confluent-kafka-client.py \
        --bootstrap 127.0.0.1:PORT --sent sent.json [--records records.json]
"""

import argparse
import json
import os
import sys
import time

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CLIENT_ID = "golden-confluent-kafka"


def to_bytes(value):
    if value is None:
        return None
    if "text" in value:
        return value["text"].encode("utf-8")
    return bytes.fromhex(value["hex"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--sent", required=True)
    parser.add_argument(
        "--records",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "records.json"),
    )
    args = parser.parse_args()
    with open(args.records, encoding="utf-8") as f:
        records = json.load(f)["records"]

    produced = []
    for codec in CODECS:
        topic = f"golden-{codec}"
        producer = Producer(
            {
                "bootstrap.servers": args.bootstrap,
                "client.id": CLIENT_ID,
                "compression.codec": codec,
                "linger.ms": 200,
                "enable.idempotence": True,
            }
        )
        errors = []

        def delivered(error, _message, errors=errors):
            if error is not None:
                errors.append(error)

        for record in records:
            producer.produce(
                topic,
                key=to_bytes(record["key"]),
                value=to_bytes(record["value"]),
                headers=[(h["key"], to_bytes(h["value"])) for h in record["headers"]],
                partition=0,
                timestamp=record["timestamp"],
                on_delivery=delivered,
            )
        if producer.flush(20) != 0 or errors:
            sys.exit(f"confluent-kafka could not produce to {topic}: {errors}")
        produced.append(
            {"topic": topic, "partition": 0, "compression": codec, "records": records}
        )

    # A consumer that assigns its partitions itself (no group membership).
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": CLIENT_ID,
            "group.id": "golden-assign-confluent-kafka",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 200,
        }
    )
    consumer.assign([TopicPartition(p["topic"], 0, OFFSET_BEGINNING) for p in produced])
    expected = len(produced) * len(records)
    got = read(consumer, expected)
    consumer.close()
    if got != expected:
        sys.exit(f"confluent-kafka read {got} of {expected} records by assignment")

    # A consumer group on one topic.
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": CLIENT_ID,
            "group.id": "golden-group-confluent-kafka",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "heartbeat.interval.ms": 100,
            "session.timeout.ms": 6000,
            "fetch.wait.max.ms": 200,
        }
    )
    consumer.subscribe(["golden-none"])
    got = read(consumer, len(records))
    consumer.commit(asynchronous=False)
    deadline = time.time() + 0.6
    while time.time() < deadline:
        consumer.poll(0.1)
    consumer.close()
    if got != len(records):
        sys.exit(f"confluent-kafka read {got} of {len(records)} records in a group")

    with open(args.sent, "w", encoding="utf-8") as f:
        json.dump(
            {
                "client": "confluent-kafka",
                "software": "confluent-kafka {} (librdkafka {})".format(
                    confluent_kafka.version()[0], confluent_kafka.libversion()[0]
                ),
                "notes": [
                    "The producer is idempotent (enable.idempotence), so it sends InitProducerId."
                ],
                "produced": produced,
            },
            f,
            indent=2,
            ensure_ascii=False,
        )
        f.write("\n")


def read(consumer, expected):
    got = 0
    deadline = time.time() + 30
    while got < expected and time.time() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error() is not None:
            if message.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                continue
            sys.exit(f"confluent-kafka consumer error: {message.error()}")
        got += 1
    return got


if __name__ == "__main__":
    main()
