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
  /** `group.initial.rebalance.delay.ms`: the wait for more members before a new group's first rebalance. */
  readonly groupInitialRebalanceDelayMs: number;
  /** `group.min.session.timeout.ms` / `group.max.session.timeout.ms`: the session timeouts members may ask for. */
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  /** `group.max.size`: the most members of one group. */
  readonly groupMaxSize: number;
  /** `offsets.topic.segment.bytes`. */
  readonly offsetsTopicSegmentBytes: number;
  /** `offsets.retention.minutes`: how long offsets of an empty group are kept. */
  readonly offsetsRetentionMinutes: number;
  /** `offsets.retention.check.interval.ms`. */
  readonly offsetsRetentionCheckIntervalMs: number;
  /** `offset.metadata.max.bytes`: the longest metadata string of a committed offset. */
  readonly offsetMetadataMaxBytes: number;
  /** `log.retention.check.interval.ms`. */
  readonly logRetentionCheckIntervalMs: number;
  /** `log.flush.scheduler.interval.ms`. */
  readonly logFlushSchedulerIntervalMs: number;
  /** `log.cleaner.dedupe.buffer.size`. */
  readonly logCleanerDedupeBufferBytes: number;
  /** `fetch.max.bytes`: the cap on a fetch response, whatever the client asks for. */
  readonly fetchMaxBytes: number;
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

/** DescribeConfigs' type of a broker property. */
export type BrokerSettingType = 'int' | 'long' | 'boolean' | 'string';

