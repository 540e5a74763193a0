/**
 * `brook topic` run as a user runs it (a child process through main.js) against one Brook broker
 * shared by the tests: create (the broker's defaults, configs, existing topics, invalid configs,
 * dry runs), list (internal topics hidden), describe (partitions with offsets, every config with
 * the source the broker reports), delete, alter-config and add-partitions, each checked against
 * what an Admin reports, as text and as JSON; the `brook topics` alias; and the exit codes of the
 * error paths (unknown topics, bad flags, an unreachable broker).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Admin, Producer } from '@brook/client';
import { unknownTopicMessage } from '../src/common.ts';
import { brook, startBroker, tableRows } from './support.ts';

/** The broker's own settings that the tests recognise in the output. */
const BROKER_PROPERTIES = {
  'num.partitions': '2',
  'log.retention.bytes': '123456789',
  'offsets.topic.num.partitions': '2',
};

let bootstrap = '';
let admin: Admin;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  ({ bootstrap } = await startBroker(
    { after: (fn) => void cleanups.unshift(fn) },
    BROKER_PROPERTIES,
  ));
  admin = new Admin({ bootstrapServers: [bootstrap] });
});

after(async () => {
  await admin.close();
  for (const cleanup of cleanups) await cleanup();
});

function b(...args: string[]): string[] {
  return [...args, '--bootstrap', bootstrap];
}

async function topicNames(): Promise<string[]> {
  return (await admin.listTopics()).map((t) => t.name);
}

async function configsOf(
  topic: string,
): Promise<Map<string, { value: string | null; source: string }>> {
  const [described] = await admin.describeConfigs([{ type: 'topic', name: topic }]);
  assert.equal(described?.error, null);
  return new Map(described!.configs.map((c) => [c.name, { value: c.value, source: c.source }]));
}

async function partitionCount(topic: string): Promise<number> {
  const [described] = await admin.describeTopics([topic]);
  assert.equal(described?.error, null);
  return described!.partitions.length;
}

