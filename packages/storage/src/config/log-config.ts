/**
 * The typed log (topic) configuration: Kafka's topic-level configs, mapped once from Kafka's
 * property names. Everything (the defaults, the parser, the list of names, the formatter for
 * DescribeConfigs, the broker-level fallbacks) is derived from the single `LOG_CONFIG_PROPERTIES`
 * table, so no name, default or range is written twice.
 *
 * The facts (names, types, defaults, valid values, "Server Default Property") are those of Kafka's
 * "Topic-Level Configs" documentation (`generated/topic_config.html`, Kafka 3.9, which
 * `docs/configuration.html` includes) and of the broker configs' `log.`-prefixed synonyms.
 *
 * Numbers: every Kafka `int`, `long` and `double` is a JS `number`.
 * - Kafka's `long` default 9223372036854775807 (Long.MAX_VALUE, "no limit": flush.messages,
 *   flush.ms, max.compaction.lag.ms, message.timestamp.*.max.ms) is `UNLIMITED`, which is
 *   `Number.MAX_SAFE_INTEGER`, not `Infinity`: it stays an integer (safe to pass to `BigInt()` and
 *   to int64 encoders, survives JSON) and still compares greater than any real time or size.
 *   `formatLogConfigValue` prints it back as "9223372036854775807", so DescribeConfigs shows what
 *   Kafka shows.
 * - A `long` is parsed over Java's whole long range; a value beyond ±(2^53 − 1) (more than 285,000
 *   years in ms, or 8 PiB in bytes) is clamped to ±`UNLIMITED`, which keeps its meaning: "no limit"
 *   for a maximum, "no limit" for a negative `retention.bytes`.
 */
import { BrookError } from '@brook/protocol';

/**
 * A configuration value that is not valid: a bad number, a value out of range, a name that is not
 * a topic config. `property` is the Kafka property name it is about (a topic name like
 * `segment.bytes`, or a broker name like `log.retention.hours`). The broker answers these with
 * Kafka's INVALID_CONFIG, using `message` as the error message.
 */
export class ConfigError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_CONFIG_INVALID';
  readonly property: string;

  constructor(property: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.property = property;
  }
}

/** Kafka's Long.MAX_VALUE ("no limit") as a number: see the file comment. */
export const UNLIMITED = Number.MAX_SAFE_INTEGER;
/** How Kafka prints Long.MAX_VALUE; `UNLIMITED` is formatted as this. */
export const LONG_MAX_STRING = '9223372036854775807';

export type CleanupPolicy = 'delete' | 'compact';
/** compression.type: a codec, 'uncompressed', or 'producer' (keep the producer's codec). */
export type CompressionType = 'uncompressed' | 'zstd' | 'lz4' | 'snappy' | 'gzip' | 'producer';
export type TimestampType = 'CreateTime' | 'LogAppendTime';

/**
 * A topic's log configuration. Each field is one Kafka topic config (named in its comment), with
 * Kafka's type, default and meaning. Times are in ms, sizes in bytes. `UNLIMITED` stands for
 * Kafka's Long.MAX_VALUE.
 */
