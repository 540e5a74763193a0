/**
 * The broker's own settings, read once from Kafka's property names (`--config` file, `--set`)
 * into a typed object. Log defaults (`log.segment.bytes`, `log.retention.hours`, ...) go through
 * storage's `parseBrokerLogConfig`, so a topic's settings fall back to them as in Kafka.
 */
import { BrookError } from '@brook/protocol';
import { type ConfigError, type LogConfig, parseBrokerLogConfig } from '@brook/storage';

export class BrokerConfigError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_BROKER_CONFIG';
}

export interface BrokerConfig {
  /** `node.id` / `broker.id`. */
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** Host and port clients are told to connect to (`advertised.listeners`). */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  /** `log.dirs` / `log.dir`: Brook uses the first. */
  readonly dataDirectory: string;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly autoCreateTopicsEnable: boolean;
  readonly deleteTopicEnable: boolean;
  /** `socket.request.max.bytes`: larger requests close the connection. */
  readonly socketRequestMaxBytes: number;
  /** `connections.max.idle.ms`. */
  readonly connectionsMaxIdleMs: number;
  /** Requests a connection may have in flight before Brook stops reading from it. */
  readonly maxInFlightRequestsPerConnection: number;
  /** `offsets.topic.num.partitions`. */
  readonly offsetsTopicNumPartitions: number;
  readonly groupInitialRebalanceDelayMs: number;
  /** `log.retention.check.interval.ms`. */
  readonly logRetentionCheckIntervalMs: number;
  /** `log.flush.scheduler.interval.ms`. */
  readonly logFlushSchedulerIntervalMs: number;
  /** `log.cleaner.dedupe.buffer.size`. */
  readonly logCleanerDedupeBufferBytes: number;
  /** `log.cleaner.backoff.ms`. */
  readonly logCleanerBackoffMs: number;
  /** `producer.id.expiration.ms`: a partition forgets a producer idle this long. */
  readonly producerIdExpirationMs: number;
  /** `producer.id.expiration.check.interval.ms`. */
  readonly producerIdExpirationCheckIntervalMs: number;
  /** `max.incremental.fetch.session.cache.slots`: the most fetch sessions kept (KIP-227). */
  readonly maxIncrementalFetchSessionCacheSlots: number;
  /**
   * `brook.incremental.fetch.session.eviction.ms`: a fetch session unused this long is removed,
   * and one created this long before its last use may be evicted by a larger one (Kafka's fixed
   * 120 s minimum eviction time).
   */
  readonly incrementalFetchSessionEvictionMs: number;
  /** `brook.incremental.fetch.session.cache.max.partitions`: partitions cached over all sessions. */
  readonly incrementalFetchSessionCacheMaxPartitions: number;
  /** The broker's defaults for topic configs. */
  readonly log: LogConfig;
  /** Every property as given (for DescribeConfigs of the broker). */
  readonly properties: Readonly<Record<string, string>>;
}

interface Setting<T> {
  readonly names: readonly string[];
  readonly fallback: T;
  readonly parse: (text: string, name: string) => T;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string, name: string): number => {
    const value = Number(text.trim());
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new BrokerConfigError(
        `Invalid value ${text} for configuration ${name}: must be an integer in ${min}..${max}`,
      );
    }
    return value;
  };
}

function boolean(text: string, name: string): boolean {
  const value = text.trim().toLowerCase();
  if (value !== 'true' && value !== 'false') {
    throw new BrokerConfigError(
      `Invalid value ${text} for configuration ${name}: Expected value to be either true or false`,
    );
  }
  return value === 'true';
}

const text = (value: string): string => value.trim();

