import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrookError } from '@brook/protocol';
import fc from 'fast-check';
import {
  ConfigError,
  describeLogConfig,
  effectiveLocalRetentionBytes,
  effectiveLocalRetentionMs,
  effectiveMessageTimestampAfterMaxMs,
  effectiveMessageTimestampBeforeMaxMs,
  formatLogConfigValue,
  isLogConfigName,
  LOG_CONFIG_DEFAULTS,
  LOG_CONFIG_NAMES,
  LOG_CONFIG_PROPERTIES,
  type LogConfig,
  type LogConfigName,
  type LogConfigProperty,
  logConfigFromBrokerProperties,
  parseBrokerLogConfig,
  parseLogConfig,
  UNLIMITED,
} from '../../src/config/log-config.ts';

const property = (name: LogConfigName): LogConfigProperty => LOG_CONFIG_PROPERTIES[name];

/** Parses one property, expecting no error. */
function parseOne(name: string, value: string, base?: LogConfig): LogConfig {
  const { config, errors } = parseLogConfig({ [name]: value }, base);
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
  );
  return config;
}

/** Parses one property, expecting exactly one error; returns its message. */
function errorOf(name: string, value: string): string {
  const { errors } = parseLogConfig({ [name]: value });
  assert.equal(errors.length, 1, `${name}=${value}`);
  const [error] = errors;
  assert.ok(error instanceof ConfigError);
  return error.message;
}

/**
 * Kafka's "Topic-Level Configs" table (generated/topic_config.html, Kafka 3.9): for each topic
 * config, its Default and its Server Default Property, as the documentation prints them.
 */
const DOCUMENTED: Record<LogConfigName, [defaultValue: string, serverDefault: string | null]> = {
  'cleanup.policy': ['delete', 'log.cleanup.policy'],
  'compression.gzip.level': ['-1', 'compression.gzip.level'],
  'compression.lz4.level': ['9', 'compression.lz4.level'],
  'compression.type': ['producer', 'compression.type'],
  'compression.zstd.level': ['3', 'compression.zstd.level'],
  'delete.retention.ms': ['86400000', 'log.cleaner.delete.retention.ms'],
  'file.delete.delay.ms': ['60000', 'log.segment.delete.delay.ms'],
  'flush.messages': ['9223372036854775807', 'log.flush.interval.messages'],
  'flush.ms': ['9223372036854775807', 'log.flush.interval.ms'],
  'follower.replication.throttled.replicas': ['', null],
  'index.interval.bytes': ['4096', 'log.index.interval.bytes'],
  'leader.replication.throttled.replicas': ['', null],
  'local.retention.bytes': ['-2', 'log.local.retention.bytes'],
  'local.retention.ms': ['-2', 'log.local.retention.ms'],
  'max.compaction.lag.ms': ['9223372036854775807', 'log.cleaner.max.compaction.lag.ms'],
  'max.message.bytes': ['1048588', 'message.max.bytes'],
  'message.downconversion.enable': ['true', 'log.message.downconversion.enable'],
  'message.format.version': ['3.0-IV1', 'log.message.format.version'],
  'message.timestamp.after.max.ms': ['9223372036854775807', 'log.message.timestamp.after.max.ms'],
  'message.timestamp.before.max.ms': ['9223372036854775807', 'log.message.timestamp.before.max.ms'],
  'message.timestamp.difference.max.ms': [
    '9223372036854775807',
    'log.message.timestamp.difference.max.ms',
  ],
  'message.timestamp.type': ['CreateTime', 'log.message.timestamp.type'],
  'min.cleanable.dirty.ratio': ['0.5', 'log.cleaner.min.cleanable.ratio'],
  'min.compaction.lag.ms': ['0', 'log.cleaner.min.compaction.lag.ms'],
  'min.insync.replicas': ['1', 'min.insync.replicas'],
  preallocate: ['false', 'log.preallocate'],
  'remote.log.copy.disable': ['false', null],
  'remote.log.delete.on.disable': ['false', null],
  'remote.storage.enable': ['false', null],
  'retention.bytes': ['-1', 'log.retention.bytes'],
  'retention.ms': ['604800000', 'log.retention.ms'],
  'segment.bytes': ['1073741824', 'log.segment.bytes'],
  'segment.index.bytes': ['10485760', 'log.index.size.max.bytes'],
  'segment.jitter.ms': ['0', 'log.roll.jitter.ms'],
  'segment.ms': ['604800000', 'log.roll.ms'],
  'unclean.leader.election.enable': ['false', 'unclean.leader.election.enable'],
};