export interface LogConfig {
  /** segment.bytes: roll the active segment when it would grow past this size. */
  readonly segmentBytes: number;
  /** segment.ms: roll the active segment when it is this old, even if it is not full. */
  readonly segmentMs: number;
  /** segment.jitter.ms: the most random jitter subtracted from a segment's roll time. */
  readonly segmentJitterMs: number;
  /** segment.index.bytes: the (preallocated) size of each offset and time index file. */
  readonly segmentIndexBytes: number;
  /** index.interval.bytes: add an offset index entry about every this many log bytes. */
  readonly indexIntervalBytes: number;
  /** flush.messages: fsync after this many messages; `UNLIMITED` leaves it to the OS. */
  readonly flushMessages: number;
  /** flush.ms: fsync data older than this; `UNLIMITED` leaves it to the OS. */
  readonly flushMs: number;
  /** retention.ms: delete segments older than this ("delete" policy); -1 is no time limit. */
  readonly retentionMs: number;
  /** retention.bytes: delete old segments while a partition is larger; negative is no limit. */
  readonly retentionBytes: number;
  /** cleanup.policy: 'delete' (retention), 'compact' (log compaction), both, or none (empty). */
  readonly cleanupPolicy: readonly CleanupPolicy[];
  /** delete.retention.ms: how long compaction keeps tombstones. */
  readonly deleteRetentionMs: number;
  /** min.compaction.lag.ms: the least time a message stays uncompacted. */
  readonly minCompactionLagMs: number;
  /** max.compaction.lag.ms: the most time a message stays ineligible for compaction. */
  readonly maxCompactionLagMs: number;
  /** min.cleanable.dirty.ratio: the dirty/total ratio from which a log is worth compacting. */
  readonly minCleanableDirtyRatio: number;
  /** file.delete.delay.ms: the wait before deleting a file that was scheduled for deletion. */
  readonly fileDeleteDelayMs: number;
  /** max.message.bytes: the largest record batch accepted (after compression). */
  readonly maxMessageBytes: number;
  /** message.timestamp.type: keep the producer's timestamp or stamp the append time. */
  readonly messageTimestampType: TimestampType;
  /**
   * message.timestamp.difference.max.ms (deprecated since Kafka 3.6): used in place of the
   * before/after limits that are left at `UNLIMITED` (see `effectiveMessageTimestampBeforeMaxMs`).
   */
  readonly messageTimestampDifferenceMaxMs: number;
  /** message.timestamp.before.max.ms: how far a CreateTime timestamp may lie in the past. */
  readonly messageTimestampBeforeMaxMs: number;
  /** message.timestamp.after.max.ms: how far a CreateTime timestamp may lie in the future. */
  readonly messageTimestampAfterMaxMs: number;
  /** compression.type: the codec the log stores batches in. */
  readonly compressionType: CompressionType;
  /** compression.gzip.level: 1..9, or -1 for the codec's default. */
  readonly compressionGzipLevel: number;
  /** compression.lz4.level: 1..17. */
  readonly compressionLz4Level: number;
  /** compression.zstd.level: -131072..22. */
  readonly compressionZstdLevel: number;
  /** min.insync.replicas: in-sync replicas an acks=all write needs. */
  readonly minInsyncReplicas: number;
  /** unclean.leader.election.enable: may an out-of-sync replica become leader (losing data). */
  readonly uncleanLeaderElectionEnable: boolean;
  /** preallocate: create new segment files at their full size. */
  readonly preallocate: boolean;
  /** message.downconversion.enable: convert batches down for consumers of old formats. */
  readonly messageDownconversionEnable: boolean;
  /**
   * message.format.version (deprecated since Kafka 3.0): parsed and validated for compatibility,
   * otherwise ignored (Kafka ignores it too from inter-broker protocol 3.0).
   */
  readonly messageFormatVersion: string;
  /** local.retention.ms (tiered storage; unused by Brook): -2 means retention.ms. */
  readonly localRetentionMs: number;
  /** local.retention.bytes (tiered storage; unused by Brook): -2 means retention.bytes. */
  readonly localRetentionBytes: number;
  /** remote.storage.enable (tiered storage): always false, Brook has no tiered storage. */
  readonly remoteStorageEnable: boolean;
  /** remote.log.copy.disable (tiered storage; unused by Brook). */
  readonly remoteLogCopyDisable: boolean;
  /** remote.log.delete.on.disable (tiered storage; unused by Brook). */
  readonly remoteLogDeleteOnDisable: boolean;
  /** leader.replication.throttled.replicas: "partition:broker" entries, or ['*'] for all. */
  readonly leaderReplicationThrottledReplicas: readonly string[];
  /** follower.replication.throttled.replicas: "partition:broker" entries, or ['*'] for all. */
  readonly followerReplicationThrottledReplicas: readonly string[];
}

/** Kafka's ConfigDef types that topic configs use (none is a class or a password). */
export type ConfigType = 'int' | 'long' | 'double' | 'boolean' | 'string' | 'list';
export type LogConfigValue = LogConfig[keyof LogConfig];

/** Why a value is invalid; `shownValue` replaces the value in the message (a list's element). */
export interface ValidationFailure {
  readonly reason: string;
  readonly shownValue?: string;
}

export interface Validator {
  /** Kafka's "Valid Values" column ("[14,...]", "[compact, delete]"); '' when anything goes. */
  readonly validValues: string;
  /** Undefined when `value` (already parsed to the property's type) is valid. */
  check(value: LogConfigValue): ValidationFailure | undefined;
}

/** A broker property that supplies a topic property's default. */
export interface BrokerSynonym {
  readonly name: string;
  /** Milliseconds per unit when the broker property counts minutes or hours. */
  readonly unitMs?: number;
  /** The broker property's own type, when it differs from the topic property's. */
  readonly type?: 'int' | 'long';
  /** The broker property's own check, made before the topic property's check of the result. */
  readonly validator?: Validator;
}

export interface LogConfigProperty<K extends keyof LogConfig = keyof LogConfig> {
  readonly key: K;
  readonly type: ConfigType;
  readonly default: LogConfig[K];
  readonly validator: Validator;
  readonly doc: string;
  /**
   * The broker properties that supply the default, highest precedence first: the first one set
   * wins (Kafka's "Server Default Property" is the first). Empty when there is none.
   */
  readonly brokerSynonyms: readonly BrokerSynonym[];
  /** How the broker-level value is normalised and checked, when that differs (retention.ms). */
  readonly brokerValue?: { normalize(value: number): number; validator: Validator };
}

// ---------------------------------------------------------------------------------------------
// Validators, with Kafka's ConfigDef wording

const ANY: Validator = { validValues: '', check: () => undefined };

