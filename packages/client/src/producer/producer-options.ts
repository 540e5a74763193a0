/**
 * The producer's options, their defaults (Kafka's Java producer's, named with units last) and
 * the checks Kafka makes between them.
 */
import { CompressionType } from '@brook/protocol';
import type { ClientLogger } from '../logger.ts';
import { bufferSerializer, type Serializer } from '../serializers.ts';
import type { PartitionerOption } from './partitioners.ts';
import { ProducerConfigError } from './producer-errors.ts';

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** What the default serializers take: bytes, or a string as UTF-8. */
export type RecordBytes = Buffer | Uint8Array | string | null;

export interface ProducerOptions<K = RecordBytes, V = RecordBytes> {
  /** `host:port` of one or more brokers to learn the cluster from. */
  readonly bootstrapServers: readonly string[];
  readonly clientId?: string;
  readonly logger?: ClientLogger;
  /** Acknowledgements a write needs: 0 (none), 1 (the leader), -1 / 'all' (the ISR). Default 'all'. */
  readonly acks?: 0 | 1 | -1 | 'all';
  /**
   * Producer id, epoch and sequence numbers so that retries never duplicate or reorder records
   * (`enable.idempotence`). Default true, as in Kafka's clients since 3.0; when left unset it is
   * turned off by `acks` other than 'all', `retries: 0` or more than 5 requests in flight.
   */
  readonly idempotent?: boolean;
  /** Codec of every batch. Default 'none'. */
  readonly compression?: CompressionName;
  /** gzip and zstd level; the codec's default otherwise. */
  readonly compressionLevel?: number;
  /** A batch closes at about this many bytes (`batch.size`). Default 16 KiB. */
  readonly batchSizeBytes?: number;
  /**
   * How long a batch waits for more records before it is sent (`linger.ms`), at most. Default
   * 5 ms. With `lingerWhenIdle` false (the default) the wait applies only while the partition's
   * leader has two Produce requests in flight: to an idle broker, or behind one request, a batch
   * goes out at once.
   */
  readonly lingerMs?: number;
  /**
   * Whether batches wait `lingerMs` even when their leader is not busy, as librdkafka and the
   * Java client do. Default false: records reaching a broker with less than two requests in
   * flight go out at once (low latency when traffic is light, and the broker always has the next
   * request), and batch up behind two requests in flight (full batches when it is heavy).
   */
  readonly lingerWhenIdle?: boolean;
  /** Records waiting to be sent or acknowledged, at most (`buffer.memory`). Default 32 MiB. */
  readonly bufferMemoryBytes?: number;
  /** How long `send` waits for buffer room or topic metadata (`max.block.ms`). Default 60 s. */
  readonly maxBlockMs?: number;
  /** The largest Produce request (`max.request.size`). Default 1 MiB. */
  readonly maxRequestSizeBytes?: number;
  /** Produce requests in flight per broker (`max.in.flight.requests.per.connection`). Default 5. */
  readonly maxInFlightRequestsPerConnection?: number;
  /** A request without answer in this long fails (and is retried). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** The bound on a record's whole delivery, retries included (`delivery.timeout.ms`). Default 120 s. */
  readonly deliveryTimeoutMs?: number;
  /** Attempts after the first, for retriable errors only. Default unbounded (the delivery timeout bounds them). */
  readonly retries?: number;
  /** First retry backoff (`retry.backoff.ms`). Default 100 ms. */
  readonly retryBackoffMs?: number;
  /** Largest retry backoff (`retry.backoff.max.ms`). Default 1000 ms. */
  readonly retryBackoffMaxMs?: number;
  readonly connectTimeoutMs?: number;
  /** Metadata older than this is refreshed (`metadata.max.age.ms`). Default 5 minutes. */
  readonly metadataMaxAgeMs?: number;
  /** Ask brokers to create a topic the producer writes to (`allow.auto.create.topics`). Default true. */
  readonly allowAutoTopicCreation?: boolean;
  /** Default 'default': murmur2 of the key, sticky for records without one. */
  readonly partitioner?: PartitionerOption;
  /** Default: bytes as they are, strings as UTF-8. */
  readonly keySerializer?: Serializer<K>;
  readonly valueSerializer?: Serializer<V>;
}

/** Every option with its value (defaults applied, checked). */
export interface ResolvedProducerOptions<K, V> {
  readonly bootstrapServers: readonly string[];
  readonly clientId: string;
  readonly logger: ClientLogger | undefined;
  readonly acks: 0 | 1 | -1;
  readonly idempotent: boolean;
  readonly compression: CompressionType;
  readonly compressionLevel: number | undefined;
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  readonly lingerWhenIdle: boolean;
  readonly bufferMemoryBytes: number;
  readonly maxBlockMs: number;
  readonly maxRequestSizeBytes: number;
  readonly maxInFlightRequestsPerConnection: number;
  /** In-flight batches per partition (5 at most with idempotence, as brokers retain 5). */
  readonly maxInFlightPerPartition: number;
  readonly requestTimeoutMs: number;
  readonly deliveryTimeoutMs: number;
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly connectTimeoutMs: number;
  readonly metadataMaxAgeMs: number;
  readonly allowAutoTopicCreation: boolean;
  readonly partitioner: PartitionerOption;
  readonly keySerializer: Serializer<K>;
  readonly valueSerializer: Serializer<V>;
}