/** A valid value other than the default for every property (remote.storage.enable has none). */
const SAMPLES: Record<LogConfigName, string> = {
  'cleanup.policy': 'compact,delete',
  'compression.gzip.level': '9',
  'compression.lz4.level': '17',
  'compression.type': 'zstd',
  'compression.zstd.level': '-131072',
  'delete.retention.ms': '0',
  'file.delete.delay.ms': '1',
  'flush.messages': '1',
  'flush.ms': '1000',
  'follower.replication.throttled.replicas': '0:1,1:2',
  'index.interval.bytes': '0',
  'leader.replication.throttled.replicas': '*',
  'local.retention.bytes': '-1',
  'local.retention.ms': '86400000',
  'max.compaction.lag.ms': '1',
  'max.message.bytes': '0',
  'message.downconversion.enable': 'false',
  'message.format.version': '2.8-IV1',
  'message.timestamp.after.max.ms': '3600000',
  'message.timestamp.before.max.ms': '0',
  'message.timestamp.difference.max.ms': '60000',
  'message.timestamp.type': 'LogAppendTime',
  'min.cleanable.dirty.ratio': '1.0E-4',
  'min.compaction.lag.ms': '1000',
  'min.insync.replicas': '2147483647',
  preallocate: 'true',
  'remote.log.copy.disable': 'true',
  'remote.log.delete.on.disable': 'true',
  'remote.storage.enable': 'false',
  'retention.bytes': '-9007199254740991',
  'retention.ms': '-1',
  'segment.bytes': '14',
  'segment.index.bytes': '4',
  'segment.jitter.ms': '3600000',
  'segment.ms': '1',
  'unclean.leader.election.enable': 'true',
};