function range(min: number | undefined, max: number | undefined): Validator {
  const validValues =
    max === undefined ? `[${min},...]` : min === undefined ? `[...,${max}]` : `[${min},...,${max}]`;
  return {
    validValues,
    check(value) {
      if (typeof value !== 'number') return { reason: 'Value must be a number' };
      if (min !== undefined && value < min) return { reason: `Value must be at least ${min}` };
      if (max !== undefined && value > max) return { reason: `Value must be no more than ${max}` };
      return undefined;
    },
  };
}

const atLeast = (min: number): Validator => range(min, undefined);
const between = (min: number, max: number): Validator => range(min, max);

/** Kafka's ValidString.in: case-sensitive. */
function oneOf(...values: readonly string[]): Validator {
  return {
    validValues: `[${values.join(', ')}]`,
    check(value) {
      if (typeof value === 'string' && values.includes(value)) return undefined;
      return { reason: `String must be one of: ${values.join(', ')}` };
    },
  };
}

/** Kafka's ValidList.in: every element must be one of `values`; the message names the element. */
function listOf(...values: readonly string[]): Validator {
  const element = oneOf(...values);
  return {
    validValues: element.validValues,
    check(value) {
      if (!Array.isArray(value)) return { reason: 'Expected a comma separated list.' };
      for (const item of value as readonly string[]) {
        const failure = element.check(item);
        if (failure !== undefined) return { ...failure, shownValue: item };
      }
      return undefined;
    },
  };
}

/** gzip levels: 1..9, or -1 for the codec's default. */
const GZIP_LEVEL: Validator = {
  validValues: '[1,...,9] or -1',
  check(value) {
    if (typeof value === 'number' && ((value >= 1 && value <= 9) || value === -1)) return undefined;
    return { reason: 'Value must be between 1 and 9 or equal to -1' };
  },
};

/** Throttled replicas: "partition:broker" entries (empty ones allowed, as Kafka does), or '*'. */
const THROTTLED_REPLICAS: Validator = {
  validValues: '[partitionId]:[brokerId],[partitionId]:[brokerId],...',
  check(value) {
    const list = Array.isArray(value) ? (value as readonly string[]) : [];
    if (list.every((item) => /^(?:\d+:\d+)?$/.test(item)) || list.join('') === '*') {
      return undefined;
    }
    return { reason: THROTTLED_REPLICAS_REASON, shownValue: `[${list.join(', ')}]` };
  },
};
const THROTTLED_REPLICAS_REASON =
  "must be the literal '*' or a list of replicas in the following format: " +
  '[partitionId]:[brokerId],[partitionId]:[brokerId],...';

/**
 * Kafka's metadata (inter-broker protocol) versions, for the deprecated message.format.version:
 * each release with the number of its IV sub-versions (0: the release has none).
 */
const METADATA_RELEASES: readonly (readonly [release: string, subVersions: number])[] = [
  ['0.8.0', 0],
  ['0.8.1', 0],
  ['0.8.2', 0],
  ['0.9.0', 0],
  ['0.10.0', 2],
  ['0.10.1', 3],
  ['0.10.2', 1],
  ['0.11.0', 3],
  ['1.0', 1],
  ['1.1', 1],
  ['2.0', 2],
  ['2.1', 3],
  ['2.2', 2],
  ['2.3', 2],
  ['2.4', 2],
  ['2.5', 1],
  ['2.6', 1],
  ['2.7', 3],
  ['2.8', 2],
  ['3.0', 2],
  ['3.1', 1],
  ['3.2', 1],
  ['3.3', 4],
  ['3.4', 1],
  ['3.5', 3],
  ['3.6', 3],
  ['3.7', 5],
  ['3.8', 1],
  ['3.9', 1],
  ['4.0', 4],
];
const METADATA_VERSIONS: readonly string[] = METADATA_RELEASES.flatMap(([release, count]) =>
  count === 0 ? [release] : Array.from({ length: count }, (_, i) => `${release}-IV${i}`),
);
/** A release name stands for its latest sub-version, so "2.8" and "2.8-IV1" are both valid. */
const METADATA_VERSION_KEYS: ReadonlySet<string> = new Set([
  ...METADATA_VERSIONS,
  ...METADATA_RELEASES.map(([release]) => release),
]);

/** Kafka reads only the first 3 dot-separated parts of a 0.x version, 2 of a later one. */
const METADATA_VERSION: Validator = {
  validValues: `[${METADATA_VERSIONS.join(', ')}]`,
  check(value) {
    const text = String(value);
    const parts = text.split('.');
    const key = parts.slice(0, text.startsWith('0.') ? 3 : 2).join('.');
    if (METADATA_VERSION_KEYS.has(key)) return undefined;
    return { reason: `Version ${text} is not a valid version` };
  },
};

/** Broker-level retention: negative means unlimited (-1); 0 is refused at broker start. */
const BROKER_RETENTION_MS: Validator = {
  validValues: '-1 or [1,...]',
  check(value) {
    if (value === -1 || (typeof value === 'number' && value >= 1)) return undefined;
    return { reason: 'Value must be -1 (unlimited) or at least 1' };
  },
};

