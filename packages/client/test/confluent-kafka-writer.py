#!/usr/bin/env python3
"""Writes records with confluent-kafka (librdkafka) for consumer-interop.test.ts.

    /usr/bin/python3 confluent-kafka-writer.py < args.json > delivered.json

args: {"bootstrap": "host:port", "topics": [{"topic": "t", "codec": "gzip",
"records": [{"key": hex|null, "value": hex|null, "headers": [[name, hex|null], ...]}]}]}.
Each topic is written by its own producer with that compression.type and librdkafka's default
partitioner. Prints, for every record in input order, the delivery report: topic, partition,
offset and timestamp. Bytes travel as hex.
"""

import json
import sys

from confluent_kafka import Producer


def frombhex(value):
    return None if value is None else bytes.fromhex(value)


def main():
    args = json.load(sys.stdin)
    delivered = []
    for entry in args["topics"]:
        producer = Producer(
            {
                "bootstrap.servers": args["bootstrap"],
                "client.id": "brook-client-consumer-interop",
                "compression.type": entry["codec"],
                "linger.ms": 5,
            }
        )
        reports = [None] * len(entry["records"])

        def report(index):
            def on_delivery(error, message):
                if error is not None:
                    sys.exit(f"delivery failed: {error}")
                reports[index] = {
                    "topic": message.topic(),
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "timestamp": message.timestamp()[1],
                }

            return on_delivery

        for index, record in enumerate(entry["records"]):
            producer.produce(
                entry["topic"],
                key=frombhex(record["key"]),
                value=frombhex(record["value"]),
                headers=[(name, frombhex(value)) for name, value in record["headers"]],
                on_delivery=report(index),
            )
        if producer.flush(30) != 0:
            sys.exit("records left undelivered after 30 s")
        delivered.extend(reports)
    json.dump(delivered, sys.stdout)
    sys.stdout.flush()


main()