describe('log config defaults', () => {
  it("equal the defaults of Kafka's topic config documentation, for every property", () => {
    assert.deepEqual([...LOG_CONFIG_NAMES].sort(), Object.keys(DOCUMENTED).sort());
    for (const name of LOG_CONFIG_NAMES) {
      assert.equal(formatLogConfigValue(name, LOG_CONFIG_DEFAULTS), DOCUMENTED[name][0], name);
    }
  });

  it('spot-check: typed values', () => {
    const d = LOG_CONFIG_DEFAULTS;
    assert.equal(d.segmentBytes, 1024 * 1024 * 1024);
    assert.equal(d.segmentMs, 7 * 24 * 60 * 60 * 1000);
    assert.equal(d.segmentJitterMs, 0);
    assert.equal(d.segmentIndexBytes, 10 * 1024 * 1024);
    assert.equal(d.indexIntervalBytes, 4096);
    assert.equal(d.flushMessages, UNLIMITED);
    assert.equal(d.flushMs, UNLIMITED);
    assert.equal(d.retentionMs, 604800000);
    assert.equal(d.retentionBytes, -1);
    assert.deepEqual(d.cleanupPolicy, ['delete']);
    assert.equal(d.deleteRetentionMs, 86400000);
    assert.equal(d.minCompactionLagMs, 0);
    assert.equal(d.maxCompactionLagMs, UNLIMITED);
    assert.equal(d.minCleanableDirtyRatio, 0.5);
    assert.equal(d.fileDeleteDelayMs, 60000);
    assert.equal(d.maxMessageBytes, 1048588);
    assert.equal(d.messageTimestampType, 'CreateTime');
    assert.equal(d.compressionType, 'producer');
    assert.equal(d.minInsyncReplicas, 1);
    assert.equal(d.uncleanLeaderElectionEnable, false);
    assert.equal(d.preallocate, false);
    assert.equal(d.messageDownconversionEnable, true);
    assert.equal(d.localRetentionMs, -2);
    assert.equal(d.remoteStorageEnable, false);
    assert.deepEqual(d.leaderReplicationThrottledReplicas, []);
  });

  it("name each property's documented Server Default Property first among its synonyms", () => {
    for (const name of LOG_CONFIG_NAMES) {
      assert.equal(property(name).brokerSynonyms[0]?.name ?? null, DOCUMENTED[name][1], name);
    }
  });

  it('print the Valid Values column as Kafka does', () => {
    const validValues = (name: LogConfigName) => property(name).validator.validValues;
    assert.equal(validValues('segment.bytes'), '[14,...]');
    assert.equal(validValues('segment.ms'), '[1,...]');
    assert.equal(validValues('segment.index.bytes'), '[4,...]');
    assert.equal(validValues('flush.messages'), '[1,...]');
    assert.equal(validValues('retention.ms'), '[-1,...]');
    assert.equal(validValues('retention.bytes'), '');
    assert.equal(validValues('min.cleanable.dirty.ratio'), '[0,...,1]');
    assert.equal(validValues('cleanup.policy'), '[compact, delete]');
    assert.equal(
      validValues('compression.type'),
      '[uncompressed, zstd, lz4, snappy, gzip, producer]',
    );
    assert.equal(validValues('compression.gzip.level'), '[1,...,9] or -1');
    assert.equal(validValues('compression.zstd.level'), '[-131072,...,22]');
    assert.equal(validValues('message.timestamp.type'), '[CreateTime, LogAppendTime]');
    assert.equal(validValues('local.retention.ms'), '[-2,...]');
    assert.match(validValues('message.format.version'), /^\[0\.8\.0, .*, 3\.0-IV1, .*\]$/);
  });

  it('are frozen, valid by their own validators, and one field per property', () => {
    assert.ok(Object.isFrozen(LOG_CONFIG_DEFAULTS));
    assert.ok(Object.isFrozen(LOG_CONFIG_DEFAULTS.cleanupPolicy));
    const keys = LOG_CONFIG_NAMES.map((name) => property(name).key);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual([...keys].sort(), Object.keys(LOG_CONFIG_DEFAULTS).sort());
    for (const name of LOG_CONFIG_NAMES) {
      const { key, validator } = property(name);
      assert.equal(validator.check(LOG_CONFIG_DEFAULTS[key]), undefined, name);
      assert.ok(property(name).doc.length > 0, name);
    }
  });
});