describe('brook topic create', () => {
  it("creates topics with the broker's defaults, or the partitions, factor and configs given", async () => {
    const [defaults, given, json] = await Promise.all([
      brook(b('topic', 'create', 'c-default')),
      brook(
        b(
          'topic',
          'create',
          'c-given',
          '-p',
          '3',
          '-r',
          '1',
          '-c',
          'retention.ms=1000',
          '--config',
          'cleanup.policy=compact',
        ),
      ),
      brook(b('topics', 'create', 'c-json1', 'c-json2', '--partitions', '4', '--json')),
    ]);
    assert.equal(defaults.code, 0, defaults.stderr);
    assert.equal(defaults.stderr, '');
    // num.partitions=2 on the broker: -1 was sent and the broker chose.
    assert.equal(
      defaults.stdout,
      "Created topic 'c-default' (2 partitions, replication factor 1).\n",
    );
    assert.equal(await partitionCount('c-default'), 2);

    assert.equal(given.code, 0, given.stderr);
    assert.equal(given.stdout, "Created topic 'c-given' (3 partitions, replication factor 1).\n");
    assert.equal(await partitionCount('c-given'), 3);
    const configs = await configsOf('c-given');
    assert.deepEqual(configs.get('retention.ms'), { value: '1000', source: 'dynamic-topic' });
    assert.deepEqual(configs.get('cleanup.policy'), { value: 'compact', source: 'dynamic-topic' });

    assert.equal(json.code, 0, json.stderr);
    const created = await admin.describeTopics(['c-json1', 'c-json2']);
    assert.deepEqual(
      JSON.parse(json.stdout),
      created.map((t) => ({
        name: t.name,
        status: 'created',
        topicId: t.topicId,
        partitions: 4,
        replicationFactor: 1,
        error: null,
      })),
    );
    assert.ok(created.every((t) => t.partitions.length === 4 && t.topicId !== null));
  });

  it('fails on an existing topic unless --if-not-exists, and partly when some are new', async () => {
    const [first] = await admin.createTopics([{ name: 'c-exists', partitions: 1 }]);
    assert.equal(first?.error, null);
    const [existing, ignored, mixed, mixedJson] = await Promise.all([
      brook(b('topic', 'create', 'c-exists', '-p', '5')),
      brook(b('topic', 'create', 'c-exists', '--if-not-exists', '--json')),
      brook(b('topic', 'create', 'c-exists', 'c-new1')),
      brook(b('topic', 'create', 'c-new2', 'c-exists', '--json')),
    ]);
    assert.equal(existing.code, 1);
    assert.equal(existing.stdout, '');
    assert.equal(
      existing.stderr,
      "brook topic create: topic 'c-exists' already exists; `brook topic describe c-exists` shows it (--if-not-exists ignores existing topics)\n",
    );
    assert.equal(await partitionCount('c-exists'), 1);

    assert.equal(ignored.code, 0, ignored.stderr);
    assert.deepEqual(JSON.parse(ignored.stdout), [
      {
        name: 'c-exists',
        status: 'existed',
        topicId: null,
        partitions: null,
        replicationFactor: null,
        error: null,
      },
    ]);
    assert.equal(ignored.stderr, "topic 'c-exists' exists already; left as it is\n");

    assert.equal(mixed.code, 4);
    assert.equal(mixed.stdout, "Created topic 'c-new1' (2 partitions, replication factor 1).\n");
    assert.match(mixed.stderr, /^brook topic create: topic 'c-exists' already exists;/);
    assert.equal(mixedJson.code, 4);
    const statuses = JSON.parse(mixedJson.stdout).map((r: { name: string; status: string }) => [
      r.name,
      r.status,
    ]);
    assert.deepEqual(statuses, [
      ['c-new2', 'created'],
      ['c-exists', 'failed'],
    ]);
    const names = await topicNames();
    assert.ok(names.includes('c-new1') && names.includes('c-new2'));
  });

  it("reports the broker's words for invalid configs, factors and names; creates nothing on a dry run", async () => {
    const [badValue, badName, badFactor, badTopic, dry, dryText] = await Promise.all([
      brook(b('topic', 'create', 'c-bad', '-c', 'retention.ms=abc')),
      brook(b('topic', 'create', 'c-bad2', '-c', 'no.such.config=1')),
      brook(b('topic', 'create', 'c-bad3', '-r', '3')),
      brook(b('topic', 'create', 'bad name!')),
      brook(b('topic', 'create', 'c-dry', '-p', '6', '--dry-run', '--json')),
      brook(b('topic', 'create', 'c-dry2', '--dry-run')),
    ]);
    assert.equal(badValue.code, 1);
    assert.equal(
      badValue.stderr,
      "brook topic create: topic 'c-bad': Invalid value abc for configuration retention.ms: Not a number of type LONG (INVALID_CONFIG)\n",
    );
    assert.equal(badName.code, 1);
    assert.equal(
      badName.stderr,
      "brook topic create: topic 'c-bad2': Unknown topic config name: no.such.config (INVALID_CONFIG)\n",
    );
    assert.equal(badFactor.code, 1);
    assert.match(
      badFactor.stderr,
      /^brook topic create: topic 'c-bad3': .*replication factor of 3 .* \(INVALID_REPLICATION_FACTOR\)\n$/,
    );
    assert.equal(badTopic.code, 1);
    assert.match(
      badTopic.stderr,
      /topic 'bad name!': Topic name bad name! is illegal.*\(INVALID_TOPIC_EXCEPTION\)/,
    );

    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout), [
      {
        name: 'c-dry',
        status: 'valid',
        topicId: null,
        partitions: 6,
        replicationFactor: 1,
        error: null,
      },
    ]);
    assert.equal(dryText.code, 0, dryText.stderr);
    assert.equal(
      dryText.stdout,
      "Topic 'c-dry2' can be created (2 partitions, replication factor 1); dry run, nothing created.\n",
    );
    const names = await topicNames();
    for (const name of ['c-bad', 'c-bad2', 'c-bad3', 'c-dry', 'c-dry2']) {
      assert.ok(!names.includes(name), name);
    }
  });

  it('refuses bad flags and missing names with exit code 2', async () => {
    const runs = await Promise.all([
      brook(b('topic', 'create', 'x', '-p', '0')),
      brook(b('topic', 'create', 'x', '-r', 'two')),
      brook(b('topic', 'create', 'x', '-c', 'retention.ms')),
      brook(b('topic', 'create', 'x', '--bogus')),
      brook(b('topic', 'create')),
      brook(b('topic', 'frobnicate')),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
    }
    assert.match(runs[0]!.stderr, /--partitions expects an integer >= 1, got '0'/);
    assert.match(runs[2]!.stderr, /--config expects key=value, got 'retention.ms'/);
    assert.match(runs[3]!.stderr, /unknown option '--bogus'/);
    assert.match(runs[4]!.stderr, /missing required argument 'topics'/);
    assert.ok(!(await topicNames()).includes('x'));
  });
});

