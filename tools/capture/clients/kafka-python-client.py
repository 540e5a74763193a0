#!/usr/bin/env python3
"""Drives kafka-python against the capture server.

Produces the records of records.json with each codec kafka-python can use here (none, gzip,
snappy, lz4, zstd; the last three need the python3-snappy, python3-lz4 and python3-zstandard
packages), reads every topic back with a consumer that has no group (assign + seek), then runs
a consumer group (join, sync, offset fetch, consume, commit, heartbeats, leave).

    /usr/bin/python3 tools/capture/clients/kafka-python-client.py \
        --bootstrap 127.0.0.1:PORT --sent sent.json [--records records.json]
"""

import argparse
import json
import os
import sys
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import codec as kafka_codec

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
AVAILABLE = {
    "none": True,
    "gzip": kafka_codec.has_gzip(),
    "snappy": kafka_codec.has_snappy(),
    "lz4": kafka_codec.has_lz4(),
    "zstd": kafka_codec.has_zstd(),
}
CLIENT_ID = "golden-kafka-python"


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

    notes = []
    produced = []
    for codec in CODECS:
        if not AVAILABLE[codec]:
            notes.append(f"{codec}: its Python codec module is not installed; not captured.")
            continue
        topic = f"golden-{codec}"
        producer = KafkaProducer(
            bootstrap_servers=args.bootstrap,
            client_id=CLIENT_ID,
            compression_type=None if codec == "none" else codec,
            linger_ms=200,
            acks="all",
        )
        futures = []
        for record in records:
            futures.append(
                producer.send(
                    topic,
                    key=to_bytes(record["key"]),
                    value=to_bytes(record["value"]),
                    headers=[(h["key"], to_bytes(h["value"])) for h in record["headers"]],
                    partition=0,
                    timestamp_ms=record["timestamp"],
                )
            )
        producer.flush(timeout=20)
        for future in futures:
            future.get(timeout=20)
        producer.close(timeout=10)
        produced.append(
            {"topic": topic, "partition": 0, "compression": codec, "records": records}
        )

    # A consumer without a group: assign every partition, read from the beginning.
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
    )
    partitions = [TopicPartition(p["topic"], 0) for p in produced]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    expected = len(produced) * len(records)
    got = read(consumer, expected)
    consumer.close()
    if got != expected:
        sys.exit(f"kafka-python read {got} of {expected} records without a group")

    # A consumer group on one topic.
    consumer = KafkaConsumer(
        "golden-none",
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        group_id="golden-group-kafka-python",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        heartbeat_interval_ms=100,
        session_timeout_ms=6000,
        fetch_max_wait_ms=200,
    )
    got = read(consumer, len(records))
    consumer.commit()
    deadline = time.time() + 0.6
    while time.time() < deadline:
        consumer.poll(timeout_ms=100)
    consumer.close()
    if got != len(records):
        sys.exit(f"kafka-python read {got} of {len(records)} records in a group")

    with open(args.sent, "w", encoding="utf-8") as f:
        json.dump(
            {
                "client": "kafka-python",
                "software": f"kafka-python {kafka.__version__}",
                "notes": notes,
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
        for messages in consumer.poll(timeout_ms=200).values():
            got += len(messages)
    return got


if __name__ == "__main__":
    main()