describe('parseLogConfig', () => {
  it('parses ints, trimming whitespace as Kafka does', () => {
    assert.equal(parseOne('segment.bytes', ' 1048576\t').segmentBytes, 1048576);
    assert.equal(parseOne('min.insync.replicas', '+2').minInsyncReplicas, 2);
    assert.equal(parseOne('compression.zstd.level', '-7').compressionZstdLevel, -7);
    assert.equal(
      errorOf('segment.bytes', '2147483648'),
      'Invalid value 2147483648 for configuration segment.bytes: Not a number of type INT',
    );
    assert.equal(
      errorOf('segment.bytes', '1.5'),
      'Invalid value 1.5 for configuration segment.bytes: Not a number of type INT',
    );
    assert.equal(
      errorOf('index.interval.bytes', ''),
      'Invalid value  for configuration index.interval.bytes: Not a number of type INT',
    );
  });

  it('parses longs over the whole Java long range, clamping beyond 2^53 - 1', () => {
    assert.equal(parseOne('retention.ms', '86400000').retentionMs, 86400000);
    assert.equal(parseOne('flush.messages', '9223372036854775807').flushMessages, UNLIMITED);
    assert.equal(parseOne('flush.ms', '9007199254740993').flushMs, UNLIMITED);
    assert.equal(parseOne('retention.bytes', '-9223372036854775808').retentionBytes, -UNLIMITED);
    assert.equal(
      errorOf('flush.messages', '9223372036854775808'),
      'Invalid value 9223372036854775808 for configuration flush.messages: ' +
        'Not a number of type LONG',
    );
    assert.equal(
      errorOf('retention.ms', '7d'),
      'Invalid value 7d for configuration retention.ms: Not a number of type LONG',
    );
  });

  it('parses doubles as Java does, but refuses NaN', () => {
    assert.equal(parseOne('min.cleanable.dirty.ratio', '0.25').minCleanableDirtyRatio, 0.25);
    assert.equal(parseOne('min.cleanable.dirty.ratio', '.75').minCleanableDirtyRatio, 0.75);
    assert.equal(parseOne('min.cleanable.dirty.ratio', '1E-1').minCleanableDirtyRatio, 0.1);
    assert.equal(parseOne('min.cleanable.dirty.ratio', '0.5d').minCleanableDirtyRatio, 0.5);
    assert.equal(parseOne('min.cleanable.dirty.ratio', '1').minCleanableDirtyRatio, 1);
    assert.equal(
      errorOf('min.cleanable.dirty.ratio', 'NaN'),
      'Invalid value NaN for configuration min.cleanable.dirty.ratio: Not a number of type DOUBLE',
    );
    assert.equal(
      errorOf('min.cleanable.dirty.ratio', 'half'),
      'Invalid value half for configuration min.cleanable.dirty.ratio: Not a number of type DOUBLE',
    );
    assert.equal(
      errorOf('min.cleanable.dirty.ratio', 'Infinity'),
      'Invalid value Infinity for configuration min.cleanable.dirty.ratio: ' +
        'Value must be no more than 1',
    );
  });

  it('parses booleans case-insensitively', () => {
    assert.equal(parseOne('preallocate', 'TRUE').preallocate, true);
    assert.equal(
      parseOne('unclean.leader.election.enable', ' True ').uncleanLeaderElectionEnable,
      true,
    );
    assert.equal(
      parseOne('message.downconversion.enable', 'false').messageDownconversionEnable,
      false,
    );
    assert.equal(
      errorOf('preallocate', 'yes'),
      'Invalid value yes for configuration preallocate: Expected value to be either true or false',
    );
  });

  it('checks enumerated strings case-sensitively', () => {
    assert.equal(parseOne('compression.type', ' lz4 ').compressionType, 'lz4');
    assert.equal(
      parseOne('message.timestamp.type', 'LogAppendTime').messageTimestampType,
      'LogAppendTime',
    );
    assert.equal(
      errorOf('compression.type', 'GZIP'),
      'Invalid value GZIP for configuration compression.type: ' +
        'String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer',
    );
    assert.equal(
      errorOf('message.timestamp.type', 'createtime'),
      'Invalid value createtime for configuration message.timestamp.type: ' +
        'String must be one of: CreateTime, LogAppendTime',
    );
  });

  it('checks ranges with Kafka-like messages', () => {
    assert.equal(
      errorOf('segment.bytes', '-5'),
      'Invalid value -5 for configuration segment.bytes: Value must be at least 14',
    );
    assert.equal(
      errorOf('segment.bytes', '13'),
      'Invalid value 13 for configuration segment.bytes: Value must be at least 14',
    );
    assert.equal(
      errorOf('retention.ms', '-2'),
      'Invalid value -2 for configuration retention.ms: Value must be at least -1',
    );
    assert.equal(
      errorOf('min.cleanable.dirty.ratio', '2'),
      'Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must be no more than 1',
    );
    assert.equal(
      errorOf('min.cleanable.dirty.ratio', '-0.5'),
      'Invalid value -0.5 for configuration min.cleanable.dirty.ratio: Value must be at least 0',
    );
    assert.equal(
      errorOf('compression.lz4.level', '18'),
      'Invalid value 18 for configuration compression.lz4.level: Value must be no more than 17',
    );
    assert.equal(
      errorOf('compression.gzip.level', '0'),
      'Invalid value 0 for configuration compression.gzip.level: ' +
        'Value must be between 1 and 9 or equal to -1',
    );
    assert.equal(
      errorOf('flush.messages', '0'),
      'Invalid value 0 for configuration flush.messages: Value must be at least 1',
    );
    assert.equal(
      errorOf('local.retention.ms', '-3'),
      'Invalid value -3 for configuration local.retention.ms: Value must be at least -2',
    );
    assert.equal(
      errorOf('max.compaction.lag.ms', '0'),
      'Invalid value 0 for configuration max.compaction.lag.ms: Value must be at least 1',
    );
    assert.equal(
      errorOf('local.retention.ms', '-9223372036854775808'),
      'Invalid value -9223372036854775808 for configuration local.retention.ms: ' +
        'Value must be at least -2',
    );
    // retention.bytes has no range: any negative value means no size limit.
    assert.equal(parseOne('retention.bytes', '-100').retentionBytes, -100);
    assert.equal(parseOne('compression.gzip.level', '-1').compressionGzipLevel, -1);
  });

  it('reports an unknown name as an error, broker-only names included', () => {
    for (const name of ['segment.size', 'log.retention.hours', '__proto__', 'constructor', '']) {
      const { config, errors } = parseLogConfig({ [name]: '1' });
      assert.deepEqual(
        errors.map((e) => [e.property, e.message]),
        [[name, `Unknown topic config name: ${name}`]],
      );
      assert.deepEqual(config, LOG_CONFIG_DEFAULTS);
    }
    assert.ok(isLogConfigName('segment.bytes'));
    assert.ok(!isLogConfigName('toString'));
  });

  it('reports every invalid entry at once and keeps the valid ones', () => {
    const { config, errors } = parseLogConfig({
      'segment.bytes': '-5',
      'retention.ms': '3600000',
      'cleanup.policy': 'compact,shred',
      nonsense: 'x',
      preallocate: 'maybe',
    });
    assert.deepEqual(
      errors.map((e) => e.property),
      ['segment.bytes', 'cleanup.policy', 'nonsense', 'preallocate'],
    );
    assert.equal(config.retentionMs, 3600000);
    assert.equal(config.segmentBytes, LOG_CONFIG_DEFAULTS.segmentBytes);
    assert.deepEqual(config.cleanupPolicy, ['delete']);
    assert.equal(config.preallocate, false);
  });

  it('parses on top of a base, which a bad value leaves as it was', () => {
    const base = parseOne('segment.bytes', '1048576');
    const { config, errors } = parseLogConfig({ 'segment.bytes': 'x', 'retention.ms': '-1' }, base);
    assert.equal(errors.length, 1);
    assert.equal(config.segmentBytes, 1048576);
    assert.equal(config.retentionMs, -1);
    assert.equal(base.retentionMs, LOG_CONFIG_DEFAULTS.retentionMs);
    assert.ok(Object.isFrozen(config));
  });

  it('parses cleanup.policy lists', () => {
    const policy = (value: string) => parseOne('cleanup.policy', value).cleanupPolicy;
    assert.deepEqual(policy('compact,delete'), ['compact', 'delete']);
    assert.deepEqual(policy('delete,compact'), ['delete', 'compact']);
    assert.deepEqual(policy(' compact ,\tdelete '), ['compact', 'delete']);
    assert.deepEqual(policy('compact'), ['compact']);
    assert.deepEqual(policy(''), []);
    assert.deepEqual(policy('  '), []);
    assert.equal(
      errorOf('cleanup.policy', 'compact,'),
      'Invalid value  for configuration cleanup.policy: String must be one of: compact, delete',
    );
    assert.equal(
      errorOf('cleanup.policy', 'delete,Compact'),
      'Invalid value Compact for configuration cleanup.policy: String must be one of: compact, delete',
    );
    const config = parseOne('cleanup.policy', 'compact , delete');
    assert.equal(formatLogConfigValue('cleanup.policy', config), 'compact,delete');
  });

  it('parses throttled replica lists as strings', () => {
    assert.deepEqual(
      parseOne('leader.replication.throttled.replicas', '0:101, 1:102')
        .leaderReplicationThrottledReplicas,
      ['0:101', '1:102'],
    );
    assert.deepEqual(
      parseOne('follower.replication.throttled.replicas', '*').followerReplicationThrottledReplicas,
      ['*'],
    );
    assert.equal(
      errorOf('leader.replication.throttled.replicas', '0:101,*'),
      "Invalid value [0:101, *] for configuration leader.replication.throttled.replicas: must be the literal '*' " +
        'or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...',
    );
  });

  it('checks the deprecated message.format.version as Kafka reads versions', () => {
    for (const version of ['0.10.0', '0.10.0-IV1', '0.10.2.1', '2.8', '2.8.1', '3.0-IV1', '3.9']) {
      assert.equal(parseOne('message.format.version', version).messageFormatVersion, version);
    }
    assert.equal(
      errorOf('message.format.version', '9.9'),
      'Invalid value 9.9 for configuration message.format.version: Version 9.9 is not a valid version',
    );
    assert.match(errorOf('message.format.version', '2.8-IV7'), /is not a valid version/);
  });

  it('refuses min.compaction.lag.ms above max.compaction.lag.ms', () => {
    const { errors } = parseLogConfig({
      'min.compaction.lag.ms': '10',
      'max.compaction.lag.ms': '5',
    });
    assert.deepEqual(
      errors.map((e) => e.message),
      ['conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)'],
    );
    const base = parseOne('max.compaction.lag.ms', '5');
    assert.equal(parseLogConfig({ 'min.compaction.lag.ms': '6' }, base).errors.length, 1);
    assert.equal(parseLogConfig({ 'min.compaction.lag.ms': '5' }, base).errors.length, 0);
  });

  it('refuses remote.storage.enable=true: Brook has no tiered storage', () => {
    const { config, errors } = parseLogConfig({ 'remote.storage.enable': 'true' });
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.property, 'remote.storage.enable');
    assert.equal(config.remoteStorageEnable, false);
    assert.equal(parseOne('remote.storage.enable', 'false').remoteStorageEnable, false);
    assert.equal(parseOne('local.retention.ms', '1000').localRetentionMs, 1000);
  });
});