describe('brook topic list', () => {
  it('lists the topics with partitions and replicas, internal ones only with --internal', async () => {
    await admin.createTopics([
      { name: 'l-one', partitions: 1 },
      { name: 'l-three', partitions: 3 },
    ]);
    // FindCoordinator creates __consumer_offsets.
    await admin.describeGroups(['l-group']);
    const [text, json, internal, internalJson] = await Promise.all([
      brook(b('topic', 'list')),
      brook(b('topics', 'list', '--json')),
      brook(b('topic', 'list', '--internal')),
      brook(b('topic', 'list', '--internal', '--json')),
    ]);
    const listed = await admin.listTopics();
    const all = await admin.listTopics({ includeInternal: true });
    assert.ok(all.some((t) => t.name === '__consumer_offsets' && t.isInternal));
    assert.ok(!listed.some((t) => t.isInternal));
    const described = new Map(
      (await admin.describeTopics(all.map((t) => t.name))).map((d) => [d.name, d]),
    );
    const expected = (topics: typeof all) =>
      topics.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        internal: t.isInternal,
        partitions: t.partitions,
        replicationFactor: described.get(t.name)!.partitions[0]!.replicas.length,
      }));

    for (const run of [text, json, internal, internalJson]) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
    }
    assert.deepEqual(
      tableRows(text.stdout, 'NAME'),
      expected(listed).map((t) => [t.name, String(t.partitions), String(t.replicationFactor)]),
    );
    assert.match(text.stdout, /^NAME +PARTITIONS +REPLICAS\n/);
    assert.deepEqual(
      tableRows(text.stdout, 'NAME').find((r) => r[0] === 'l-three'),
      ['l-three', '3', '1'],
    );
    assert.deepEqual(JSON.parse(json.stdout), expected(listed));
    assert.deepEqual(
      tableRows(internal.stdout, 'NAME'),
      expected(all).map((t) => [t.name, String(t.partitions), String(t.replicationFactor)]),
    );
    assert.deepEqual(
      tableRows(internal.stdout, 'NAME').find((r) => r[0] === '__consumer_offsets'),
      ['__consumer_offsets', '2', '1'],
    );
    assert.deepEqual(JSON.parse(internalJson.stdout), expected(all));
  });
});