// ---------------------------------------------------------------------------------------------
// The table

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const DAY_MS = 24 * MS_PER_HOUR;

const synonym = (name: string): BrokerSynonym => ({ name });

type AnyLogConfigProperty = { [K in keyof LogConfig]: LogConfigProperty<K> }[keyof LogConfig];

/**
 * Every Kafka topic-level config, by its Kafka name: the field of `LogConfig` it fills, Kafka's
 * type, default and valid values, a short description, and the broker properties that supply its
 * default. Ordered as Kafka's documentation orders them (by name).
 */
export const LOG_CONFIG_PROPERTIES = {
  'cleanup.policy': {
    key: 'cleanupPolicy',
    type: 'list',
    default: ['delete'],
    validator: listOf('compact', 'delete'),
    doc: 'Retention policy for old segments: "delete", "compact", or both (comma-separated).',
    brokerSynonyms: [synonym('log.cleanup.policy')],
  },
  'compression.gzip.level': {
    key: 'compressionGzipLevel',
    type: 'int',
    default: -1,
    validator: GZIP_LEVEL,
    doc: 'Compression level used when compression.type is gzip.',
    brokerSynonyms: [synonym('compression.gzip.level')],
  },
  'compression.lz4.level': {
    key: 'compressionLz4Level',
    type: 'int',
    default: 9,
    validator: between(1, 17),
    doc: 'Compression level used when compression.type is lz4.',
    brokerSynonyms: [synonym('compression.lz4.level')],
  },
  'compression.type': {
    key: 'compressionType',
    type: 'string',
    default: 'producer',
    validator: oneOf('uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'),
    doc: "Final compression of the topic's batches; 'producer' keeps the producer's codec.",
    brokerSynonyms: [synonym('compression.type')],
  },
  'compression.zstd.level': {
    key: 'compressionZstdLevel',
    type: 'int',
    default: 3,
    validator: between(-131072, 22),
    doc: 'Compression level used when compression.type is zstd.',
    brokerSynonyms: [synonym('compression.zstd.level')],
  },
  'delete.retention.ms': {
    key: 'deleteRetentionMs',
    type: 'long',
    default: DAY_MS,
    validator: atLeast(0),
    doc: 'How long tombstones are kept in compacted topics.',
    brokerSynonyms: [synonym('log.cleaner.delete.retention.ms')],
  },
  'file.delete.delay.ms': {
    key: 'fileDeleteDelayMs',
    type: 'long',
    default: 60_000,
    validator: atLeast(0),
    doc: 'Time to wait before deleting a file from the file system.',
    brokerSynonyms: [synonym('log.segment.delete.delay.ms')],
  },
  'flush.messages': {
    key: 'flushMessages',
    type: 'long',
    default: UNLIMITED,
    validator: atLeast(1),
    doc: 'Force an fsync after this many messages.',
    brokerSynonyms: [synonym('log.flush.interval.messages')],
  },
  'flush.ms': {
    key: 'flushMs',
    type: 'long',
    default: UNLIMITED,
    validator: atLeast(0),
    doc: 'Force an fsync of data older than this many milliseconds.',
    brokerSynonyms: [
      synonym('log.flush.interval.ms'),
      { name: 'log.flush.scheduler.interval.ms', validator: ANY },
    ],
  },
  'follower.replication.throttled.replicas': {
    key: 'followerReplicationThrottledReplicas',
    type: 'list',
    default: [],
    validator: THROTTLED_REPLICAS,
    doc: "Replicas throttled on the follower side ('partition:broker' list, or '*').",
    brokerSynonyms: [],
  },
  'index.interval.bytes': {
    key: 'indexIntervalBytes',
    type: 'int',
    default: 4096,
    validator: atLeast(0),
    doc: 'Add an offset index entry about every this many bytes of log.',
    brokerSynonyms: [synonym('log.index.interval.bytes')],
  },
  'leader.replication.throttled.replicas': {
    key: 'leaderReplicationThrottledReplicas',
    type: 'list',
    default: [],
    validator: THROTTLED_REPLICAS,
    doc: "Replicas throttled on the leader side ('partition:broker' list, or '*').",
    brokerSynonyms: [],
  },
  'local.retention.bytes': {
    key: 'localRetentionBytes',
    type: 'long',
    default: -2,
    validator: atLeast(-2),
    doc: 'Tiered storage (unused by Brook): local size limit; -2 means retention.bytes.',
    brokerSynonyms: [synonym('log.local.retention.bytes')],
  },
  'local.retention.ms': {
    key: 'localRetentionMs',
    type: 'long',
    default: -2,
    validator: atLeast(-2),
    doc: 'Tiered storage (unused by Brook): local time limit; -2 means retention.ms.',
    brokerSynonyms: [synonym('log.local.retention.ms')],
  },
  'max.compaction.lag.ms': {
    key: 'maxCompactionLagMs',
    type: 'long',
    default: UNLIMITED,
    validator: atLeast(1),
    doc: 'Longest time a message stays ineligible for compaction.',
    brokerSynonyms: [synonym('log.cleaner.max.compaction.lag.ms')],
  },
  'max.message.bytes': {
    key: 'maxMessageBytes',
    type: 'int',
    default: 1024 * 1024 + 12, // 1 MiB plus the log overhead (offset and size) of a batch
    validator: atLeast(0),
    doc: 'Largest record batch size accepted (after compression).',
    brokerSynonyms: [synonym('message.max.bytes')],
  },
  'message.downconversion.enable': {
    key: 'messageDownconversionEnable',
    type: 'boolean',
    default: true,
    validator: ANY,
    doc: 'Whether batches are down-converted for consumers of older message formats.',
    brokerSynonyms: [synonym('log.message.downconversion.enable')],
  },
  'message.format.version': {
    key: 'messageFormatVersion',
    type: 'string',
    default: '3.0-IV1',
    validator: METADATA_VERSION,
    doc: '[DEPRECATED] Message format version; ignored from inter-broker protocol 3.0.',
    brokerSynonyms: [synonym('log.message.format.version')],
  },
  'message.timestamp.after.max.ms': {
    key: 'messageTimestampAfterMaxMs',
    type: 'long',
    default: UNLIMITED,
    validator: atLeast(0),
    doc: 'How far in the future a CreateTime timestamp may be.',
    brokerSynonyms: [synonym('log.message.timestamp.after.max.ms')],
  },
  'message.timestamp.before.max.ms': {
    key: 'messageTimestampBeforeMaxMs',
    type: 'long',
    default: UNLIMITED,
    validator: atLeast(0),
    doc: 'How far in the past a CreateTime timestamp may be.',
    brokerSynonyms: [synonym('log.message.timestamp.before.max.ms')],
  },
  'message.timestamp.difference.max.ms': {
    key: 'messageTimestampDifferenceMaxMs',
    type: 'long',
    default: UNLIMITED,
    validator: atLeast(0),
    doc: '[DEPRECATED] Largest allowed difference between a CreateTime timestamp and now.',
    brokerSynonyms: [synonym('log.message.timestamp.difference.max.ms')],
  },
  'message.timestamp.type': {
    key: 'messageTimestampType',
    type: 'string',
    default: 'CreateTime',
    validator: oneOf('CreateTime', 'LogAppendTime'),
    doc: "Keep the producer's timestamp (CreateTime) or stamp the append time (LogAppendTime).",
    brokerSynonyms: [synonym('log.message.timestamp.type')],
  },
  'min.cleanable.dirty.ratio': {
    key: 'minCleanableDirtyRatio',
    type: 'double',
    default: 0.5,
    validator: between(0, 1),
    doc: 'Dirty/total ratio from which the compactor cleans a log.',
    brokerSynonyms: [synonym('log.cleaner.min.cleanable.ratio')],
  },
  'min.compaction.lag.ms': {
    key: 'minCompactionLagMs',
    type: 'long',
    default: 0,
    validator: atLeast(0),
    doc: 'Shortest time a message stays uncompacted.',
    brokerSynonyms: [synonym('log.cleaner.min.compaction.lag.ms')],
  },
  'min.insync.replicas': {
    key: 'minInsyncReplicas',
    type: 'int',
    default: 1,
    validator: atLeast(1),
    doc: 'In-sync replicas that must acknowledge an acks=all write.',
    brokerSynonyms: [synonym('min.insync.replicas')],
  },
  preallocate: {
    key: 'preallocate',
    type: 'boolean',
    default: false,
    validator: ANY,
    doc: 'Preallocate new segment files on disk.',
    brokerSynonyms: [synonym('log.preallocate')],
  },
  'remote.log.copy.disable': {
    key: 'remoteLogCopyDisable',
    type: 'boolean',
    default: false,
    validator: ANY,
    doc: 'Tiered storage (unused by Brook): stop copying segments to remote storage.',
    brokerSynonyms: [],
  },
  'remote.log.delete.on.disable': {
    key: 'remoteLogDeleteOnDisable',
    type: 'boolean',
    default: false,
    validator: ANY,
    doc: 'Tiered storage (unused by Brook): delete remote data when it is disabled.',
    brokerSynonyms: [],
  },
  'remote.storage.enable': {
    key: 'remoteStorageEnable',
    type: 'boolean',
    default: false,
    validator: ANY,
    doc: 'Tiered storage for the topic; Brook has none, so only false is accepted.',
    brokerSynonyms: [],
  },
  'retention.bytes': {
    key: 'retentionBytes',
    type: 'long',
    default: -1,
    validator: ANY,
    doc: 'Largest partition size before old segments are deleted; negative is no limit.',
    brokerSynonyms: [synonym('log.retention.bytes')],
  },
  'retention.ms': {
    key: 'retentionMs',
    type: 'long',
    default: 7 * DAY_MS,
    validator: atLeast(-1),
    doc: 'Longest time a segment is kept before deletion; -1 is no time limit.',
    brokerSynonyms: [
      { name: 'log.retention.ms', validator: ANY },
      { name: 'log.retention.minutes', type: 'int', unitMs: MS_PER_MINUTE, validator: ANY },
      { name: 'log.retention.hours', type: 'int', unitMs: MS_PER_HOUR, validator: ANY },
    ],
    brokerValue: { normalize: (ms) => (ms < 0 ? -1 : ms), validator: BROKER_RETENTION_MS },
  },
  'segment.bytes': {
    key: 'segmentBytes',
    type: 'int',
    default: 1024 * 1024 * 1024,
    validator: atLeast(14), // the size of the smallest (v0) record
    doc: 'Size of a segment file; retention and cleaning work a whole segment at a time.',
    brokerSynonyms: [synonym('log.segment.bytes')],
  },
  'segment.index.bytes': {
    key: 'segmentIndexBytes',
    type: 'int',
    default: 10 * 1024 * 1024,
    validator: atLeast(4),
    doc: 'Size of the offset index file of a segment.',
    brokerSynonyms: [synonym('log.index.size.max.bytes')],
  },
  'segment.jitter.ms': {
    key: 'segmentJitterMs',
    type: 'long',
    default: 0,
    validator: atLeast(0),
    doc: 'Largest random jitter subtracted from the segment roll time.',
    brokerSynonyms: [
      synonym('log.roll.jitter.ms'),
      { name: 'log.roll.jitter.hours', type: 'int', unitMs: MS_PER_HOUR, validator: atLeast(0) },
    ],
  },
  'segment.ms': {
    key: 'segmentMs',
    type: 'long',
    default: 7 * DAY_MS,
    validator: atLeast(1),
    doc: 'Roll the segment after this time even if it is not full.',
    brokerSynonyms: [
      synonym('log.roll.ms'),
      { name: 'log.roll.hours', type: 'int', unitMs: MS_PER_HOUR, validator: atLeast(1) },
    ],
  },
  'unclean.leader.election.enable': {
    key: 'uncleanLeaderElectionEnable',
    type: 'boolean',
    default: false,
    validator: ANY,
    doc: 'Allow an out-of-sync replica to become leader as a last resort (may lose data).',
    brokerSynonyms: [synonym('unclean.leader.election.enable')],
  },
} as const satisfies Record<string, AnyLogConfigProperty>;