interface Setting<T> {
  readonly type: BrokerSettingType;
  readonly doc: string;
  /** Kafka's property names; the first one wins when several are set. */
  readonly names: readonly string[];
  readonly fallback: T;
  readonly parse: (text: string, name: string) => T;
  /** The value DescribeConfigs shows, when it is not the typed field of the same key. */
  readonly describe?: (config: BrokerConfig) => string | null;
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
  nodeId: {
    type: 'int',
    doc: 'The id of this node.',
    names: ['node.id', 'broker.id'],
    fallback: 1,
    parse: integer(0),
  },
  dataDirectory: {
    type: 'string',
    doc: 'The directories of the log data; Brook uses the first.',
    names: ['log.dirs', 'log.dir'],
    fallback: './brook-data',
    parse: (value: string) => value.split(',')[0]!.trim(),
  },
  numPartitions: {
    type: 'int',
    doc: 'The default number of partitions of a new topic.',
    names: ['num.partitions'],
    fallback: 1,
    parse: integer(1),
  },
  defaultReplicationFactor: {
    type: 'int',
    doc: 'The default replication factor of a new topic.',
    names: ['default.replication.factor'],
    fallback: 1,
    parse: integer(1),
  },
  autoCreateTopicsEnable: {
    type: 'boolean',
    doc: 'Create a topic when a Metadata request names one that does not exist.',
    names: ['auto.create.topics.enable'],
    fallback: true,
    parse: boolean,
  },
  deleteTopicEnable: {
    type: 'boolean',
    doc: 'Allow DeleteTopics; when false, deletions are refused (TOPIC_DELETION_DISABLED).',
    names: ['delete.topic.enable'],
    fallback: true,
    parse: boolean,
  },
  socketRequestMaxBytes: {
    type: 'int',
    doc: 'The largest request accepted; a larger one closes the connection.',
    names: ['socket.request.max.bytes'],
    fallback: 104857600,
    parse: integer(1),
  },
  connectionsMaxIdleMs: {
    type: 'long',
    doc: 'Close connections that have been idle this long.',
    names: ['connections.max.idle.ms'],
    fallback: 600000,
    parse: integer(-1),
  },
  maxInFlightRequestsPerConnection: {
    type: 'int',
    doc: 'Requests a connection may have in flight before Brook stops reading from it.',
    names: ['brook.max.in.flight.requests.per.connection'],
    fallback: 100,
    parse: integer(1),
  },
  offsetsTopicNumPartitions: {
    type: 'int',
    doc: 'The number of partitions of the committed offsets topic.',
    names: ['offsets.topic.num.partitions'],
    fallback: 50,
    parse: integer(1),
  },
  groupInitialRebalanceDelayMs: {
    type: 'int',
    doc: 'How long the group coordinator waits for more members before the first rebalance.',
    names: ['group.initial.rebalance.delay.ms'],
    fallback: 3000,
    parse: integer(0),
  },
  groupMinSessionTimeoutMs: {
    type: 'int',
    doc: 'The shortest session timeout a group member may ask for.',
    names: ['group.min.session.timeout.ms'],
    fallback: 6000,
    parse: integer(0),
  },
  groupMaxSessionTimeoutMs: {
    type: 'int',
    doc: 'The longest session timeout a group member may ask for.',
    names: ['group.max.session.timeout.ms'],
    fallback: 1800000,
    parse: integer(0),
  },
  groupMaxSize: {
    type: 'int',
    doc: 'The most members a group may have.',
    names: ['group.max.size'],
    fallback: 2147483647,
    parse: integer(1),
  },
  offsetsTopicSegmentBytes: {
    type: 'int',
    doc: 'The segment size of the committed offsets topic.',
    names: ['offsets.topic.segment.bytes'],
    fallback: 104857600,
    parse: integer(1024),
  },
  offsetsRetentionMinutes: {
    type: 'int',
    doc: 'Committed offsets of a group that has been empty this long are removed.',
    names: ['offsets.retention.minutes'],
    fallback: 10080,
    parse: integer(1),
  },
  offsetsRetentionCheckIntervalMs: {
    type: 'long',
    doc: 'How often committed offsets are checked for expiry.',
    names: ['offsets.retention.check.interval.ms'],
    fallback: 600000,
    parse: integer(1),
  },
  offsetMetadataMaxBytes: {
    type: 'int',
    doc: 'The longest metadata string a committed offset may carry.',
    names: ['offset.metadata.max.bytes'],
    fallback: 4096,
    parse: integer(0),
  },
  logRetentionCheckIntervalMs: {
    type: 'long',
    doc: 'How often the logs are checked for segments to delete.',
    names: ['log.retention.check.interval.ms'],
    fallback: 300000,
    parse: integer(1),
  },
  logFlushSchedulerIntervalMs: {
    type: 'long',
    doc: 'How often the logs are checked for data to flush (flush.ms).',
    names: ['log.flush.scheduler.interval.ms'],
    fallback: 1000,
    parse: integer(1),
  },
  logCleanerDedupeBufferBytes: {
    type: 'long',
    doc: 'Memory of the log cleaner offset map.',
    names: ['log.cleaner.dedupe.buffer.size'],
    fallback: 134217728,
    parse: integer(1024),
  },
  logCleanerBackoffMs: {
    type: 'long',
    doc: 'How often the log cleaner looks for a log to compact.',
    names: ['log.cleaner.backoff.ms'],
    fallback: 15000,
    parse: integer(0),
  },
  producerIdExpirationMs: {
    type: 'int',
    doc: 'A partition forgets the state of a producer idle this long.',
    names: ['producer.id.expiration.ms'],
    fallback: 86400000,
    parse: integer(1, 2147483647),
  },
  producerIdExpirationCheckIntervalMs: {
    type: 'int',
    doc: 'How often expired producer state is removed.',
    names: ['producer.id.expiration.check.interval.ms'],
    fallback: 600000,
    parse: integer(1, 2147483647),
  },
  maxIncrementalFetchSessionCacheSlots: {
    type: 'int',
    doc: 'The most incremental fetch sessions kept.',
    names: ['max.incremental.fetch.session.cache.slots'],
    fallback: 1000,
    parse: integer(0),
  },
  incrementalFetchSessionEvictionMs: {
    type: 'long',
    doc: 'A fetch session unused this long is removed (or evicted by a larger one).',
    names: ['brook.incremental.fetch.session.eviction.ms'],
    fallback: 120000,
    parse: integer(1),
  },
  incrementalFetchSessionCacheMaxPartitions: {
    type: 'int',
    doc: 'The partitions cached over all incremental fetch sessions.',
    names: ['brook.incremental.fetch.session.cache.max.partitions'],
    fallback: 100000,
    parse: integer(0),
  },
  fetchMaxBytes: {
    type: 'int',
    doc: 'The most bytes of records one fetch response holds, whatever the client asks for.',
    names: ['fetch.max.bytes'],
    fallback: 57671680,
    parse: integer(1024),
  },
  listeners: {
    type: 'string',
    doc: 'The listener the broker accepts connections on.',
    names: ['listeners'],
    fallback: 'PLAINTEXT://127.0.0.1:9092',
    parse: text,
    describe: (c: BrokerConfig) => listener(c.host, c.port),
  },
  advertisedListeners: {
    type: 'string',
    doc: 'The listener clients are told to connect to, when it differs from listeners.',
    names: ['advertised.listeners'],
    fallback: '',
    parse: text,
    describe: (c: BrokerConfig) =>
      Object.hasOwn(c.properties, 'advertised.listeners')
        ? listener(c.advertisedHost, c.advertisedPort)
        : null,
  },
} satisfies Record<string, Setting<unknown>>;

const listener = (host: string, port: number): string =>
  `PLAINTEXT://${host.includes(':') ? `[${host}]` : host}:${port}`;

/** A broker property as DescribeConfigs lists it, with the value the running broker uses. */
export interface BrokerSettingDescription {
  readonly name: string;
  readonly type: BrokerSettingType;
  readonly doc: string;
  readonly value: (config: BrokerConfig) => string | null;
}

/** Every property the typed config reads, under each of its names. */
export const BROKER_SETTINGS: readonly BrokerSettingDescription[] = Object.entries(
  SETTINGS,
).flatMap(([key, setting]: [string, Setting<unknown>]) =>
  setting.names.map((name) => ({
    name,
    type: setting.type,
    doc: setting.doc,
    value:
      setting.describe ?? ((config: BrokerConfig) => String(config[key as keyof BrokerConfig])),
  })),
);

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