describe('formatLogConfigValue', () => {
  it('round-trips every property: parse(format(x)) is x', () => {
    for (const name of LOG_CONFIG_NAMES) {
      const sample = parseOne(name, SAMPLES[name]);
      const { key } = property(name);
      if (name !== 'remote.storage.enable') {
        assert.notDeepEqual(sample[key], LOG_CONFIG_DEFAULTS[key], `${name}: sample is a default`);
      }
      for (const config of [LOG_CONFIG_DEFAULTS, sample]) {
        const text = formatLogConfigValue(name, config);
        assert.deepEqual(parseOne(name, text)[key], config[key], `${name}=${text}`);
      }
    }
  });

  it('prints doubles as Java does and round-trips any ratio', () => {
    const format = (value: string) =>
      formatLogConfigValue(
        'min.cleanable.dirty.ratio',
        parseOne('min.cleanable.dirty.ratio', value),
      );
    assert.equal(format('1'), '1.0');
    assert.equal(format('0'), '0.0');
    assert.equal(format('0.5'), '0.5');
    assert.equal(format('0.0001'), '1.0E-4');
    assert.equal(format('0.000123'), '1.23E-4');
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (ratio) => {
        const config = { ...LOG_CONFIG_DEFAULTS, minCleanableDirtyRatio: ratio };
        const text = formatLogConfigValue('min.cleanable.dirty.ratio', config);
        assert.equal(parseOne('min.cleanable.dirty.ratio', text).minCleanableDirtyRatio, ratio);
      }),
    );
  });

  it('round-trips any long', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        const parsed = parseOne('retention.bytes', String(value));
        const text = formatLogConfigValue('retention.bytes', parsed);
        assert.equal(parseOne('retention.bytes', text).retentionBytes, parsed.retentionBytes);
        if (value >= -(2n ** 53n) + 1n && value <= 2n ** 53n - 1n) {
          assert.equal(parsed.retentionBytes, Number(value));
        }
      }),
    );
  });
});

