/**
 * The admin APIs end to end, through the raw protocol client: DeleteTopics, DeleteRecords,
 * OffsetForLeaderEpoch, DescribeConfigs, AlterConfigs, DescribeLogDirs, CreatePartitions,
 * IncrementalAlterConfigs and DescribeCluster, with their success and error answers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import {
  AlterConfigsRequest,
  AlterConfigsResponse,
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteRecordsRequest,
  DeleteRecordsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  DescribeClusterRequest,
  DescribeClusterResponse,
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  ErrorCode,
  encodeRecordBatch,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  ProduceRequest,
  ProduceResponse,
  ZERO_UUID,
} from '@brook/protocol';
import { ConfigSource, ConfigType } from '../src/config/config-resources.ts';
import { endOffsetForEpoch } from '../src/handlers/23-offset-for-leader-epoch.ts';
import { RawClient, startTestBroker } from './helpers.ts';

const TOPIC = 2;
const BROKER = 4;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

type TestContext = Parameters<typeof startTestBroker>[0];

async function setup(t: TestContext, properties: Record<string, string> = {}) {
  const started = await startTestBroker(t, { properties });
  const client = await RawClient.connect(started.port);
  t.after(() => client.close());
  return { ...started, client };
}

async function createTopic(
  client: RawClient,
  name: string,
  partitions = 1,
  configs: Record<string, string> = {},
) {
  const response = await client.request(
    ApiKey.CreateTopics,
    7,
    CreateTopicsRequest,
    CreateTopicsResponse,
    {
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor: 1,
          assignments: [],
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
        },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    },
  );
  const topic = response.topics[0]!;
  assert.equal(topic.errorCode, ErrorCode.NONE, topic.errorMessage ?? '');
  return topic;
}

async function produce(client: RawClient, topic: string, partition: number, values: string[]) {
  const response = await client.request(ApiKey.Produce, 9, ProduceRequest, ProduceResponse, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      {
        name: topic,
        partitionData: [
          {
            index: partition,
            records: encodeRecordBatch({
              baseTimestamp: BigInt(Date.now()),
              records: values.map((value, i) => ({
                offsetDelta: i,
                key: Buffer.from(`k${i}`),
                value: Buffer.from(value),
              })),
            }),
          },
        ],
      },
    ],
  });
  const result = response.responses[0]!.partitionResponses[0]!;
  assert.equal(result.errorCode, ErrorCode.NONE);
  return result;
}

async function listOffset(client: RawClient, topic: string, partition: number, timestamp: bigint) {
  const response = await client.request(
    ApiKey.ListOffsets,
    7,
    ListOffsetsRequest,
    ListOffsetsResponse,
    {
      replicaId: -1,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp }] }],
    },
  );
  return response.topics[0]!.partitions[0]!;
}

async function metadata(client: RawClient, topics: string[]) {
  return client.request(ApiKey.Metadata, 12, MetadataRequest, MetadataResponse, {
    topics: topics.map((name) => ({ topicId: ZERO_UUID, name })),
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
}

function describeConfigs(
  client: RawClient,
  resources: { resourceType: number; resourceName: string; configurationKeys?: string[] | null }[],
  options: { version?: number; includeSynonyms?: boolean; includeDocumentation?: boolean } = {},
) {
  return client.request(
    ApiKey.DescribeConfigs,
    options.version ?? 4,
    DescribeConfigsRequest,
    DescribeConfigsResponse,
    {
      resources: resources.map((r) => ({ ...r, configurationKeys: r.configurationKeys ?? null })),
      includeSynonyms: options.includeSynonyms ?? false,
      includeDocumentation: options.includeDocumentation ?? false,
    },
  );
}

/** One config of a topic, described with synonyms and documentation. */
async function topicConfig(client: RawClient, topic: string, name: string) {
  const response = await describeConfigs(
    client,
    [{ resourceType: TOPIC, resourceName: topic, configurationKeys: [name] }],
    { includeSynonyms: true, includeDocumentation: true },
  );
  const result = response.results[0]!;
  assert.equal(result.errorCode, ErrorCode.NONE);
  assert.equal(result.configs.length, 1);
  return result.configs[0]!;
}

async function incrementalAlter(
  client: RawClient,
  resources: {
    resourceType: number;
    resourceName: string;
    configs: { name: string; configOperation: number; value: string | null }[];
  }[],
  options: { validateOnly?: boolean; version?: number } = {},
) {
  const response = await client.request(
    ApiKey.IncrementalAlterConfigs,
    options.version ?? 1,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
    { resources, validateOnly: options.validateOnly ?? false },
  );
  return response.responses;
}

function deleteTopics(
  client: RawClient,
  version: number,
  topics: { name?: string | null; topicId?: string }[],
) {
  return client.request(ApiKey.DeleteTopics, version, DeleteTopicsRequest, DeleteTopicsResponse, {
    timeoutMs: 1000,
    ...(version >= 6
      ? { topics: topics.map((t) => ({ name: t.name ?? null, topicId: t.topicId ?? ZERO_UUID })) }
      : { topicNames: topics.map((t) => t.name ?? '') }),
  });
}

function createPartitions(
  client: RawClient,
  topics: { name: string; count: number; assignments?: number[][] | null }[],
  options: { validateOnly?: boolean; version?: number } = {},
) {
  return client.request(
    ApiKey.CreatePartitions,
    options.version ?? 3,
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    {
      topics: topics.map((t) => ({
        name: t.name,
        count: t.count,
        assignments: t.assignments ? t.assignments.map((brokerIds) => ({ brokerIds })) : null,
      })),
      timeoutMs: 1000,
      validateOnly: options.validateOnly ?? false,
    },
  );
}

function deleteRecords(
  client: RawClient,
  topic: string,
  partitions: { partitionIndex: number; offset: bigint }[],
  version = 2,
) {
  return client.request(
    ApiKey.DeleteRecords,
    version,
    DeleteRecordsRequest,
    DeleteRecordsResponse,
    { topics: [{ name: topic, partitions }], timeoutMs: 1000 },
  );
}