/** Brokers keep the last 5 batches of each producer per partition to recognize retries. */
export const MAX_IDEMPOTENT_IN_FLIGHT = 5;

function check(condition: boolean, message: string): void {
  if (!condition) throw new ProducerConfigError(message);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  check(
    typeof result === 'number' && result >= 0 && !Number.isNaN(result),
    `${name} must be a number >= 0, got ${String(value)}`,
  );
  return result;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  check(Number.isInteger(result) && result > 0, `${name} must be an integer > 0, got ${value}`);
  return result;
}

export function resolveProducerOptions<K, V>(
  options: ProducerOptions<K, V>,
): ResolvedProducerOptions<K, V> {
  check(
    Array.isArray(options.bootstrapServers) && options.bootstrapServers.length > 0,
    'bootstrapServers must list at least one broker',
  );
  const acksOption = options.acks ?? 'all';
  check(
    acksOption === 'all' || acksOption === -1 || acksOption === 0 || acksOption === 1,
    `acks must be 0, 1, -1 or 'all', got ${String(acksOption)}`,
  );
  const acks = acksOption === 'all' ? -1 : acksOption;
  const compressionName = options.compression ?? 'none';
  const compression = CompressionType[compressionName];
  check(compression !== undefined, `unknown compression ${String(compressionName)}`);
  const retries = nonNegative('retries', options.retries, Number.POSITIVE_INFINITY);
  const maxInFlight = positiveInteger(
    'maxInFlightRequestsPerConnection',
    options.maxInFlightRequestsPerConnection,
    5,
  );

  // Kafka 3.0+: idempotence is on unless asked off; settings that contradict it turn it off
  // when it was not asked for explicitly, and are an error when it was.
  const conflicts: string[] = [];
  if (acks !== -1) conflicts.push(`acks=${acks} (idempotence needs 'all')`);
  if (retries === 0) conflicts.push('retries=0');
  if (maxInFlight > MAX_IDEMPOTENT_IN_FLIGHT) {
    conflicts.push(`maxInFlightRequestsPerConnection=${maxInFlight} (at most 5)`);
  }
  if (options.idempotent === true && conflicts.length > 0) {
    throw new ProducerConfigError(`idempotent producer: ${conflicts.join(', ')}`);
  }
  const idempotent = options.idempotent ?? conflicts.length === 0;

  const lingerMs = nonNegative('lingerMs', options.lingerMs, 5);
  const requestTimeoutMs = positiveInteger('requestTimeoutMs', options.requestTimeoutMs, 30_000);
  const deliveryTimeoutMs = positiveInteger(
    'deliveryTimeoutMs',
    options.deliveryTimeoutMs,
    120_000,
  );
  check(
    deliveryTimeoutMs >= lingerMs + requestTimeoutMs,
    `deliveryTimeoutMs (${deliveryTimeoutMs}) must be at least lingerMs + requestTimeoutMs ` +
      `(${lingerMs + requestTimeoutMs})`,
  );
  const partitioner = options.partitioner ?? 'default';
  check(
    partitioner === 'default' || partitioner === 'round-robin' || typeof partitioner === 'function',
    `partitioner must be 'default', 'round-robin' or a function`,
  );
  return {
    bootstrapServers: options.bootstrapServers,
    clientId: options.clientId ?? 'brook-producer',
    logger: options.logger,
    acks,
    idempotent,
    compression,
    compressionLevel: options.compressionLevel,
    batchSizeBytes: positiveInteger('batchSizeBytes', options.batchSizeBytes, 16_384),
    lingerMs,
    lingerWhenIdle: options.lingerWhenIdle ?? false,
    bufferMemoryBytes: positiveInteger(
      'bufferMemoryBytes',
      options.bufferMemoryBytes,
      32 * 1024 * 1024,
    ),
    maxBlockMs: nonNegative('maxBlockMs', options.maxBlockMs, 60_000),
    maxRequestSizeBytes: positiveInteger(
      'maxRequestSizeBytes',
      options.maxRequestSizeBytes,
      1024 * 1024,
    ),
    maxInFlightRequestsPerConnection: maxInFlight,
    maxInFlightPerPartition: idempotent
      ? Math.min(maxInFlight, MAX_IDEMPOTENT_IN_FLIGHT)
      : maxInFlight,
    requestTimeoutMs,
    deliveryTimeoutMs,
    retries,
    retryBackoffMs: nonNegative('retryBackoffMs', options.retryBackoffMs, 100),
    retryBackoffMaxMs: nonNegative('retryBackoffMaxMs', options.retryBackoffMaxMs, 1000),
    connectTimeoutMs: positiveInteger('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    metadataMaxAgeMs: positiveInteger('metadataMaxAgeMs', options.metadataMaxAgeMs, 300_000),
    allowAutoTopicCreation: options.allowAutoTopicCreation ?? true,
    partitioner,
    keySerializer: options.keySerializer ?? (bufferSerializer as Serializer<K>),
    valueSerializer: options.valueSerializer ?? (bufferSerializer as Serializer<V>),
  };
}
