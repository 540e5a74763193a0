#!/usr/bin/env python3
"""Reads topics back with confluent-kafka (librdkafka) for producer-interop.test.ts.

    /usr/bin/python3 confluent-kafka-reader.py < args.json > records.json

args: {"bootstrap": "host:port", "partitions": [["topic", 0], ...]}. Every partition is
assigned from the beginning (no group is joined) and read to its end. Bytes travel as hex.
"""

import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

TIMEOUT = 20


def tohex(value):
    return None if value is None else bytes(value).hex()


def main():
    args = json.load(sys.stdin)
    consumer = Consumer(
        {
            "bootstrap.servers": args["bootstrap"],
            "client.id": "brook-client-producer-interop",
            # Required by the library; with assign() and no commits no group is joined.
            "group.id": "brook-client-unused",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )
    partitions = [tuple(p) for p in args["partitions"]]
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
        records.append(
            {
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "timestamp": message.timestamp()[1],
                "key": tohex(message.key()),
                "value": tohex(message.value()),
                "headers": [[k, tohex(v)] for k, v in (message.headers() or [])],
            }
        )
    consumer.close()
    if pending:
        sys.exit(f"no end of partition for {sorted(pending)} after {TIMEOUT} s")
    json.dump(records, sys.stdout)
    sys.stdout.flush()


main()
# confluent-kafka 1.x releases Py_None once too often for each null header value it hands out
# (message.headers()), which crashes the interpreter as it finalizes: the result is out by now.
os._exit(0)