const SETTINGS = {
  nodeId: { names: ['node.id', 'broker.id'], fallback: 1, parse: integer(0) },
  dataDirectory: {
    names: ['log.dirs', 'log.dir'],
    fallback: './brook-data',
    parse: (value: string) => value.split(',')[0]!.trim(),
  },
  numPartitions: { names: ['num.partitions'], fallback: 1, parse: integer(1) },
  defaultReplicationFactor: {
    names: ['default.replication.factor'],
    fallback: 1,
    parse: integer(1),
  },
  autoCreateTopicsEnable: { names: ['auto.create.topics.enable'], fallback: true, parse: boolean },
  deleteTopicEnable: { names: ['delete.topic.enable'], fallback: true, parse: boolean },
  socketRequestMaxBytes: {
    names: ['socket.request.max.bytes'],
    fallback: 104857600,
    parse: integer(1),
  },
  connectionsMaxIdleMs: {
    names: ['connections.max.idle.ms'],
    fallback: 600000,
    parse: integer(-1),
  },
  maxInFlightRequestsPerConnection: {
    names: ['brook.max.in.flight.requests.per.connection'],
    fallback: 100,
    parse: integer(1),
  },
  offsetsTopicNumPartitions: {
    names: ['offsets.topic.num.partitions'],
    fallback: 50,
    parse: integer(1),
  },
  groupInitialRebalanceDelayMs: {
    names: ['group.initial.rebalance.delay.ms'],
    fallback: 3000,
    parse: integer(0),
  },
  logRetentionCheckIntervalMs: {
    names: ['log.retention.check.interval.ms'],
    fallback: 300000,
    parse: integer(1),
  },
  logFlushSchedulerIntervalMs: {
    names: ['log.flush.scheduler.interval.ms'],
    fallback: 1000,
    parse: integer(1),
  },
  logCleanerDedupeBufferBytes: {
    names: ['log.cleaner.dedupe.buffer.size'],
    fallback: 134217728,
    parse: integer(1024),
  },
  logCleanerBackoffMs: { names: ['log.cleaner.backoff.ms'], fallback: 15000, parse: integer(0) },
  producerIdExpirationMs: {
    names: ['producer.id.expiration.ms'],
    fallback: 86400000,
    parse: integer(1, 2147483647),
  },
  producerIdExpirationCheckIntervalMs: {
    names: ['producer.id.expiration.check.interval.ms'],
    fallback: 600000,
    parse: integer(1, 2147483647),
  },
  maxIncrementalFetchSessionCacheSlots: {
    names: ['max.incremental.fetch.session.cache.slots'],
    fallback: 1000,
    parse: integer(0),
  },
  incrementalFetchSessionEvictionMs: {
    names: ['brook.incremental.fetch.session.eviction.ms'],
    fallback: 120000,
    parse: integer(1),
  },
  incrementalFetchSessionCacheMaxPartitions: {
    names: ['brook.incremental.fetch.session.cache.max.partitions'],
    fallback: 100000,
    parse: integer(0),
  },
  listeners: { names: ['listeners'], fallback: 'PLAINTEXT://127.0.0.1:9092', parse: text },
  advertisedListeners: { names: ['advertised.listeners'], fallback: '', parse: text },
} satisfies Record<string, Setting<unknown>>;

/** `PLAINTEXT://host:port` (the first listener) → host and port. */
function parseListener(value: string, name: string): { host: string; port: number } {
  const first = value.split(',')[0]!.trim();
  const match = /^(?:[A-Za-z_]+:\/\/)?(\[[^\]]*\]|[^:]*):(\d+)$/.exec(first);
  if (!match)
    throw new BrokerConfigError(
      `Invalid value ${value} for configuration ${name}: expected PLAINTEXT://host:port`,
    );
  const host = match[1]!.replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: integer(0, 65535)(match[2]!, name) };
}

/**
 * Builds the broker config from Kafka properties. `host`/`port` (the CLI's `--host`/`--port`)
 * override `listeners`. Every invalid value is reported at once in one BrokerConfigError.
 */
export function parseBrokerConfig(
  properties: Readonly<Record<string, string>>,
  overrides: { host?: string; port?: number; dataDirectory?: string } = {},
): BrokerConfig {
  const errors: string[] = [];
  const read = <T>(setting: Setting<T>): T => {
    for (const name of setting.names) {
      const value = properties[name];
      if (value === undefined) continue;
      try {
        return setting.parse(value, name);
      } catch (error) {
        errors.push((error as Error).message);
        return setting.fallback;
      }
    }
    return setting.fallback;
  };
  const values = Object.fromEntries(
    Object.entries(SETTINGS).map(([key, setting]) => [key, read(setting as Setting<unknown>)]),
  ) as { [K in keyof typeof SETTINGS]: ReturnType<(typeof SETTINGS)[K]['parse']> };
  const { config: log, errors: logErrors } = parseBrokerLogConfig(properties);
  errors.push(...logErrors.map((error: ConfigError) => error.message));
  let listener = { host: '127.0.0.1', port: 9092 };
  try {
    listener = parseListener(values.listeners, 'listeners');
  } catch (error) {
    errors.push((error as Error).message);
  }
  const host = overrides.host ?? listener.host;
  const port = overrides.port ?? listener.port;
  let advertised = { host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port };
  if (values.advertisedListeners !== '') {
    try {
      advertised = parseListener(values.advertisedListeners, 'advertised.listeners');
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (errors.length > 0) throw new BrokerConfigError(errors.join('; '));
  const { listeners: _listeners, advertisedListeners: _advertised, ...rest } = values;
  return {
    ...rest,
    host,
    port,
    advertisedHost: advertised.host,
    advertisedPort: advertised.port,
    dataDirectory: overrides.dataDirectory ?? values.dataDirectory,
    log,
    properties: { ...properties },
  };
}

/** Parses a Kafka `.properties` file: `key=value` or `key: value` lines, `#`/`!` comments. */
export function parseProperties(content: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = content.replace(/\\\r?\n\s*/g, '').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const match = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (match) result[match[1]!] = match[2]!;
    else result[line] = '';
  }
  return result;
}
