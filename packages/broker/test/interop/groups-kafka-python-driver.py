#!/usr/bin/env python3
"""Drives kafka-python consumer groups for groups-kafka-python.test.ts, one operation per run.

    /usr/bin/python3 groups-kafka-python-driver.py OP < args.json > result.json

The arguments come as JSON on stdin (always with "bootstrap"), the result goes to stdout as
JSON. Any failure exits non-zero with the reason on stderr.
"""

import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

CLIENT_ID = "brook-interop-kafka-python-groups"
TIMEOUT = 15


def admin_client(args):
    return KafkaAdminClient(
        bootstrap_servers=args["bootstrap"], client_id=CLIENT_ID, request_timeout_ms=TIMEOUT * 1000
    )


def setup(args):
    """Creates the topic and produces keyed records; returns [partition, offset] of each."""
    admin = admin_client(args)
    admin.create_topics([NewTopic(args["topic"], args["partitions"], 1)], timeout_ms=TIMEOUT * 1000)
    admin.close()
    producer = KafkaProducer(bootstrap_servers=args["bootstrap"], client_id=CLIENT_ID, acks="all")
    futures = [
        producer.send(args["topic"], key=f"key-{i}".encode(), value=f"value {i}".encode())
        for i in range(args["count"])
    ]
    producer.flush(TIMEOUT)
    delivered = [f.get(timeout=TIMEOUT) for f in futures]
    producer.close()
    return [[m.partition, m.offset] for m in delivered]


def describe(admin, group):
    [info] = admin.describe_consumer_groups([group])
    return {
        "error_code": info.error_code,
        "state": info.state,
        "protocol_type": info.protocol_type,
        "protocol": info.protocol,
        "members": [
            {
                "client_id": m.client_id,
                # Decoded by kafka-python for protocol type "consumer".
                "subscription": list(m.member_metadata.subscription)
                if m.member_metadata
                else None,
                "assignment": sorted(
                    [t, p]
                    for t, ps in (m.member_assignment.assignment if m.member_assignment else [])
                    for p in ps
                ),
            }
            for m in info.members
        ],
    }


def offsets(admin, group):
    committed = admin.list_consumer_group_offsets(group)
    return sorted([tp.topic, tp.partition, om.offset] for tp, om in committed.items())


def listed(admin):
    return sorted([g[0], g[1]] for g in admin.list_consumer_groups())


def group_scenario(args):
    """A group member reads everything and commits; the admin client looks at the group while
    the member is in it (delete refused) and after it closed (delete accepted)."""
    topic, group, expect = args["topic"], args["group"], args["expect"]
    consumer = KafkaConsumer(
        bootstrap_servers=args["bootstrap"],
        client_id=CLIENT_ID,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        fetch_max_wait_ms=100,
    )
    consumer.subscribe([topic])
    records = []
    deadline = time.time() + TIMEOUT
    while len(records) < expect and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            records.extend([m.partition, m.offset, m.key.decode(), m.value.decode()] for m in batch)
    assignment = sorted([tp.topic, tp.partition] for tp in consumer.assignment())
    consumer.commit()
    committed = sorted(
        [tp.topic, tp.partition, consumer.committed(tp)] for tp in consumer.assignment()
    )
    admin = admin_client(args)
    result = {
        "records": records,
        "assignment": assignment,
        "committed": committed,
        "while_member": {
            "listed": listed(admin),
            "described": describe(admin, group),
            "offsets": offsets(admin, group),
            "delete": [[g, e.__name__] for g, e in admin.delete_consumer_groups([group])],
        },
    }
    consumer.close()
    result["after_close"] = {
        "described": describe(admin, group),
        "offsets": offsets(admin, group),
        "delete": [[g, e.__name__] for g, e in admin.delete_consumer_groups([group])],
    }
    result["after_delete"] = {
        "listed": listed(admin),
        "described": describe(admin, group),
        "offsets": offsets(admin, group),
    }
    admin.close()
    return result


OPS = {"setup": setup, "group_scenario": group_scenario}

if __name__ == "__main__":
    result = OPS[sys.argv[1]](json.load(sys.stdin))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