/** A Kafka topic config name ('segment.bytes'). */
export type LogConfigName = keyof typeof LOG_CONFIG_PROPERTIES;

/** Every topic config name, sorted (the order Kafka lists them in). */
export const LOG_CONFIG_NAMES: readonly LogConfigName[] = Object.freeze(
  (Object.keys(LOG_CONFIG_PROPERTIES) as LogConfigName[]).sort(),
);

const PROPERTIES: ReadonlyMap<string, LogConfigProperty> = new Map(
  Object.entries(LOG_CONFIG_PROPERTIES) as [LogConfigName, LogConfigProperty][],
);

export function isLogConfigName(name: string): name is LogConfigName {
  return PROPERTIES.has(name);
}

/** Compile-time check: every field of LogConfig has a row in the table. */
type UnmappedKeys = Exclude<keyof LogConfig, (typeof LOG_CONFIG_PROPERTIES)[LogConfigName]['key']>;

function defaultsFrom(table: typeof LOG_CONFIG_PROPERTIES): LogConfig {
  const config: Record<string, LogConfigValue> = {};
  for (const property of Object.values(table) as LogConfigProperty[]) {
    config[property.key] = freezeValue(property.default);
  }
  return Object.freeze(config) as unknown as LogConfig;
}

/** Kafka's default topic configuration. */
export const LOG_CONFIG_DEFAULTS: LogConfig = defaultsFrom(
  LOG_CONFIG_PROPERTIES satisfies [UnmappedKeys] extends [never] ? unknown : never,
);

