#!/usr/bin/env python3
"""Produce or consume N records with librdkafka (confluent-kafka) and print one JSON line of
figures: records/s, MB/s, the client's CPU seconds (every thread: Python and librdkafka's) and,
for produce, delivery latency percentiles (ms).

  librdkafka-perf.py produce BOOTSTRAP TOPIC COUNT SIZE ACKS
  librdkafka-perf.py consume BOOTSTRAP TOPIC COUNT PARTITIONS [deep|default]

Consumption raises librdkafka's pre-fetch queue limits (`deep`, the default here): with its
defaults (queued.min.messages=100000 per partition, queued.max.messages.kbytes=65536), a
partition whose queue is over either limit is not fetched again until the broker thread's next
1 s wake-up (librdkafka before 2.2 has no fetch.queue.backoff.ms; see confluentinc/librdkafka
#2879). Two 10 MiB fetches of 100 B records are ~190,000 messages, so one partition is fetched
twice a second whatever the broker: ~190 k records/s. `default` keeps librdkafka's limits.
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition


def produce(bootstrap, topic, count, size, acks):
    producer = Producer({
        'bootstrap.servers': bootstrap,
        'acks': acks,
        'linger.ms': 5,
        'batch.num.messages': 10000,
        'batch.size': 1048576,
        'queue.buffering.max.messages': 1000000,
        'queue.buffering.max.kbytes': 1048576,
        'enable.idempotence': False,
    })
    payload = b'x' * size
    latencies = []
    errors = [0]

    def delivered(err, _msg, sent=None):
        if err is not None:
            errors[0] += 1
        else:
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    cpu_started = time.process_time()
    for i in range(count):
        sent = time.perf_counter()
        while True:
            try:
                producer.produce(topic, payload, on_delivery=lambda e, m, s=sent: delivered(e, m, s))
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 1) if latencies else None

    print(json.dumps({
        'records': len(latencies), 'errors': errors[0], 'seconds': round(elapsed, 3),
        'recordsPerSecond': round(len(latencies) / elapsed), 'mbPerSecond': round(len(latencies) * size / elapsed / 1e6, 1),
        'p50Ms': pct(0.5), 'p99Ms': pct(0.99), 'cpuSeconds': round(cpu, 3),
    }))


def consume(bootstrap, topic, count, partitions, queue='deep'):
    config = {
        'bootstrap.servers': bootstrap, 'group.id': 'unused', 'enable.auto.commit': False,
        'fetch.max.bytes': 52428800, 'max.partition.fetch.bytes': 10485760,
    }
    if queue == 'deep':
        config.update({'queued.min.messages': 10000000, 'queued.max.messages.kbytes': 2097151})
    consumer = Consumer(config)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    received = 0
    size = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    deadline = started + 300
    while received < count and time.perf_counter() < deadline:
        for message in consumer.consume(num_messages=10000, timeout=1.0):
            if message.error() is None:
                received += 1
                size += len(message.value() or b'')
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    consumer.close()
    print(json.dumps({
        'records': received, 'seconds': round(elapsed, 3),
        'recordsPerSecond': round(received / elapsed), 'mbPerSecond': round(size / elapsed / 1e6, 1),
        'cpuSeconds': round(cpu, 3),
    }))


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'produce':
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:7])