describe('brook topic describe', () => {
  before(async () => {
    await admin.createTopics([
      { name: 'd-orders', partitions: 3, configs: { 'retention.ms': '1000' } },
      { name: 'd-plain', partitions: 1 },
    ]);
    const producer = new Producer({ bootstrapServers: [bootstrap], lingerMs: 0 });
    const counts = [5, 3, 0];
    await producer.sendBatch(
      counts.flatMap((count, partition) =>
        Array.from({ length: count }, (_, i) => ({ topic: 'd-orders', partition, value: `${i}` })),
      ),
    );
    await producer.close();
    const [deleted] = await admin.deleteRecords([{ topic: 'd-orders', partition: 0, offset: 2n }]);
    assert.equal(deleted?.error, null);
    // Broker defaults changed at run time: cluster-wide, and for this broker alone.
    const { brokers } = await admin.describeCluster();
    const altered = await admin.incrementalAlterConfigs([
      {
        type: 'broker',
        name: '',
        configs: [{ name: 'log.segment.bytes', operation: 'set', value: '2097152' }],
      },
      {
        type: 'broker',
        name: String(brokers[0]!.nodeId),
        configs: [{ name: 'log.roll.ms', operation: 'set', value: '3600000' }],
      },
    ]);
    assert.ok(altered.every((a) => a.error === null));
  });

  it('shows partitions with leaders and offsets, and configs with the sources the broker reports', async () => {
    const [text, json] = await Promise.all([
      brook(b('topic', 'describe', 'd-orders')),
      brook(b('topic', 'describe', 'd-orders', 'd-plain', '--json')),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    const [description] = await admin.describeTopics(['d-orders']);
    const leader = String(description!.partitions[0]!.leader);
    assert.equal(
      text.stdout.split('\n')[0],
      `Topic: d-orders  Id: ${description!.topicId}  Partitions: 3  Replication factor: 1  Internal: no`,
    );
    assert.deepEqual(tableRows(text.stdout, 'PARTITION'), [
      ['0', leader, leader, leader, '2', '5'],
      ['1', leader, leader, leader, '0', '3'],
      ['2', leader, leader, leader, '0', '0'],
    ]);
    assert.match(
      text.stdout,
      /\nPARTITION +LEADER +REPLICAS +ISR +LOG-START-OFFSET +HIGH-WATERMARK\n/,
    );

    // Every config as DescribeConfigs reports it, in its order.
    const [configs] = await admin.describeConfigs([{ type: 'topic', name: 'd-orders' }]);
    const rows = tableRows(text.stdout, 'NAME  ');
    assert.deepEqual(
      rows,
      configs!.configs.map((c) => [c.name, c.value === '' ? '""' : (c.value ?? '-'), c.source]),
    );
    const byName = new Map(rows.map((r) => [r[0], r]));
    // Set on the topic, from the broker's properties, and Kafka's default.
    assert.deepEqual(byName.get('retention.ms'), ['retention.ms', '1000', 'dynamic-topic']);
    assert.deepEqual(byName.get('retention.bytes'), [
      'retention.bytes',
      '123456789',
      'static-broker',
    ]);
    assert.deepEqual(byName.get('cleanup.policy'), ['cleanup.policy', 'delete', 'default']);
    assert.deepEqual(byName.get('segment.bytes'), [
      'segment.bytes',
      '2097152',
      'dynamic-default-broker',
    ]);
    assert.deepEqual(byName.get('segment.ms'), ['segment.ms', '3600000', 'dynamic-broker']);
    assert.ok(rows.length > 20);

    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    const described = await admin.describeTopics(['d-orders', 'd-plain']);
    const offsets = async (spec: 'earliest' | 'latest', topic: string, n: number) =>
      (
        await admin.listOffsets(
          Array.from({ length: n }, (_, partition) => ({ topic, partition, spec })),
        )
      ).map((o) => Number(o.offset));
    const allConfigs = await admin.describeConfigs([
      { type: 'topic', name: 'd-orders' },
      { type: 'topic', name: 'd-plain' },
    ]);
    const expected = await Promise.all(
      described.map(async (d, i) => {
        const starts = await offsets('earliest', d.name, d.partitions.length);
        const ends = await offsets('latest', d.name, d.partitions.length);
        return {
          name: d.name,
          topicId: d.topicId,
          internal: false,
          replicationFactor: 1,
          partitions: d.partitions.map((p, j) => ({
            partition: p.partition,
            leader: p.leader,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicas,
            isr: p.isr,
            offlineReplicas: p.offlineReplicas,
            logStartOffset: starts[j],
            highWatermark: ends[j],
          })),
          configs: allConfigs[i]!.configs.map((c) => ({
            name: c.name,
            value: c.value,
            source: c.source,
            sensitive: c.isSensitive,
            readOnly: c.readOnly,
          })),
          error: null,
        };
      }),
    );
    assert.deepEqual(
      parsed[0].partitions.map((p: { logStartOffset: number; highWatermark: number }) => [
        p.logStartOffset,
        p.highWatermark,
      ]),
      [
        [2, 5],
        [0, 3],
        [0, 0],
      ],
    );
    assert.equal(
      parsed[1].configs.find((c: { name: string }) => c.name === 'retention.ms').source,
      'default',
    );
    assert.deepEqual(parsed, expected);
  });

  it('describes several topics one after the other, and leaves configs out with --no-configs', async () => {
    const [text, json] = await Promise.all([
      brook(b('topic', 'describe', 'd-plain', 'd-orders', '--no-configs')),
      brook(b('topic', 'describe', 'd-plain', '--no-configs', '--json')),
    ]);
    assert.equal(text.code, 0, text.stderr);
    const blocks = text.stdout.split('\n\n');
    assert.equal(blocks.length, 2);
    assert.match(
      blocks[0]!,
      /^Topic: d-plain {2}Id: \S+ {2}Partitions: 1 {2}Replication factor: 1 {2}Internal: no\n/,
    );
    assert.match(blocks[1]!, /^Topic: d-orders {2}Id: \S+ {2}Partitions: 3 /);
    assert.equal(tableRows(blocks[1]!, 'PARTITION').length, 3);
    assert.doesNotMatch(text.stdout, /SOURCE/);
    assert.equal(json.code, 0, json.stderr);
    const [parsed] = JSON.parse(json.stdout);
    assert.equal(parsed.configs, null);
    assert.equal(parsed.partitions.length, 1);
  });

  it('fails on an unknown topic (exit 1), partly (exit 4) when other topics exist', async () => {
    const [unknown, unknownJson, mixed, internal] = await Promise.all([
      brook(b('topic', 'describe', 'd-missing')),
      brook(b('topic', 'describe', 'd-missing', '--json')),
      brook(b('topic', 'describe', 'd-plain', 'd-missing', '--no-configs')),
      brook(b('topic', 'describe', '__consumer_offsets', '--no-configs', '--json')),
    ]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.equal(unknown.stderr, `brook topic describe: ${unknownTopicMessage('d-missing')}\n`);
    assert.equal(unknownJson.code, 1);
    assert.deepEqual(JSON.parse(unknownJson.stdout), [
      { name: 'd-missing', error: unknownTopicMessage('d-missing') },
    ]);
    assert.equal(mixed.code, 4);
    assert.match(mixed.stdout, /^Topic: d-plain /);
    assert.equal(mixed.stderr, `brook topic describe: ${unknownTopicMessage('d-missing')}\n`);
    // Created by the list test's FindCoordinator; internal topics can be described.
    assert.equal(internal.code, 0, internal.stderr);
    assert.equal(JSON.parse(internal.stdout)[0].internal, true);
  });
});

describe('brook topic alter-config', () => {
  before(async () => {
    const [created] = await admin.createTopics([
      { name: 'a-topic', configs: { 'cleanup.policy': 'compact' } },
    ]);
    assert.equal(created?.error, null);
  });

  it('sets and deletes configs; describe then shows the new sources', async () => {
    const altered = await brook(
      b(
        'topic',
        'alter-config',
        'a-topic',
        '-c',
        'retention.ms=1000',
        '--delete',
        'cleanup.policy',
      ),
    );
    assert.equal(altered.code, 0, altered.stderr);
    assert.equal(
      altered.stdout,
      "Altered topic 'a-topic': set retention.ms=1000, deleted cleanup.policy.\n",
    );
    const configs = await configsOf('a-topic');
    assert.deepEqual(configs.get('retention.ms'), { value: '1000', source: 'dynamic-topic' });
    assert.deepEqual(configs.get('cleanup.policy'), { value: 'delete', source: 'default' });

    const described = await brook(b('topic', 'describe', 'a-topic'));
    assert.equal(described.code, 0, described.stderr);
    const rows = new Map(tableRows(described.stdout, 'NAME  ').map((r) => [r[0], r]));
    assert.deepEqual(rows.get('retention.ms'), ['retention.ms', '1000', 'dynamic-topic']);
    assert.deepEqual(rows.get('cleanup.policy'), ['cleanup.policy', 'delete', 'default']);

    const json = await brook(
      b(
        'topic',
        'alter-config',
        'a-topic',
        '--config',
        'segment.ms=60000',
        '--delete',
        'retention.ms',
        '--json',
      ),
    );
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      name: 'a-topic',
      dryRun: false,
      set: { 'segment.ms': '60000' },
      deleted: ['retention.ms'],
    });
    const after = await configsOf('a-topic');
    assert.deepEqual(after.get('segment.ms'), { value: '60000', source: 'dynamic-topic' });
    assert.equal(after.get('retention.ms')?.source, 'default');
  });

  it('changes nothing on a dry run', async () => {
    const before = await configsOf('a-topic');
    const [text, json] = await Promise.all([
      brook(b('topic', 'alter-config', 'a-topic', '-c', 'max.message.bytes=2000', '--dry-run')),
      brook(b('topic', 'alter-config', 'a-topic', '--delete', 'segment.ms', '--dry-run', '--json')),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(
      text.stdout,
      "Topic 'a-topic' accepts the change (set max.message.bytes=2000); dry run, nothing changed.\n",
    );
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      name: 'a-topic',
      dryRun: true,
      set: {},
      deleted: ['segment.ms'],
    });
    assert.deepEqual(await configsOf('a-topic'), before);
  });

  it("reports unknown topics, the broker's words for invalid values, and usage errors", async () => {
    const [unknown, badValue, badName, nothing, both, noValue] = await Promise.all([
      brook(b('topic', 'alter-config', 'a-missing', '-c', 'retention.ms=5')),
      brook(b('topic', 'alter-config', 'a-topic', '-c', 'retention.ms=soon')),
      brook(b('topic', 'alter-config', 'a-topic', '-c', 'no.such.config=1')),
      brook(b('topic', 'alter-config', 'a-topic')),
      brook(
        b('topic', 'alter-config', 'a-topic', '-c', 'retention.ms=5', '--delete', 'retention.ms'),
      ),
      brook(b('topic', 'alter-config', 'a-topic', '-c', '=5')),
    ]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, `brook topic alter-config: ${unknownTopicMessage('a-missing')}\n`);
    assert.equal(badValue.code, 1);
    assert.equal(
      badValue.stderr,
      "brook topic alter-config: topic 'a-topic': Invalid value soon for configuration retention.ms: Not a number of type LONG (INVALID_CONFIG)\n",
    );
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /Unknown topic config name: no.such.config \(INVALID_CONFIG\)/);
    for (const run of [nothing, both, noValue]) {
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
    }
    assert.match(nothing.stderr, /nothing to change: give -c key=value or --delete key/);
    assert.match(both.stderr, /'retention.ms' is both set \(-c\) and deleted \(--delete\)/);
    assert.equal((await configsOf('a-topic')).get('retention.ms')?.source, 'default');
  });
});