describe('describeLogConfig', () => {
  it('lists every config, sorted, in Kafka string form, with overrides not default', () => {
    const config = parseOne('cleanup.policy', 'compact,delete');
    const entries = describeLogConfig(config, new Set(['cleanup.policy']));
    assert.deepEqual(
      entries.map((e) => e.name),
      [...LOG_CONFIG_NAMES].sort(),
    );
    assert.deepEqual(entries[0], {
      name: 'cleanup.policy',
      value: 'compact,delete',
      isDefault: false,
    });
    const flush = entries.find((e) => e.name === 'flush.ms');
    assert.deepEqual(flush, { name: 'flush.ms', value: '9223372036854775807', isDefault: true });
    assert.equal(entries.filter((e) => !e.isDefault).length, 1);
  });
});

describe('broker-level defaults', () => {
  it('are Kafka defaults when the broker sets nothing, and ignore non-log properties', () => {
    assert.deepEqual(logConfigFromBrokerProperties({}), LOG_CONFIG_DEFAULTS);
    const config = logConfigFromBrokerProperties({ 'broker.id': '1', 'segment.bytes': 'x' });
    assert.deepEqual(config, LOG_CONFIG_DEFAULTS);
  });

  it('take retention from log.retention.ms, then .minutes, then .hours', () => {
    const retention = (props: Record<string, string>) =>
      logConfigFromBrokerProperties(props).retentionMs;
    assert.equal(retention({ 'log.retention.hours': '24' }), 86400000);
    assert.equal(
      retention({ 'log.retention.hours': '24', 'log.retention.minutes': '30' }),
      1800000,
    );
    assert.equal(
      retention({
        'log.retention.hours': '24',
        'log.retention.minutes': '30',
        'log.retention.ms': '1000',
      }),
      1000,
    );
    assert.equal(retention({ 'log.retention.ms': '1000', 'log.retention.hours': 'x' }), 1000);
    assert.equal(retention({ 'log.retention.hours': '-1' }), -1);
    assert.equal(retention({ 'log.retention.minutes': '-5' }), -1);
    assert.equal(retention({ 'log.retention.ms': '-1' }), -1);
  });

  it('refuse a zero retention and report every bad value', () => {
    const { errors } = parseBrokerLogConfig({
      'log.retention.hours': '0',
      'log.roll.hours': '0',
      'log.segment.bytes': '10',
      'log.flush.scheduler.interval.ms': '-5',
      'log.cleanup.policy': 'shred',
    });
    assert.deepEqual(errors.map((e) => e.message).sort(), [
      'Invalid value -5 for configuration log.flush.scheduler.interval.ms: Value must be at least 0',
      'Invalid value 0 for configuration log.retention.hours: Value must be -1 (unlimited) or at least 1',
      'Invalid value 0 for configuration log.roll.hours: Value must be at least 1',
      'Invalid value 10 for configuration log.segment.bytes: Value must be at least 14',
      'Invalid value shred for configuration log.cleanup.policy: String must be one of: compact, delete',
    ]);
    assert.throws(
      () => logConfigFromBrokerProperties({ 'log.retention.ms': 'forever' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.property === 'log.retention.ms' &&
        error.message ===
          'Invalid value forever for configuration log.retention.ms: Not a number of type LONG',
    );
  });

  it('map the log.-prefixed and other broker names onto topic configs', () => {
    const config = logConfigFromBrokerProperties({
      'log.segment.bytes': '1048576',
      'log.roll.hours': '1',
      'log.roll.jitter.hours': '2',
      'log.index.size.max.bytes': '4096',
      'log.index.interval.bytes': '128',
      'log.flush.interval.messages': '1000',
      'log.flush.scheduler.interval.ms': '3000',
      'log.retention.bytes': '1073741824',
      'log.cleanup.policy': 'compact,delete',
      'log.cleaner.delete.retention.ms': '1000',
      'log.cleaner.min.compaction.lag.ms': '2000',
      'log.cleaner.max.compaction.lag.ms': '3000',
      'log.cleaner.min.cleanable.ratio': '0.1',
      'log.segment.delete.delay.ms': '0',
      'message.max.bytes': '2097152',
      'log.message.timestamp.type': 'LogAppendTime',
      'log.message.timestamp.before.max.ms': '1',
      'log.message.timestamp.after.max.ms': '2',
      'compression.type': 'gzip',
      'compression.gzip.level': '5',
      'min.insync.replicas': '2',
      'unclean.leader.election.enable': 'true',
      'log.preallocate': 'true',
      'log.message.downconversion.enable': 'false',
      'log.local.retention.ms': '1000',
    });
    assert.equal(config.segmentBytes, 1048576);
    assert.equal(config.segmentMs, 3600000);
    assert.equal(config.segmentJitterMs, 7200000);
    assert.equal(config.segmentIndexBytes, 4096);
    assert.equal(config.indexIntervalBytes, 128);
    assert.equal(config.flushMessages, 1000);
    assert.equal(config.flushMs, 3000);
    assert.equal(config.retentionBytes, 1073741824);
    assert.deepEqual(config.cleanupPolicy, ['compact', 'delete']);
    assert.equal(config.deleteRetentionMs, 1000);
    assert.equal(config.minCompactionLagMs, 2000);
    assert.equal(config.maxCompactionLagMs, 3000);
    assert.equal(config.minCleanableDirtyRatio, 0.1);
    assert.equal(config.fileDeleteDelayMs, 0);
    assert.equal(config.maxMessageBytes, 2097152);
    assert.equal(config.messageTimestampType, 'LogAppendTime');
    assert.equal(config.messageTimestampBeforeMaxMs, 1);
    assert.equal(config.messageTimestampAfterMaxMs, 2);
    assert.equal(config.compressionType, 'gzip');
    assert.equal(config.compressionGzipLevel, 5);
    assert.equal(config.minInsyncReplicas, 2);
    assert.equal(config.uncleanLeaderElectionEnable, true);
    assert.equal(config.preallocate, true);
    assert.equal(config.messageDownconversionEnable, false);
    assert.equal(config.localRetentionMs, 1000);
  });

  it('prefer log.roll.ms over log.roll.hours and log.flush.interval.ms over the scheduler', () => {
    const config = logConfigFromBrokerProperties({
      'log.roll.ms': '5000',
      'log.roll.hours': '1',
      'log.roll.jitter.ms': '10',
      'log.roll.jitter.hours': '1',
      'log.flush.interval.ms': '100',
      'log.flush.scheduler.interval.ms': '3000',
    });
    assert.equal(config.segmentMs, 5000);
    assert.equal(config.segmentJitterMs, 10);
    assert.equal(config.flushMs, 100);
  });

  it('refuse a minimum compaction lag above the maximum', () => {
    const { errors } = parseBrokerLogConfig({
      'log.cleaner.min.compaction.lag.ms': '10',
      'log.cleaner.max.compaction.lag.ms': '5',
    });
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.property, 'log.cleaner.min.compaction.lag.ms');
  });
});

describe('effective values', () => {
  it('fall back from the timestamp limits to the deprecated difference limit', () => {
    const deprecated = parseOne('message.timestamp.difference.max.ms', '60000');
    assert.equal(effectiveMessageTimestampBeforeMaxMs(deprecated), 60000);
    assert.equal(effectiveMessageTimestampAfterMaxMs(deprecated), 60000);
    const both = parseLogConfig({
      'message.timestamp.difference.max.ms': '60000',
      'message.timestamp.before.max.ms': '1000',
    }).config;
    assert.equal(effectiveMessageTimestampBeforeMaxMs(both), 1000);
    assert.equal(effectiveMessageTimestampAfterMaxMs(both), 60000);
    assert.equal(effectiveMessageTimestampAfterMaxMs(LOG_CONFIG_DEFAULTS), UNLIMITED);
  });

  it('resolve local retention -2 to the topic retention', () => {
    assert.equal(effectiveLocalRetentionMs(LOG_CONFIG_DEFAULTS), LOG_CONFIG_DEFAULTS.retentionMs);
    assert.equal(effectiveLocalRetentionBytes(LOG_CONFIG_DEFAULTS), -1);
    assert.equal(effectiveLocalRetentionMs(parseOne('local.retention.ms', '5')), 5);
  });
});

describe('ConfigError', () => {
  it('is a BrookError with a stable code and the property name', () => {
    const [error] = parseLogConfig({ 'segment.bytes': '-5' }).errors;
    assert.ok(error instanceof BrookError);
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'BROOK_ERR_CONFIG_INVALID');
    assert.equal(ConfigError.code, 'BROOK_ERR_CONFIG_INVALID');
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.property, 'segment.bytes');
  });
});