// ---------------------------------------------------------------------------------------------
// Parsing values from strings, as Kafka's ConfigDef does

/** A parsed value, with the form Kafka shows it in when it is out of range ("2.0" for 2). */
type Parsed = { ok: true; value: LogConfigValue; shown: string } | { ok: false; reason: string };

/** Java's String.trim: strips every character up to U+0020 at both ends. */
function javaTrim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) <= 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) <= 0x20) end--;
  return text.slice(start, end);
}

const INTEGER = /^[+-]?\d+$/;
// Java's Double.parseDouble, except NaN (which would pass Kafka's range checks) and hex floats.
const DOUBLE = /^[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?)$/;
// A comma with Java's whitespace (\s) around it.
const LIST_SEPARATOR = /[ \t\n\v\f\r]*,[ \t\n\v\f\r]*/;
const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

function parseType(type: ConfigType, raw: string): Parsed {
  const text = javaTrim(raw);
  switch (type) {
    case 'int':
    case 'long': {
      const [min, max] = type === 'int' ? [INT_MIN, INT_MAX] : [LONG_MIN, LONG_MAX];
      const big = INTEGER.test(text) ? BigInt(text) : undefined;
      if (big === undefined || big < min || big > max) {
        return { ok: false, reason: `Not a number of type ${type.toUpperCase()}` };
      }
      const clamped = big > SAFE_MAX ? SAFE_MAX : big < -SAFE_MAX ? -SAFE_MAX : big;
      return { ok: true, value: Number(clamped), shown: big.toString() };
    }
    case 'double':
      if (!DOUBLE.test(text)) return { ok: false, reason: 'Not a number of type DOUBLE' };
      return parsedValue(Number(text.replace(/[fFdD]$/, '')), 'double');
    case 'boolean': {
      const lower = text.toLowerCase();
      if (lower === 'true') return parsedValue(true, type);
      if (lower === 'false') return parsedValue(false, type);
      return { ok: false, reason: 'Expected value to be either true or false' };
    }
    case 'string':
      return parsedValue(text, type);
    case 'list':
      return parsedValue(text === '' ? [] : text.split(LIST_SEPARATOR), type);
  }
}