describe('brook topic add-partitions', () => {
  before(async () => {
    const [created] = await admin.createTopics([{ name: 'p-topic', partitions: 2 }]);
    assert.equal(created?.error, null);
  });

  it('raises the partition count to --total, or only checks it with --dry-run', async () => {
    const dry = await brook(b('topic', 'add-partitions', 'p-topic', '--total', '4', '--dry-run'));
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      "Topic 'p-topic' can grow from 2 to 4 partitions; dry run, nothing changed.\n",
    );
    assert.equal(await partitionCount('p-topic'), 2);

    const text = await brook(b('topic', 'add-partitions', 'p-topic', '--total', '4'));
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "Topic 'p-topic' now has 4 partitions (it had 2).\n");
    assert.equal(await partitionCount('p-topic'), 4);

    const json = await brook(b('topics', 'add-partitions', 'p-topic', '--total', '5', '--json'));
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      name: 'p-topic',
      partitions: 5,
      previousPartitions: 4,
      dryRun: false,
    });
    assert.equal(await partitionCount('p-topic'), 5);
  });

  it('fails on an unknown topic, a count that is no increase, and a missing --total', async () => {
    const [unknown, lower, missing, zero] = await Promise.all([
      brook(b('topic', 'add-partitions', 'p-missing', '--total', '3')),
      brook(b('topic', 'add-partitions', 'p-topic', '--total', '2')),
      brook(b('topic', 'add-partitions', 'p-topic')),
      brook(b('topic', 'add-partitions', 'p-topic', '--total', '0')),
    ]);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      `brook topic add-partitions: ${unknownTopicMessage('p-missing')}\n`,
    );
    assert.equal(lower.code, 1);
    assert.match(
      lower.stderr,
      /^brook topic add-partitions: topic 'p-topic': .*\(INVALID_PARTITIONS\)\. --total is the partition count afterwards: more than the 5 it has\n$/,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--total <n>' not specified/);
    assert.equal(zero.code, 2);
    assert.equal(await partitionCount('p-topic'), 5);
  });
});

