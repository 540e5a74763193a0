#!/usr/bin/env python3
"""Drives confluent-kafka (librdkafka) consumer groups for the groups-*.test.ts files.

Two ways to run it:

    /usr/bin/python3 groups-confluent-kafka-driver.py member '<config json>'

runs one group member (a subscribed Consumer) until told to close or killed. It reports what
happens as JSON lines on stdout (flushed at once, so a SIGKILL loses nothing reported):

    {"ev": "assign"|"revoke"|"lost", "partitions": [[topic, p]...], "assignment": [[topic, p]...]}
    {"ev": "records", "records": [[topic, p, offset, key, value]...]}
    {"ev": "committed", "offsets": [[topic, p, offset, error]...]}   (after a "commit" command)
    {"ev": "positions", "positions": [[topic, p, offset]...]}       (see below)
    {"ev": "error", "error": str}                                   (error_cb)
    {"ev": "closed"}

and takes commands as JSON lines on stdin: {"cmd": "commit"}, {"cmd": "positions"},
{"cmd": "close"} (consumer.close(), then exit 0). End of stdin closes too. "positions" gives
the offset each assigned partition fetches next (-1 while not fetching), from librdkafka's
statistics: it needs "statistics.interval.ms" in the config.

    /usr/bin/python3 groups-confluent-kafka-driver.py OP < args.json > result.json

runs one operation (create_topics, produce, list_groups, committed, commit_offsets), arguments
as JSON on stdin (always with "bootstrap"), the result as JSON on stdout; any failure exits
non-zero with the reason on stderr.
"""

import json
import os
import selectors
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMEOUT = 15


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def offset_rows(partitions):
    """[topic, partition, offset, error or None] of each TopicPartition."""
    return [
        [tp.topic, tp.partition, tp.offset, None if tp.error is None else str(tp.error)]
        for tp in partitions
    ]