function parsedValue(value: LogConfigValue, type: ConfigType): Parsed {
  return {
    ok: true,
    value,
    shown: type === 'list' ? `[${String(value)}]` : formatValue(type, value),
  };
}

function invalidValue(property: string, shownValue: string, reason: string): ConfigError {
  return new ConfigError(
    property,
    `Invalid value ${shownValue} for configuration ${property}: ${reason}`,
  );
}

/** Parses and checks one value; `name` is the property named in errors (topic or broker). */
function parseChecked(
  name: string,
  raw: string,
  type: ConfigType,
  validator: Validator,
): { value: LogConfigValue } | { error: ConfigError } {
  const result = parseType(type, raw);
  if (!result.ok) return { error: invalidValue(name, raw, result.reason) };
  const failure = validator.check(result.value);
  if (failure === undefined) return { value: result.value };
  return { error: invalidValue(name, failure.shownValue ?? result.shown, failure.reason) };
}

function freezeValue(value: LogConfigValue): LogConfigValue {
  return Array.isArray(value) ? Object.freeze([...value]) : value;
}

function build(base: LogConfig, values: ReadonlyMap<keyof LogConfig, LogConfigValue>): LogConfig {
  const config: Record<string, LogConfigValue> = { ...base };
  for (const [key, value] of values) config[key] = freezeValue(value);
  return Object.freeze(config) as unknown as LogConfig;
}

/**
 * Parses topic config overrides (as they arrive in CreateTopics, AlterConfigs or a .properties
 * file) on top of `base` (Kafka's defaults unless given). Reports every problem, never throws:
 * a value that does not parse or is out of range, a name that is not a topic config
 * ("Unknown topic config name: x"; the caller decides whether to reject, as Kafka's CreateTopics
 * does with INVALID_CONFIG), min.compaction.lag.ms above max.compaction.lag.ms, and
 * remote.storage.enable=true (Brook has no tiered storage, like a Kafka broker without
 * remote.log.storage.system.enable). A property in error keeps its value from `base`.
 */
export function parseLogConfig(
  properties: Readonly<Record<string, string>>,
  base: LogConfig = LOG_CONFIG_DEFAULTS,
): { config: LogConfig; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const values = new Map<keyof LogConfig, LogConfigValue>();
  for (const [name, raw] of Object.entries(properties)) {
    const property = PROPERTIES.get(name);
    if (property === undefined) {
      errors.push(new ConfigError(name, `Unknown topic config name: ${name}`));
      continue;
    }
    const result = parseChecked(name, raw, property.type, property.validator);
    if ('error' in result) errors.push(result.error);
    else values.set(property.key, result.value);
  }
  if (values.get('remoteStorageEnable') === true) {
    errors.push(
      new ConfigError(
        'remote.storage.enable',
        'Tiered Storage functionality is disabled in the broker. ' +
          'Topic cannot be configured with remote log storage.',
      ),
    );
    values.delete('remoteStorageEnable');
  }
  const config = build(base, values);
  if (values.has('minCompactionLagMs') || values.has('maxCompactionLagMs')) {
    const conflict = compactionLagConflict(config, 'min.compaction.lag.ms');
    if (conflict !== undefined) errors.push(conflict);
  }
  return { config, errors };
}

/** Kafka refuses a minimum compaction lag above the maximum, at topic and at broker level. */
function compactionLagConflict(config: LogConfig, property: string): ConfigError | undefined {
  if (config.minCompactionLagMs <= config.maxCompactionLagMs) return undefined;
  const min = formatValue('long', config.minCompactionLagMs);
  const max = formatValue('long', config.maxCompactionLagMs);
  return new ConfigError(
    property,
    `conflict topic config setting min.compaction.lag.ms (${min}) > max.compaction.lag.ms (${max})`,
  );
}

/**
 * The default topic configuration a broker's properties give (server.properties): each topic
 * config takes the value of the first of its broker synonyms that is set (log.retention.ms, then
 * log.retention.minutes, then log.retention.hours; log.roll.ms, then log.roll.hours; ...), or
 * Kafka's default. Broker properties that are not log defaults are not looked at. Reports every
 * invalid value, never throws.
 */