describe('brook topic delete', () => {
  it('deletes topics; an unknown one fails unless --if-exists', async () => {
    await admin.createTopics(['x-one', 'x-two', 'x-three', 'x-four'].map((name) => ({ name })));
    const text = await brook(b('topic', 'delete', 'x-one', 'x-two'));
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "Deleted topic 'x-one'.\nDeleted topic 'x-two'.\n");

    const [before] = await admin.describeTopics(['x-three']);
    const [json, unknown, ignored, mixed] = await Promise.all([
      brook(b('topic', 'delete', 'x-three', 'x-gone', '--if-exists', '--json')),
      brook(b('topic', 'delete', 'x-missing')),
      brook(b('topic', 'delete', 'x-missing', '--if-exists')),
      brook(b('topics', 'delete', 'x-four', 'x-missing2')),
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), [
      { name: 'x-three', status: 'deleted', topicId: before!.topicId, error: null },
      { name: 'x-gone', status: 'missing', topicId: null, error: null },
    ]);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      "brook topic delete: topic 'x-missing' does not exist; `brook topic list` shows the topics (--if-exists ignores missing ones)\n",
    );
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(ignored.stdout, '');
    assert.equal(mixed.code, 4);
    assert.equal(mixed.stdout, "Deleted topic 'x-four'.\n");
    assert.match(mixed.stderr, /topic 'x-missing2' does not exist/);
    const names = await topicNames();
    for (const name of ['x-one', 'x-two', 'x-three', 'x-four']) assert.ok(!names.includes(name));
  });
});

