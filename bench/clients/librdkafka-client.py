#!/usr/bin/env python3
"""confluent-kafka (librdkafka) for bench/client.bench.ts, with librdkafka's defaults (but see
`deep`); prints one JSON line.

  librdkafka-client.py consume BOOTSTRAP TOPIC COUNT PARTITIONS [deep|default]
      Reads COUNT records by assignment from offset 0; times from the first record to the last.
      `deep` (the default) raises the pre-fetch queue limits as librdkafka-perf.py does: with
      librdkafka's own (queued.min.messages=100000, queued.max.messages.kbytes=65536, counted
      on the consumer queue the partitions share), a partition found over them is fetched again
      only at the broker thread's next 1 s wake-up (librdkafka < 2.2; confluentinc/librdkafka
      #2879), so a run takes 0.15 s or 1 s depending on timing.
      (consume() waits for num_messages or its timeout, so it never asks for more than are left.)
  librdkafka-client.py produce BOOTSTRAP TOPIC COUNT SIZE KEYED COMPRESSION WARMUP
      Produces WARMUP records, then COUNT measured ones of SIZE bytes (acks=all, librdkafka's
      default batching and linger; KEYED 1: keys `key-<i % 1000>`), one produce() call per
      record, waiting on poll() whenever its queue is full; times from the first measured
      produce() to the end of flush().
  librdkafka-client.py latency BOOTSTRAP TOPIC RATE SECONDS SIZE WARMUP_SECONDS
      Produces SIZE-byte records at RATE records/s (acks=all), sending each 1 ms tick's due
      records; latency from produce() to the delivery report, warm-up records not counted.
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition


def consume(bootstrap, topic, count, partitions, queue='deep'):
    started = time.perf_counter()
    config = {'bootstrap.servers': bootstrap, 'group.id': 'unused', 'enable.auto.commit': False}
    if queue == 'deep':
        config.update({'queued.min.messages': 10000000, 'queued.max.messages.kbytes': 2097151})
    consumer = Consumer(config)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    received = 0
    size = 0
    first = None
    cpu_started = None
    deadline = time.perf_counter() + 120
    while received < count and time.perf_counter() < deadline:
        for message in consumer.consume(num_messages=min(10000, count - received), timeout=1.0):
            if message.error() is None:
                if first is None:
                    first = time.perf_counter()
                    cpu_started = time.process_time()
                received += 1
                size += len(message.value() or b'')
    elapsed = time.perf_counter() - first
    cpu = time.process_time() - cpu_started
    consumer.close()
    print(json.dumps({'records': received, 'bytes': size, 'seconds': elapsed, 'cpuSeconds': cpu,
                      'firstRecordMs': (first - started) * 1000}))


def produce(bootstrap, topic, count, size, keyed, compression, warmup):
    producer = Producer({'bootstrap.servers': bootstrap, 'acks': 'all',
                         'compression.type': compression})
    payload = b'x' * size

    def send(total):
        for i in range(total):
            key = f'key-{i % 1000}'.encode() if keyed else None
            while True:
                try:
                    producer.produce(topic, payload, key)
                    break
                except BufferError:
                    producer.poll(0.001)
            if i % 1000 == 0:
                producer.poll(0)
        producer.flush(120)

    send(warmup)
    started = time.perf_counter()
    cpu_started = time.process_time()
    send(count)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(json.dumps({'recordsPerSecond': count / elapsed, 'cpuUsPerRecord': cpu / count * 1e6}))


def latency(bootstrap, topic, rate, seconds, size, warmup):
    producer = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'enable.idempotence': False})
    payload = b'x' * size
    latencies = []
    errors = [0]

    def on_delivery(sent, measured):
        def delivered(err, _msg):
            if err is not None:
                errors[0] += 1
            elif measured:
                latencies.append(time.perf_counter() - sent)
        return delivered

    total = int(rate * (seconds + warmup))
    warmup_count = int(rate * warmup)
    started = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - started) * rate))
        while sent < due:
            now = time.perf_counter()
            producer.produce(topic, payload, on_delivery=on_delivery(now, sent >= warmup_count))
            sent += 1
        producer.poll(0)
        time.sleep(0.001)
    offered_seconds = time.perf_counter() - started
    producer.flush(60)
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    print(json.dumps({'records': len(latencies), 'errors': errors[0], 'p50Ms': pct(0.5), 'p99Ms': pct(0.99),
                      'maxMs': latencies[-1] * 1000, 'offeredPerSecond': total / offered_seconds}))


if __name__ == '__main__':
    if sys.argv[1] == 'consume':
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:7])
    elif sys.argv[1] == 'produce':
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == '1',
                sys.argv[7], int(sys.argv[8]))
    else:
        latency(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]))