export function parseBrokerLogConfig(properties: Readonly<Record<string, string>>): {
  config: LogConfig;
  errors: ConfigError[];
} {
  const errors: ConfigError[] = [];
  const values = new Map<keyof LogConfig, LogConfigValue>();
  for (const property of PROPERTIES.values()) {
    const synonym = property.brokerSynonyms.find((s) => Object.hasOwn(properties, s.name));
    if (synonym === undefined) continue;
    const raw = properties[synonym.name] ?? '';
    const type = synonym.type ?? property.type;
    const parsed = parseChecked(synonym.name, raw, type, synonym.validator ?? property.validator);
    if ('error' in parsed) {
      errors.push(parsed.error);
      continue;
    }
    let value = parsed.value;
    if (typeof value === 'number') {
      value *= synonym.unitMs ?? 1;
      if (property.brokerValue !== undefined) value = property.brokerValue.normalize(value);
    }
    // The value the topic config gets must also meet the topic config's rules (or the broker's
    // own rules for it): log.flush.scheduler.interval.ms=-5 is refused as flush.ms=-5 would be.
    const failure = (property.brokerValue?.validator ?? property.validator).check(value);
    if (failure !== undefined) {
      errors.push(invalidValue(synonym.name, javaTrim(raw), failure.reason));
      continue;
    }
    values.set(property.key, value);
  }
  const config = build(LOG_CONFIG_DEFAULTS, values);
  const conflict = compactionLagConflict(config, 'log.cleaner.min.compaction.lag.ms');
  if (conflict !== undefined) errors.push(conflict);
  return { config, errors };
}

/**
 * `parseBrokerLogConfig`, throwing the first invalid value as a `ConfigError` (a broker refuses
 * to start on one, as Kafka does).
 */
export function logConfigFromBrokerProperties(
  properties: Readonly<Record<string, string>>,
): LogConfig {
  const { config, errors } = parseBrokerLogConfig(properties);
  const [first] = errors;
  if (first !== undefined) throw first;
  return config;
}

// ---------------------------------------------------------------------------------------------
// Formatting values as Kafka strings

/** Java's Double.toString: "0.5", "1.0", "1.0E-4", "1.5E7". */
function javaDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const text = String(value);
    return text.includes('.') ? text : `${text}.0`;
  }
  const [mantissa = '', exponent = ''] = value.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

function formatValue(type: ConfigType, value: LogConfigValue): string {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'number') {
    if (type === 'double') return javaDouble(value);
    return type === 'long' && value === UNLIMITED ? LONG_MAX_STRING : String(value);
  }
  return String(value);
}

/**
 * A config's value in Kafka's string form, as DescribeConfigs shows it: "compact,delete",
 * "0.5", "9223372036854775807" for `UNLIMITED`. `parseLogConfig` reads it back to the same value.
 */
export function formatLogConfigValue(name: LogConfigName, config: LogConfig): string {
  const property: LogConfigProperty = LOG_CONFIG_PROPERTIES[name];
  return formatValue(property.type, config[property.key]);
}

export interface LogConfigEntry {
  readonly name: LogConfigName;
  /** The value in Kafka's string form. */
  readonly value: string;
  /** False when the topic overrides the config (its name is in `overrides`). */
  readonly isDefault: boolean;
}

/** Every topic config with its value, sorted by name, for DescribeConfigs. */
export function describeLogConfig(
  config: LogConfig,
  overrides: ReadonlySet<string>,
): LogConfigEntry[] {
  return LOG_CONFIG_NAMES.map((name) => ({
    name,
    value: formatLogConfigValue(name, config),
    isDefault: !overrides.has(name),
  }));
}

// ---------------------------------------------------------------------------------------------
// Effective values that Kafka derives from more than one config

/** The timestamp limit into the past: the deprecated difference limit when this one is unset. */
export function effectiveMessageTimestampBeforeMaxMs(config: LogConfig): number {
  return config.messageTimestampBeforeMaxMs !== UNLIMITED
    ? config.messageTimestampBeforeMaxMs
    : config.messageTimestampDifferenceMaxMs;
}

/** The timestamp limit into the future: the deprecated difference limit when this one is unset. */
export function effectiveMessageTimestampAfterMaxMs(config: LogConfig): number {
  return config.messageTimestampAfterMaxMs !== UNLIMITED
    ? config.messageTimestampAfterMaxMs
    : config.messageTimestampDifferenceMaxMs;
}

/** local.retention.ms, with -2 resolved to retention.ms (tiered storage; unused by Brook). */
export function effectiveLocalRetentionMs(config: LogConfig): number {
  return config.localRetentionMs === -2 ? config.retentionMs : config.localRetentionMs;
}

/** local.retention.bytes, with -2 resolved to retention.bytes (tiered storage; unused by Brook). */
export function effectiveLocalRetentionBytes(config: LogConfig): number {
  return config.localRetentionBytes === -2 ? config.retentionBytes : config.localRetentionBytes;
}
