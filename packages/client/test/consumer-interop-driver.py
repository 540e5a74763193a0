#!/usr/bin/env python3
"""One librdkafka (confluent-kafka) group member for consumer-interop.test.ts.

    /usr/bin/python3 consumer-interop-driver.py '{"bootstrap": ..., "group": ..., "topics": [...],
                                                 "config": {...}}'

subscribes and reports on stdout, one JSON object a line (flushed at once):

    {"ev": "assign" | "revoke", "partitions": [[topic, partition], ...]}
    {"ev": "record", "topic": t, "partition": p, "offset": o, "value": v}
    {"ev": "error", "error": str}
    {"ev": "closed"}

It closes (commit, leave) when stdin ends or says "close".
"""

import json
import sys
import threading

from confluent_kafka import Consumer

options = json.loads(sys.argv[1])
closing = threading.Event()


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def pairs(partitions):
    return sorted([p.topic, p.partition] for p in partitions)


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == "close":
            break
    closing.set()


config = {
    "bootstrap.servers": options["bootstrap"],
    "group.id": options["group"],
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 200,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 100,
    "fetch.wait.max.ms": 100,
    "error_cb": lambda error: emit({"ev": "error", "error": str(error)}),
}
config.update(options.get("config", {}))
consumer = Consumer(config)
consumer.subscribe(
    options["topics"],
    on_assign=lambda c, partitions: emit({"ev": "assign", "partitions": pairs(partitions)}),
    on_revoke=lambda c, partitions: emit({"ev": "revoke", "partitions": pairs(partitions)}),
)
threading.Thread(target=watch_stdin, daemon=True).start()
while not closing.is_set():
    message = consumer.poll(0.05)
    if message is None:
        continue
    if message.error():
        emit({"ev": "error", "error": str(message.error())})
        continue
    value = message.value()
    emit(
        {
            "ev": "record",
            "topic": message.topic(),
            "partition": message.partition(),
            "offset": message.offset(),
            "value": None if value is None else value.decode("utf-8"),
        }
    )
consumer.close()
emit({"ev": "closed"})