def member(config):
    """One group member; see the module doc for its events and commands."""
    strategy = config.get("config", {}).get("partition.assignment.strategy")
    cooperative = strategy == "cooperative-sticky"
    stats = {}

    def on_stats(text):
        stats.clear()
        stats.update(json.loads(text))

    consumer = Consumer(
        {
            "bootstrap.servers": config["bootstrap"],
            "group.id": config["group"],
            "client.id": config.get("name", "brook-interop-groups"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300,
            "fetch.wait.max.ms": 100,
            "error_cb": lambda error: emit({"ev": "error", "error": str(error)}),
            # With statistics.interval.ms set, they tell where fetching stands ("positions").
            "stats_cb": on_stats,
            **config.get("config", {}),
        }
    )
    assignment = set()

    def changed(kind, partitions):
        delta = {(tp.topic, tp.partition) for tp in partitions}
        if kind == "assign":
            if not cooperative:
                assignment.clear()
            assignment.update(delta)
        elif cooperative:
            assignment.difference_update(delta)
        else:
            assignment.clear()
        emit(
            {
                "ev": kind,
                "partitions": sorted(list(p) for p in delta),
                "assignment": sorted(list(p) for p in assignment),
            }
        )

    # Without assign() in the callback, the binding assigns (incrementally when cooperative).
    consumer.subscribe(
        config["topics"],
        on_assign=lambda _, partitions: changed("assign", partitions),
        on_revoke=lambda _, partitions: changed("revoke", partitions),
        on_lost=lambda _, partitions: changed("lost", partitions),
    )
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    selector = selectors.DefaultSelector()
    selector.register(stdin, selectors.EVENT_READ)
    pending = b""
    while True:
        messages = consumer.consume(num_messages=500, timeout=0.05)
        records = []
        for message in messages:
            if message.error() is not None:
                emit({"ev": "error", "error": str(message.error())})
                continue
            key = message.key()
            value = message.value()
            records.append(
                [
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    None if key is None else key.decode(),
                    None if value is None else value.decode(),
                ]
            )
        if records:
            emit({"ev": "records", "records": records})
        if not selector.select(0):
            continue
        chunk = os.read(stdin, 65536)
        commands = []
        if chunk == b"":
            commands.append({"cmd": "close"})
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                commands.append(json.loads(line))
        for command in commands:
            if command["cmd"] == "commit":
                try:
                    committed = consumer.commit(asynchronous=False) or []
                    emit({"ev": "committed", "offsets": offset_rows(committed)})
                except KafkaException as error:
                    emit({"ev": "committed", "offsets": [], "error": str(error)})
            elif command["cmd"] == "positions":
                # The next offset each assigned partition fetches from, -1 while not fetching.
                positions = []
                for topic, partition in sorted(assignment):
                    partitions = stats.get("topics", {}).get(topic, {}).get("partitions", {})
                    entry = partitions.get(str(partition), {})
                    active = entry.get("fetch_state") == "active"
                    offset = entry.get("next_offset", -1) if active else -1
                    positions.append([topic, partition, offset])
                emit({"ev": "positions", "positions": positions})
            elif command["cmd"] == "close":
                consumer.close()
                emit({"ev": "closed"})
                return


def create_topics(args):
    admin = AdminClient({"bootstrap.servers": args["bootstrap"]})
    topics = [
        NewTopic(t["name"], num_partitions=t["partitions"], replication_factor=1)
        for t in args["topics"]
    ]
    failures = []
    for name, future in admin.create_topics(topics, operation_timeout=TIMEOUT).items():
        try:
            future.result(timeout=TIMEOUT)
        except Exception as error:  # noqa: BLE001 - reported to the test
            failures.append(f"{name}: {error}")
    if failures:
        sys.exit("create_topics failed: " + "; ".join(failures))
    return sorted(admin.list_topics(timeout=TIMEOUT).topics)


def produce(args):
    """Keyed records ([key, value] pairs) to one topic, partitioned by the client's partitioner;
    returns [partition, offset] of each, in order."""
    producer = Producer({"bootstrap.servers": args["bootstrap"], "acks": "all", "linger.ms": 5})
    reports = [None] * len(args["records"])

    def delivered(error, message, index):
        failure = None if error is None else str(error)
        reports[index] = [message.partition(), message.offset(), failure]

    for index, (key, value) in enumerate(args["records"]):
        producer.produce(
            args["topic"],
            key=key.encode(),
            value=value.encode(),
            on_delivery=lambda error, message, index=index: delivered(error, message, index),
        )
    deadline = time.time() + TIMEOUT
    while producer.flush(0.1) > 0 and time.time() < deadline:
        pass
    failed = [r for r in reports if r is None or r[2] is not None]
    if failed:
        sys.exit(f"produce to {args['topic']}: {len(failed)} not delivered: {failed[:5]}")
    return [r[:2] for r in reports]


def list_groups(args):
    """AdminClient.list_groups (ListGroups, then DescribeGroups of each): what 1.7 has."""
    admin = AdminClient({"bootstrap.servers": args["bootstrap"]})
    groups = admin.list_groups(args.get("group"), timeout=TIMEOUT)
    return [
        {
            "id": group.id,
            "error": None if group.error is None else str(group.error),
            "state": group.state,
            "protocol_type": group.protocol_type,
            "protocol": group.protocol,
            "members": sorted(
                [
                    {
                        "id": m.id,
                        "client_id": m.client_id,
                        "client_host": m.client_host,
                        "assignment_bytes": len(m.assignment or b""),
                        "metadata_bytes": len(m.metadata or b""),
                    }
                    for m in group.members
                ],
                key=lambda m: m["client_id"],
            ),
        }
        for group in groups
    ]


def committed(args):
    """The committed offsets of a group (OffsetFetch) for some partitions, without joining it."""
    consumer = Consumer({"bootstrap.servers": args["bootstrap"], "group.id": args["group"]})
    partitions = [TopicPartition(t, p) for t, p in args["partitions"]]
    result = consumer.committed(partitions, timeout=TIMEOUT)
    consumer.close()
    return offset_rows(result)


def commit_offsets(args):
    """Sets a group's offsets without joining it (OffsetCommit with generation -1): what
    alter_consumer_group_offsets does; an error when the group has members."""
    consumer = Consumer({"bootstrap.servers": args["bootstrap"], "group.id": args["group"]})
    offsets = [TopicPartition(t, p, o) for t, p, o in args["offsets"]]
    try:
        result = consumer.commit(offsets=offsets, asynchronous=False)
        answer = {"offsets": offset_rows(result)}
    except KafkaException as error:
        answer = {"error": str(error), "code": error.args[0].name()}
    consumer.close()
    return answer


OPS = {
    "create_topics": create_topics,
    "produce": produce,
    "list_groups": list_groups,
    "committed": committed,
    "commit_offsets": commit_offsets,
}

if __name__ == "__main__":
    if sys.argv[1] == "member":
        member(json.loads(sys.argv[2]))
    else:
        result = OPS[sys.argv[1]](json.load(sys.stdin))
        sys.stdout.write(json.dumps(result))
        sys.stdout.flush()