describe('brook topic without a broker, and its help', () => {
  it('exits 3 with a hint when no broker answers', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const nowhere = `127.0.0.1:${port}`;
    const runs = await Promise.all([
      brook(['topic', 'list', '--timeout', '1000', '-b', nowhere]),
      brook(['topic', 'describe', 'x', '--timeout', '1000'], { env: { BROOK_BOOTSTRAP: nowhere } }),
      brook(['topic', 'create', 'x', '--timeout', '1000', '-b', nowhere]),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 3, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(
        run.stderr,
        new RegExp(
          `cannot reach the broker at ${nowhere} within 1000 ms .*; is it running\\? Point --bootstrap or BROOK_BOOTSTRAP at it\\n$`,
        ),
      );
    }
  });

  it('answers --help with examples on every subcommand (exit 0)', async () => {
    const commands = ['create', 'list', 'describe', 'delete', 'alter-config', 'add-partitions'];
    const runs = await Promise.all([
      brook(['topic', '--help']),
      ...commands.map((command) => brook(['topic', command, '--help'])),
    ]);
    for (const [i, run] of runs.entries()) {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /\nExamples:\n {2}brook topic /);
      if (i > 0) assert.match(run.stdout, new RegExp(`^Usage: brook topic ${commands[i - 1]} `));
      if (i > 0) assert.match(run.stdout, /--bootstrap/);
    }
    assert.match(runs[0]!.stdout, /create \[options\] <topics\.\.\.>/);
  });
});