function offsetForLeaderEpoch(
  client: RawClient,
  topic: string,
  partitions: { partition: number; leaderEpoch: number; currentLeaderEpoch?: number }[],
  version = 4,
) {
  return client.request(
    ApiKey.OffsetForLeaderEpoch,
    version,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
    { replicaId: -1, topics: [{ topic, partitions }] },
  );
}

describe('admin APIs', () => {
  it('advertises every admin API in ApiVersions', async (t) => {
    const { client } = await setup(t);
    const versions = await client.request(
      ApiKey.ApiVersions,
      3,
      ApiVersionsRequest,
      ApiVersionsResponse,
      { clientSoftwareName: 'brook-test', clientSoftwareVersion: '1.0' },
    );
    const ranges = new Map(versions.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
    assert.deepEqual(ranges.get(ApiKey.DeleteTopics), [0, 6]);
    assert.deepEqual(ranges.get(ApiKey.DeleteRecords), [0, 2]);
    assert.deepEqual(ranges.get(ApiKey.OffsetForLeaderEpoch), [0, 4]);
    assert.deepEqual(ranges.get(ApiKey.DescribeConfigs), [0, 4]);
    assert.deepEqual(ranges.get(ApiKey.AlterConfigs), [0, 2]);
    assert.deepEqual(ranges.get(ApiKey.DescribeLogDirs), [0, 4]);
    assert.deepEqual(ranges.get(ApiKey.CreatePartitions), [0, 3]);
    assert.deepEqual(ranges.get(ApiKey.IncrementalAlterConfigs), [0, 1]);
    assert.deepEqual(ranges.get(ApiKey.DescribeCluster), [0, 1]);
  });
});

describe('DeleteTopics', () => {
  it('deletes by name, removes the data, and a re-created topic starts empty', async (t) => {
    const { client, dataDirectory } = await setup(t);
    await createTopic(client, 'gone', 2);
    await produce(client, 'gone', 0, ['a', 'b', 'c']);
    assert.ok(existsSync(join(dataDirectory, 'gone-0')));
    const response = await deleteTopics(client, 5, [{ name: 'gone' }]);
    assert.deepEqual(
      response.responses.map((r) => [r.name, r.errorCode, r.errorMessage]),
      [['gone', ErrorCode.NONE, null]],
    );
    assert.ok(!existsSync(join(dataDirectory, 'gone-0')));
    assert.ok(!existsSync(join(dataDirectory, 'gone-1')));
    const after = await metadata(client, ['gone']);
    assert.equal(after.topics[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await createTopic(client, 'gone', 2);
    assert.equal((await listOffset(client, 'gone', 0, -1n)).offset, 0n);
    assert.equal((await produce(client, 'gone', 0, ['fresh'])).baseOffset, 0n);
  });

  it('deletes by topic id (v6) and answers unknown names and ids', async (t) => {
    const { client } = await setup(t);
    const created = await createTopic(client, 'by-id');
    const response = await deleteTopics(client, 6, [
      { topicId: created.topicId },
      { topicId: '01234567-89ab-cdef-0123-456789abcdef' },
      { name: 'never-was' },
    ]);
    assert.deepEqual(
      response.responses.map((r) => [r.name, r.topicId, r.errorCode, r.errorMessage]),
      [
        ['by-id', created.topicId, ErrorCode.NONE, null],
        [
          null,
          '01234567-89ab-cdef-0123-456789abcdef',
          ErrorCode.UNKNOWN_TOPIC_ID,
          'This server does not host this topic ID.',
        ],
        [
          'never-was',
          ZERO_UUID,
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          'This server does not host this topic-partition.',
        ],
      ],
    );
    const v1 = await deleteTopics(client, 1, [{ name: 'by-id' }]);
    assert.equal(v1.responses[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('refuses malformed entries one by one and deletes the others', async (t) => {
    const { client } = await setup(t);
    const keep = await createTopic(client, 'keep');
    await createTopic(client, 'drop');
    await createTopic(client, 'twice');
    const response = await deleteTopics(client, 6, [
      { name: 'keep', topicId: keep.topicId },
      {},
      { name: 'twice' },
      { name: 'twice' },
      { name: 'drop' },
    ]);
    const byName = new Map(response.responses.map((r) => [r.name, r]));
    assert.equal(byName.get('keep')?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(
      byName.get('keep')?.errorMessage,
      'You may not specify both topic name and topic id.',
    );
    assert.equal(byName.get(null)?.errorMessage, 'Neither topic name nor id were specified.');
    assert.equal(byName.get('twice')?.errorMessage, 'Duplicate topic name.');
    assert.equal(byName.get('drop')?.errorCode, ErrorCode.NONE);
    const after = await metadata(client, ['keep', 'twice', 'drop']);
    assert.deepEqual(
      after.topics.map((topic) => topic.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );
  });

  it('refuses every deletion when delete.topic.enable is false', async (t) => {
    const { client } = await setup(t, { 'delete.topic.enable': 'false' });
    await createTopic(client, 'stays');
    const v4 = await deleteTopics(client, 4, [{ name: 'stays' }]);
    assert.equal(v4.responses[0]?.errorCode, ErrorCode.TOPIC_DELETION_DISABLED);
    const v2 = await deleteTopics(client, 2, [{ name: 'stays' }]);
    assert.equal(v2.responses[0]?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await metadata(client, ['stays'])).topics[0]?.errorCode, ErrorCode.NONE);
  });
});

describe('CreatePartitions', () => {
  it('adds partitions, validates only when asked, and refuses what is not an increase', async (t) => {
    const { client, broker } = await setup(t);
    const nodeId = broker.config.nodeId;
    await createTopic(client, 'grow');
    const dry = await createPartitions(client, [{ name: 'grow', count: 3 }], {
      validateOnly: true,
    });
    assert.equal(dry.results[0]?.errorCode, ErrorCode.NONE);
    assert.equal((await metadata(client, ['grow'])).topics[0]?.partitions.length, 1);

    const grown = await createPartitions(client, [{ name: 'grow', count: 3 }], { version: 0 });
    assert.equal(grown.results[0]?.errorCode, ErrorCode.NONE);
    assert.equal((await metadata(client, ['grow'])).topics[0]?.partitions.length, 3);
    assert.equal((await produce(client, 'grow', 2, ['new'])).baseOffset, 0n);

    const refused = await createPartitions(client, [
      { name: 'grow', count: 2 },
      { name: 'missing', count: 2 },
    ]);
    assert.deepEqual(
      refused.results.map((r) => [r.name, r.errorCode, r.errorMessage]),
      [
        [
          'grow',
          ErrorCode.INVALID_PARTITIONS,
          'The topic grow currently has 3 partition(s); 2 would not be an increase.',
        ],
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null],
      ],
    );
    const same = await createPartitions(client, [{ name: 'grow', count: 3 }]);
    assert.equal(same.results[0]?.errorMessage, 'Topic already has 3 partition(s).');

    const assigned = await createPartitions(client, [
      { name: 'grow', count: 4, assignments: [[nodeId]] },
    ]);
    assert.equal(assigned.results[0]?.errorCode, ErrorCode.NONE);
    const badAssignments = await createPartitions(client, [
      { name: 'grow', count: 6, assignments: [[nodeId]] },
    ]);
    assert.equal(badAssignments.results[0]?.errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    assert.equal(
      badAssignments.results[0]?.errorMessage,
      'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
    );
    const foreign = await createPartitions(client, [
      { name: 'grow', count: 5, assignments: [[nodeId + 6]] },
    ]);
    assert.equal(
      foreign.results[0]?.errorMessage,
      `The manual partition assignment includes broker ${nodeId + 6}, but no such broker is registered.`,
    );
    const duplicate = await createPartitions(client, [
      { name: 'grow', count: 9 },
      { name: 'grow', count: 9 },
    ]);
    assert.deepEqual(
      duplicate.results.map((r) => [r.errorCode, r.errorMessage]),
      [[ErrorCode.INVALID_REQUEST, 'Duplicate topic name.']],
    );
    assert.equal((await metadata(client, ['grow'])).topics[0]?.partitions.length, 4);
  });
});

describe('DescribeConfigs', () => {
  it('describes a topic: overrides, static broker settings, defaults, synonyms, types', async (t) => {
    const { client } = await setup(t, {
      'log.segment.bytes': '2097152',
      'log.retention.hours': '1',
    });
    await createTopic(client, 'cfg', 1, { 'retention.ms': '3600000' });

    const retention = await topicConfig(client, 'cfg', 'retention.ms');
    assert.equal(retention.value, '3600000');
    assert.equal(retention.configSource, ConfigSource.dynamicTopic);
    assert.equal(retention.readOnly, false);
    assert.equal(retention.configType, ConfigType.long);
    assert.deepEqual(
      retention.synonyms.map((s) => [s.name, s.value, s.source]),
      [['retention.ms', '3600000', ConfigSource.dynamicTopic]],
    );
    assert.ok((retention.documentation ?? '').length > 0);

    const segment = await topicConfig(client, 'cfg', 'segment.bytes');
    assert.equal(segment.value, '2097152');
    assert.equal(segment.configSource, ConfigSource.staticBroker);
    assert.equal(segment.configType, ConfigType.int);
    assert.deepEqual(
      segment.synonyms.map((s) => [s.name, s.value, s.source]),
      [
        ['log.segment.bytes', '2097152', ConfigSource.staticBroker],
        ['log.segment.bytes', '1073741824', ConfigSource.default],
      ],
    );

    const policy = await topicConfig(client, 'cfg', 'cleanup.policy');
    assert.equal(policy.value, 'delete');
    assert.equal(policy.configSource, ConfigSource.default);
    assert.equal(policy.configType, ConfigType.list);
    assert.deepEqual(
      policy.synonyms.map((s) => [s.name, s.value, s.source]),
      [['log.cleanup.policy', 'delete', ConfigSource.default]],
    );

    // Every topic config by default; no synonyms or documentation unless asked for.
    const all = await describeConfigs(client, [{ resourceType: TOPIC, resourceName: 'cfg' }]);
    const configs = all.results[0]!.configs;
    assert.ok(configs.length >= 30);
    assert.ok(configs.every((c) => c.synonyms.length === 0 && c.documentation === null));
    assert.ok(configs.some((c) => c.name === 'max.message.bytes' && c.value === '1048588'));

    // A key filter keeps only known names.
    const filtered = await describeConfigs(client, [
      { resourceType: TOPIC, resourceName: 'cfg', configurationKeys: ['segment.ms', 'nope'] },
    ]);
    assert.deepEqual(
      filtered.results[0]?.configs.map((c) => c.name),
      ['segment.ms'],
    );
  });

  it('answers unknown and illegal topics, and every version', async (t) => {
    const { client } = await setup(t);
    await createTopic(client, 'versions', 1, { 'cleanup.policy': 'compact' });
    const errors = await describeConfigs(client, [
      { resourceType: TOPIC, resourceName: 'missing' },
      { resourceType: TOPIC, resourceName: 'bad name' },
      { resourceType: 99, resourceName: 'x' },
    ]);
    assert.deepEqual(
      errors.results.map((r) => [r.resourceName, r.errorCode, r.configs.length]),
      [
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
        ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
        ['x', ErrorCode.INVALID_REQUEST, 0],
      ],
    );
    for (const version of [0, 1, 2, 3, 4]) {
      const response = await describeConfigs(
        client,
        [{ resourceType: TOPIC, resourceName: 'versions', configurationKeys: null }],
        { version, includeSynonyms: version >= 1, includeDocumentation: version >= 3 },
      );
      const byName = new Map(response.results[0]!.configs.map((c) => [c.name, c]));
      const policy = byName.get('cleanup.policy')!;
      const retention = byName.get('retention.ms')!;
      assert.equal(policy.value, 'compact');
      if (version === 0) {
        assert.equal(policy.isDefault, false);
        assert.equal(retention.isDefault, true);
      } else {
        assert.equal(policy.configSource, ConfigSource.dynamicTopic);
        assert.equal(retention.configSource, ConfigSource.default);
        assert.equal(policy.synonyms[0]?.source, ConfigSource.dynamicTopic);
      }
      assert.equal(policy.configType, version >= 3 ? ConfigType.list : 0);
      if (version >= 3) assert.ok((policy.documentation ?? '').length > 0);
    }
  });

  it('describes the broker and the cluster default', async (t) => {
    const { client, broker } = await setup(t, {
      'num.partitions': '3',
      'log.retention.ms': '7200000',
    });
    const nodeId = String(broker.config.nodeId);
    const response = await describeConfigs(
      client,
      [
        { resourceType: BROKER, resourceName: nodeId },
        { resourceType: BROKER, resourceName: '' },
        { resourceType: BROKER, resourceName: String(broker.config.nodeId + 1) },
        { resourceType: BROKER, resourceName: 'one' },
      ],
      { includeSynonyms: true },
    );
    const [own, clusterDefault, other, notNumber] = response.results;
    const byName = new Map(own!.configs.map((c) => [c.name, c]));
    assert.equal(byName.get('num.partitions')?.value, '3');
    assert.equal(byName.get('num.partitions')?.configSource, ConfigSource.staticBroker);
    assert.equal(byName.get('num.partitions')?.readOnly, true);
    assert.equal(byName.get('delete.topic.enable')?.configSource, ConfigSource.default);
    assert.equal(byName.get('node.id')?.value, nodeId);
    assert.equal(byName.get('log.segment.bytes')?.readOnly, false);
    assert.equal(byName.get('log.segment.bytes')?.value, '1073741824');
    const retention = byName.get('log.retention.ms');
    assert.equal(retention?.value, '7200000');
    assert.equal(retention?.configSource, ConfigSource.staticBroker);
    assert.deepEqual(
      retention?.synonyms.map((s) => [s.name, s.value, s.source]),
      [
        ['log.retention.ms', '7200000', ConfigSource.staticBroker],
        ['log.retention.hours', '168', ConfigSource.default],
      ],
    );
    assert.equal(byName.get('log.retention.hours')?.readOnly, true);
    assert.equal(clusterDefault?.errorCode, ErrorCode.NONE);
    assert.deepEqual(clusterDefault?.configs, []);
    assert.equal(other?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(
      other?.errorMessage,
      `Unexpected broker id, expected ${nodeId} or empty string, but received ${broker.config.nodeId + 1}`,
    );
    assert.equal(notNumber?.errorMessage, 'Broker id must be an integer, but it is: one');
    // A topic falls back to the static broker property.
    await createTopic(client, 'inherits');
    const inherited = await topicConfig(client, 'inherits', 'retention.ms');
    assert.equal(inherited.value, '7200000');
    assert.equal(inherited.configSource, ConfigSource.staticBroker);
  });
});

describe('IncrementalAlterConfigs', () => {
  it('sets configs that DescribeConfigs shows and the logs use', async (t) => {
    const { client, broker, dataDirectory } = await setup(t);
    await createTopic(client, 'tuned');
    const results = await incrementalAlter(client, [
      {
        resourceType: TOPIC,
        resourceName: 'tuned',
        configs: [
          { name: 'retention.ms', configOperation: SET, value: '60000' },
          { name: 'segment.bytes', configOperation: SET, value: '200' },
        ],
      },
    ]);
    assert.deepEqual(results, [
      {
        resourceType: TOPIC,
        resourceName: 'tuned',
        errorCode: ErrorCode.NONE,
        errorMessage: null,
      },
    ]);
    const retention = await topicConfig(client, 'tuned', 'retention.ms');
    assert.equal(retention.value, '60000');
    assert.equal(retention.configSource, ConfigSource.dynamicTopic);
    const segment = await topicConfig(client, 'tuned', 'segment.bytes');
    assert.equal(segment.value, '200');
    assert.equal(segment.configSource, ConfigSource.dynamicTopic);
    const config = broker.context.topicLogConfig('tuned');
    assert.equal(config.retentionMs, 60000);
    assert.equal(config.segmentBytes, 200);
    // The log rolls at the new segment size.
    for (let i = 0; i < 4; i++) await produce(client, 'tuned', 0, [`record-${i}`.repeat(10)]);
    const log = broker.context.logs.get({ topic: 'tuned', partition: 0 });
    assert.ok((log?.segmentCount ?? 0) > 1, 'segments rolled at 200 bytes');
    // Stored in the metadata.
    const stored = JSON.parse(readFileSync(join(dataDirectory, 'brook-metadata.json'), 'utf8'));
    const topic = stored.topics.find((x: { name: string }) => x.name === 'tuned');
    assert.deepEqual(topic.configs, { 'retention.ms': '60000', 'segment.bytes': '200' });

    // DELETE goes back to the default.
    await incrementalAlter(
      client,
      [
        {
          resourceType: TOPIC,
          resourceName: 'tuned',
          configs: [{ name: 'retention.ms', configOperation: DELETE, value: null }],
        },
      ],
      { version: 0 },
    );
    const reset = await topicConfig(client, 'tuned', 'retention.ms');
    assert.equal(reset.value, '604800000');
    assert.equal(reset.configSource, ConfigSource.default);
    assert.equal(broker.context.topicLogConfig('tuned').retentionMs, 604800000);
  });

  it('appends to and subtracts from list configs', async (t) => {
    const { client, broker } = await setup(t);
    await createTopic(client, 'lists');
    const alter = (configOperation: number, value: string, name = 'cleanup.policy') =>
      incrementalAlter(client, [
        { resourceType: TOPIC, resourceName: 'lists', configs: [{ name, configOperation, value }] },
      ]);
    assert.equal((await alter(APPEND, 'compact'))[0]?.errorCode, ErrorCode.NONE);
    assert.equal((await topicConfig(client, 'lists', 'cleanup.policy')).value, 'delete,compact');
    assert.equal((await alter(APPEND, 'compact'))[0]?.errorCode, ErrorCode.NONE);
    assert.equal((await topicConfig(client, 'lists', 'cleanup.policy')).value, 'delete,compact');
    assert.equal((await alter(SUBTRACT, 'delete'))[0]?.errorCode, ErrorCode.NONE);
    assert.equal((await topicConfig(client, 'lists', 'cleanup.policy')).value, 'compact');
    assert.deepEqual(broker.context.topicLogConfig('lists').cleanupPolicy, ['compact']);
    const notList = await alter(APPEND, '5', 'retention.ms');
    assert.deepEqual(
      [notList[0]?.errorCode, notList[0]?.errorMessage],
      [ErrorCode.INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."],
    );
    const badElement = await alter(APPEND, 'shred');
    assert.equal(badElement[0]?.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(badElement[0]?.errorMessage ?? '', /cleanup\.policy/);
  });

  it('validates only when asked, and refuses bad requests per resource', async (t) => {
    const { client, broker } = await setup(t);
    await createTopic(client, 'strict');
    const set = (name: string, value: string | null, resourceName = 'strict') => ({
      resourceType: TOPIC,
      resourceName,
      configs: [{ name, configOperation: SET, value }],
    });
    const dry = await incrementalAlter(client, [set('retention.ms', '1000')], {
      validateOnly: true,
    });
    assert.equal(dry[0]?.errorCode, ErrorCode.NONE);
    assert.equal(broker.context.topicLogConfig('strict').retentionMs, 604800000);

    const results = await incrementalAlter(client, [
      set('retention.ms', 'soon'),
      set('no.such.config', '1', 'strict.too'),
      set('retention.ms', '1000', 'missing'),
      set('retention.ms', null, 'nulls'),
      set('retention.ms', '1', ''),
      {
        resourceType: TOPIC,
        resourceName: 'dup-keys',
        configs: [
          { name: 'retention.ms', configOperation: SET, value: '1' },
          { name: 'retention.ms', configOperation: DELETE, value: null },
        ],
      },
      {
        resourceType: TOPIC,
        resourceName: 'op',
        configs: [{ name: 'retention.ms', configOperation: 9, value: '1' }],
      },
    ]);
    assert.deepEqual(
      results.map((r) => [r.resourceName, r.errorCode, r.errorMessage]),
      [
        [
          'strict',
          ErrorCode.INVALID_CONFIG,
          'Invalid value soon for configuration retention.ms: Not a number of type LONG',
        ],
        ['strict.too', ErrorCode.INVALID_CONFIG, 'Unknown topic config name: no.such.config'],
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'missing' does not exist."],
        ['nulls', ErrorCode.INVALID_REQUEST, 'Null value not supported for : retention.ms'],
        ['', ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.'],
        ['dup-keys', ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys'],
        ['op', ErrorCode.INVALID_REQUEST, 'Unknown operations type 9'],
      ],
    );
    const twice = await incrementalAlter(client, [
      set('retention.ms', '1000'),
      set('retention.ms', '2000'),
    ]);
    assert.deepEqual(
      twice.map((r) => [r.errorCode, r.errorMessage]),
      [
        [ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
        [ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
      ],
    );
    assert.deepEqual(broker.context.metadata.topic('strict')?.configs, {});
  });

  it('changes the dynamic log defaults of the broker and refuses static properties', async (t) => {
    const { client, broker } = await setup(t);
    const nodeId = String(broker.config.nodeId);
    await createTopic(client, 'plain');
    await createTopic(client, 'own', 1, { 'retention.ms': '1000' });
    const results = await incrementalAlter(client, [
      {
        resourceType: BROKER,
        resourceName: '',
        configs: [{ name: 'log.retention.ms', configOperation: SET, value: '120000' }],
      },
      {
        resourceType: BROKER,
        resourceName: nodeId,
        configs: [{ name: 'log.segment.bytes', configOperation: SET, value: '4096' }],
      },
      {
        resourceType: BROKER,
        resourceName: 'x',
        configs: [{ name: 'log.segment.bytes', configOperation: SET, value: '4096' }],
      },
    ]);
    assert.deepEqual(
      results.map((r) => [r.errorCode, r.errorMessage]),
      [
        [ErrorCode.NONE, null],
        [ErrorCode.NONE, null],
        [ErrorCode.INVALID_REQUEST, 'Node id must be an integer, but it is: x'],
      ],
    );
    assert.equal(broker.context.topicLogConfig('plain').retentionMs, 120000);
    assert.equal(broker.context.topicLogConfig('plain').segmentBytes, 4096);
    assert.equal(broker.context.topicLogConfig('own').retentionMs, 1000);
    const inherited = await topicConfig(client, 'plain', 'retention.ms');
    assert.equal(inherited.value, '120000');
    assert.equal(inherited.configSource, ConfigSource.dynamicDefaultBroker);
    const segment = await topicConfig(client, 'plain', 'segment.bytes');
    assert.equal(segment.configSource, ConfigSource.dynamicBroker);
    const described = await describeConfigs(client, [{ resourceType: BROKER, resourceName: '' }], {
      includeSynonyms: true,
    });
    assert.deepEqual(
      described.results[0]?.configs.map((c) => [c.name, c.value, c.configSource, c.readOnly]),
      [['log.retention.ms', '120000', ConfigSource.dynamicDefaultBroker, false]],
    );

    const refused = await incrementalAlter(client, [
      {
        resourceType: BROKER,
        resourceName: nodeId,
        configs: [
          { name: 'num.partitions', configOperation: SET, value: '4' },
          { name: 'log.retention.hours', configOperation: SET, value: '4' },
        ],
      },
      {
        resourceType: BROKER,
        resourceName: '',
        configs: [{ name: 'log.segment.bytes', configOperation: SET, value: 'big' }],
      },
    ]);
    assert.deepEqual(
      refused.map((r) => [r.errorCode, r.errorMessage]),
      [
        [
          ErrorCode.INVALID_REQUEST,
          'Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)',
        ],
        [
          ErrorCode.INVALID_REQUEST,
          'Invalid value big for configuration log.segment.bytes: Not a number of type INT',
        ],
      ],
    );
    // Deleting the dynamic default restores the static/default value.
    await incrementalAlter(client, [
      {
        resourceType: BROKER,
        resourceName: '',
        configs: [{ name: 'log.retention.ms', configOperation: DELETE, value: null }],
      },
    ]);
    assert.equal(broker.context.topicLogConfig('plain').retentionMs, 604800000);
  });
});

describe('config changes across a restart', () => {
  it('keeps topic overrides and dynamic broker configs', async (t) => {
    const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-admin-restart-'));
    const first = await startTestBroker(t, { dataDirectory });
    const client = await RawClient.connect(first.port);
    await createTopic(client, 'kept');
    await incrementalAlter(client, [
      {
        resourceType: TOPIC,
        resourceName: 'kept',
        configs: [{ name: 'segment.bytes', configOperation: SET, value: '65536' }],
      },
      {
        resourceType: BROKER,
        resourceName: '',
        configs: [{ name: 'log.retention.ms', configOperation: SET, value: '90000' }],
      },
    ]);
    client.close();
    await first.stop();
    const second = await startTestBroker(t, { dataDirectory });
    // Registered last, so it runs after both brokers have stopped.
    t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
    const config = second.broker.context.topicLogConfig('kept');
    assert.equal(config.segmentBytes, 65536);
    assert.equal(config.retentionMs, 90000);
  });
});

describe('AlterConfigs', () => {
  it('replaces the whole set of a topic’s overrides', async (t) => {
    const { client, broker } = await setup(t);
    await createTopic(client, 'legacy', 1, { 'retention.ms': '1000', 'segment.bytes': '100000' });
    const alter = (
      configs: { name: string; value: string | null }[],
      options: { validateOnly?: boolean; version?: number; resourceName?: string } = {},
    ) =>
      client.request(
        ApiKey.AlterConfigs,
        options.version ?? 2,
        AlterConfigsRequest,
        AlterConfigsResponse,
        {
          resources: [
            { resourceType: TOPIC, resourceName: options.resourceName ?? 'legacy', configs },
          ],
          validateOnly: options.validateOnly ?? false,
        },
      );
    const dry = await alter([{ name: 'cleanup.policy', value: 'compact' }], { validateOnly: true });
    assert.equal(dry.responses[0]?.errorCode, ErrorCode.NONE);
    assert.deepEqual(broker.context.metadata.topic('legacy')?.configs, {
      'retention.ms': '1000',
      'segment.bytes': '100000',
    });
    const done = await alter([{ name: 'cleanup.policy', value: 'compact' }], { version: 0 });
    assert.equal(done.responses[0]?.errorCode, ErrorCode.NONE);
    assert.deepEqual(broker.context.metadata.topic('legacy')?.configs, {
      'cleanup.policy': 'compact',
    });
    const config = broker.context.topicLogConfig('legacy');
    assert.equal(config.retentionMs, 604800000);
    assert.deepEqual(config.cleanupPolicy, ['compact']);
    assert.equal((await topicConfig(client, 'legacy', 'segment.bytes')).configSource, 5);

    const bad = await alter([{ name: 'segment.bytes', value: '1' }]);
    assert.equal(bad.responses[0]?.errorCode, ErrorCode.INVALID_CONFIG);
    assert.equal(
      bad.responses[0]?.errorMessage,
      'Invalid value 1 for configuration segment.bytes: Value must be at least 14',
    );
    const nulls = await alter([{ name: 'segment.bytes', value: null }]);
    assert.equal(nulls.responses[0]?.errorMessage, 'Null value not supported for : segment.bytes');
    const missing = await alter([], { resourceName: 'missing' });
    assert.equal(missing.responses[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('accepts dynamic broker log defaults and refuses the rest', async (t) => {
    const { client, broker } = await setup(t);
    await createTopic(client, 'follows');
    const alter = (resourceName: string, configs: { name: string; value: string }[]) =>
      client.request(ApiKey.AlterConfigs, 1, AlterConfigsRequest, AlterConfigsResponse, {
        resources: [{ resourceType: BROKER, resourceName, configs }],
        validateOnly: false,
      });
    const ok = await alter('', [{ name: 'log.cleanup.policy', value: 'compact' }]);
    assert.equal(ok.responses[0]?.errorCode, ErrorCode.NONE);
    assert.deepEqual(broker.context.topicLogConfig('follows').cleanupPolicy, ['compact']);
    const refused = await alter(String(broker.config.nodeId), [
      { name: 'auto.create.topics.enable', value: 'false' },
    ]);
    assert.equal(refused.responses[0]?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(
      refused.responses[0]?.errorMessage,
      'Cannot update these configs dynamically: Set(auto.create.topics.enable)',
    );
    // Legacy semantics: the cluster default set is replaced, so the policy goes back.
    await alter('', []);
    assert.deepEqual(broker.context.topicLogConfig('follows').cleanupPolicy, ['delete']);
  });
});

describe('DeleteRecords', () => {
  it('moves the log start, and answers bad offsets and partitions', async (t) => {
    const { client } = await setup(t);
    await createTopic(client, 'trim', 2);
    for (let i = 0; i < 5; i++) await produce(client, 'trim', 0, [`v${i}`]);
    const moved = await deleteRecords(client, 'trim', [{ partitionIndex: 0, offset: 3n }], 0);
    assert.deepEqual(moved.topics[0]?.partitions, [
      { partitionIndex: 0, lowWatermark: 3n, errorCode: ErrorCode.NONE },
    ]);
    assert.equal((await listOffset(client, 'trim', 0, -2n)).offset, 3n);
    const lower = await deleteRecords(client, 'trim', [{ partitionIndex: 0, offset: 1n }]);
    assert.equal(lower.topics[0]?.partitions[0]?.lowWatermark, 3n);
    const errors = await deleteRecords(client, 'trim', [
      { partitionIndex: 0, offset: 6n },
      { partitionIndex: 1, offset: -1n },
      { partitionIndex: 7, offset: 0n },
      { partitionIndex: 0, offset: -1n },
    ]);
    assert.deepEqual(
      errors.topics[0]?.partitions.map((p) => [p.partitionIndex, p.lowWatermark, p.errorCode]),
      [
        [0, -1n, ErrorCode.OFFSET_OUT_OF_RANGE],
        [1, 0n, ErrorCode.NONE],
        [7, -1n, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [0, 5n, ErrorCode.NONE],
      ],
    );
    assert.equal((await listOffset(client, 'trim', 0, -2n)).offset, 5n);
    const unknown = await deleteRecords(client, 'nope', [{ partitionIndex: 0, offset: 0n }]);
    assert.equal(unknown.topics[0]?.partitions[0]?.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await createTopic(client, 'compacted', 1, { 'cleanup.policy': 'compact' });
    const policy = await deleteRecords(client, 'compacted', [{ partitionIndex: 0, offset: 0n }]);
    assert.equal(policy.topics[0]?.partitions[0]?.errorCode, ErrorCode.POLICY_VIOLATION);
  });
});

describe('DescribeCluster', () => {
  it('describes the cluster, this broker and the controller', async (t) => {
    const { client, broker, port } = await setup(t);
    const nodeId = broker.config.nodeId;
    const clusterId = (await metadata(client, [])).clusterId;
    for (const version of [0, 1]) {
      const response = await client.request(
        ApiKey.DescribeCluster,
        version,
        DescribeClusterRequest,
        DescribeClusterResponse,
        { includeClusterAuthorizedOperations: false, endpointType: 1 },
      );
      assert.equal(response.errorCode, ErrorCode.NONE);
      assert.equal(response.clusterId, clusterId);
      assert.equal(response.controllerId, nodeId);
      assert.equal(response.endpointType, 1);
      assert.deepEqual(response.brokers, [
        { brokerId: nodeId, host: '127.0.0.1', port, rack: null },
      ]);
      assert.equal(response.clusterAuthorizedOperations, -2147483648);
    }
    const withOperations = await client.request(
      ApiKey.DescribeCluster,
      1,
      DescribeClusterRequest,
      DescribeClusterResponse,
      { includeClusterAuthorizedOperations: true },
    );
    assert.equal(withOperations.clusterAuthorizedOperations, 8096);
    const controllers = await client.request(
      ApiKey.DescribeCluster,
      1,
      DescribeClusterRequest,
      DescribeClusterResponse,
      { includeClusterAuthorizedOperations: false, endpointType: 2 },
    );
    assert.equal(controllers.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
    assert.equal(
      controllers.errorMessage,
      'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER',
    );
    const unknown = await client.request(
      ApiKey.DescribeCluster,
      1,
      DescribeClusterRequest,
      DescribeClusterResponse,
      { includeClusterAuthorizedOperations: false, endpointType: 5 },
    );
    assert.equal(unknown.errorCode, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);
    assert.equal(unknown.errorMessage, 'Unsupported endpoint type 5');
  });
});

describe('DescribeLogDirs', () => {
  it('describes the data directory with per-partition sizes', async (t) => {
    const { client, dataDirectory } = await setup(t);
    await createTopic(client, 'sized', 2);
    await createTopic(client, 'other');
    await produce(client, 'sized', 1, ['x'.repeat(100)]);
    const all = await client.request(
      ApiKey.DescribeLogDirs,
      4,
      DescribeLogDirsRequest,
      DescribeLogDirsResponse,
      { topics: null },
    );
    assert.equal(all.errorCode, ErrorCode.NONE);
    assert.equal(all.results.length, 1);
    const dir = all.results[0]!;
    assert.equal(dir.logDir, resolve(dataDirectory));
    assert.ok(dir.totalBytes > 0n && dir.usableBytes > 0n);
    const sized = dir.topics.find((topic) => topic.name === 'sized');
    assert.deepEqual(
      sized?.partitions.map((p) => [p.partitionIndex, p.partitionSize > 0n, p.offsetLag]),
      [
        [0, false, 0n],
        [1, true, 0n],
      ],
    );
    const some = await client.request(
      ApiKey.DescribeLogDirs,
      0,
      DescribeLogDirsRequest,
      DescribeLogDirsResponse,
      { topics: [{ topic: 'sized', partitions: [1] }] },
    );
    const topics = some.results[0]!.topics;
    assert.deepEqual(
      topics.find((topic) => topic.name === 'sized')?.partitions.map((p) => p.partitionIndex),
      [1],
    );
    assert.deepEqual(topics.find((topic) => topic.name === 'other')?.partitions, []);
  });
});

describe('OffsetForLeaderEpoch', () => {
  it('answers from the leader epoch cache and checks the current leader epoch', async (t) => {
    const { client } = await setup(t);
    await createTopic(client, 'epochs', 2);
    for (let i = 0; i < 3; i++) await produce(client, 'epochs', 0, [`v${i}`]);
    const response = await offsetForLeaderEpoch(client, 'epochs', [
      { partition: 0, leaderEpoch: 0, currentLeaderEpoch: 0 },
      { partition: 1, leaderEpoch: 0 },
      { partition: 0, leaderEpoch: 3 },
      { partition: 0, leaderEpoch: -1 },
      { partition: 0, leaderEpoch: 0, currentLeaderEpoch: 1 },
      { partition: 0, leaderEpoch: 0, currentLeaderEpoch: -2 },
      { partition: 9, leaderEpoch: 0 },
    ]);
    assert.deepEqual(
      response.topics[0]?.partitions.map((p) => [
        p.partition,
        p.errorCode,
        p.leaderEpoch,
        p.endOffset,
      ]),
      [
        [0, ErrorCode.NONE, 0, 3n],
        [1, ErrorCode.NONE, 0, 0n],
        [0, ErrorCode.NONE, -1, -1n],
        [0, ErrorCode.NONE, -1, -1n],
        [0, ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1n],
        [0, ErrorCode.FENCED_LEADER_EPOCH, -1, -1n],
        [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n],
      ],
    );
    for (const version of [0, 1, 2, 3]) {
      const old = await offsetForLeaderEpoch(
        client,
        'epochs',
        [{ partition: 0, leaderEpoch: 0 }],
        version,
      );
      assert.equal(old.topics[0]?.partitions[0]?.endOffset, 3n);
      assert.equal(old.topics[0]?.partitions[0]?.leaderEpoch, version >= 1 ? 0 : -1);
    }
  });

  it('follows Kafka for epochs between, below and above the known ones', () => {
    const entries = [
      { epoch: 1, startOffset: 10n },
      { epoch: 3, startOffset: 20n },
    ];
    const find = (epoch: number) => {
      const { leaderEpoch, endOffset } = endOffsetForEpoch(entries, epoch, 30n);
      return [leaderEpoch, endOffset];
    };
    assert.deepEqual(find(0), [0, 10n]);
    assert.deepEqual(find(1), [1, 20n]);
    assert.deepEqual(find(2), [1, 20n]);
    assert.deepEqual(find(3), [3, 30n]);
    assert.deepEqual(find(4), [-1, -1n]);
    assert.deepEqual(find(-1), [-1, -1n]);
    assert.deepEqual(endOffsetForEpoch([], 0, 5n), { leaderEpoch: -1, endOffset: -1n });
  });
});

describe('CreateTopics at the same time', () => {
  it('keeps every topic created concurrently, across a restart, and creates a name once', async (t) => {
    const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-admin-concurrent-'));
    const first = await startTestBroker(t, { dataDirectory });
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => RawClient.connect(first.port)),
    );
    const create = (client: RawClient, name: string) =>
      client.request(ApiKey.CreateTopics, 7, CreateTopicsRequest, CreateTopicsResponse, {
        topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 1000,
        validateOnly: false,
      });
    const distinct = await Promise.all(clients.map((c, i) => create(c, `together-${i}`)));
    assert.deepEqual(
      distinct.map((r) => r.topics[0]?.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE],
    );
    const same = await Promise.all(clients.map((c) => create(c, 'once')));
    assert.deepEqual(
      same.map((r) => r.topics[0]?.errorCode).sort(),
      [
        ErrorCode.NONE,
        ErrorCode.TOPIC_ALREADY_EXISTS,
        ErrorCode.TOPIC_ALREADY_EXISTS,
        ErrorCode.TOPIC_ALREADY_EXISTS,
      ].sort(),
    );
    for (const client of clients) client.close();
    await first.stop();
    const second = await startTestBroker(t, { dataDirectory });
    t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
    const names = second.broker.context.metadata
      .topics()
      .map((topic) => topic.name)
      .sort();
    assert.deepEqual(names, ['once', 'together-0', 'together-1', 'together-2', 'together-3']);
  });
});

describe('IncrementalAlterConfigs at the same time', () => {
  it('keeps every change made to one topic concurrently', async (t) => {
    const { port, broker } = await startTestBroker(t);
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(port)));
    t.after(() => {
      for (const client of clients) client.close();
    });
    await createTopic(clients[0]!, 'shared');
    const changes = [
      ['retention.ms', '3600000'],
      ['segment.bytes', '1048576'],
      ['max.message.bytes', '2000000'],
      ['cleanup.policy', 'compact'],
    ] as const;
    const results = await Promise.all(
      clients.map((client, i) =>
        incrementalAlter(client, [
          {
            resourceType: TOPIC,
            resourceName: 'shared',
            configs: [{ name: changes[i]![0], configOperation: 0, value: changes[i]![1] }],
          },
        ]),
      ),
    );
    assert.deepEqual(
      results.map((r) => r[0]?.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE],
    );
    assert.deepEqual(broker.context.metadata.topic('shared')?.configs, Object.fromEntries(changes));
  });
});

describe('auto-creation on Metadata at the same time', () => {
  it('describes the topic with its partitions to every request that asked for it', async (t) => {
    const { port } = await startTestBroker(t, { properties: { 'num.partitions': '3' } });
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(port)));
    t.after(() => {
      for (const client of clients) client.close();
    });
    // librdkafka asks on its bootstrap connection and its broker connection at once.
    const answers = await Promise.all(
      clients.map((client) =>
        client.request(ApiKey.Metadata, 9, MetadataRequest, MetadataResponse, {
          topics: [{ name: 'wanted', topicId: ZERO_UUID }],
          allowAutoTopicCreation: true,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        }),
      ),
    );
    assert.deepEqual(
      answers.map((answer) => [answer.topics[0]?.errorCode, answer.topics[0]?.partitions.length]),
      [
        [ErrorCode.NONE, 3],
        [ErrorCode.NONE, 3],
        [ErrorCode.NONE, 3],
        [ErrorCode.NONE, 3],
      ],
    );
  });
});
