/**
 * `brook cluster info` run as a user runs it (a child process through main.js) against a Brook
 * broker started by the test: the cluster id, controller and brokers, and the broker's API
 * versions (exactly what the broker serves) as text and JSON; and the exit codes of an
 * unreachable cluster, an unknown broker and a wrong command line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inferKafkaRelease } from '../src/commands/cluster.ts';
import { brook, startBroker, tableRows } from './support.ts';

describe('brook cluster info', () => {
  it('shows the cluster id, the controller, the brokers and their API versions', async (t) => {
    const { bootstrap, broker } = await startBroker(t, { 'node.id': '7' });
    const clusterId = broker.context.metadata.clusterId;
    const served = broker.context.registry
      .apiVersions()
      .sort((a, b) => a.apiKey - b.apiKey)
      .map((api) => [api.apiKey, api.minVersion, api.maxVersion]);
    assert.ok(served.length > 10);

    const [text, json, chosen, unknown] = await Promise.all([
      brook(['cluster', 'info', '--bootstrap', bootstrap]),
      brook(['cluster', 'info', '--json'], { env: { BROOK_BOOTSTRAP: bootstrap } }),
      brook(['cluster', 'info', '--broker', '7', '--json', '-b', bootstrap]),
      brook(['cluster', 'info', '--broker', '3', '-b', bootstrap]),
    ]);

    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    const head = text.stdout.split('\n').slice(0, 4);
    assert.deepEqual(head, [
      `Cluster id:  ${clusterId}`,
      `Controller:  7 (${bootstrap})`,
      'Brokers:     1',
      'Version:     speaks the protocol of Apache Kafka 3.9 (inferred from its API versions); features: none finalized',
    ]);
    assert.deepEqual(tableRows(text.stdout, 'BROKER'), [['7', bootstrap, '-', 'yes']]);
    assert.match(text.stdout, new RegExp(`\nAPI versions of broker 7 \\(${bootstrap}\\):\n`));
    const apis = tableRows(text.stdout, 'API  ');
    assert.deepEqual(
      apis.map((row) => [Number(row[1]), Number(row[2]), Number(row[3])]),
      served,
    );
    const byName = new Map(apis.map((row) => [row[0], row]));
    assert.deepEqual(byName.get('Produce')?.slice(1, 2), ['0']);
    assert.deepEqual(byName.get('ApiVersions'), ['ApiVersions', '18', '0', '4', '4']);
    assert.deepEqual(byName.get('DescribeCluster')?.slice(1, 2), ['60']);
    for (const row of apis) assert.ok(Number(row[4]) <= Number(row[3]), row.join(' '));

    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    const port = Number(bootstrap.split(':')[1]);
    assert.deepEqual(parsed.brokers, [
      { nodeId: 7, host: '127.0.0.1', port, rack: null, controller: true },
    ]);
    assert.equal(parsed.clusterId, clusterId);
    assert.equal(parsed.controllerId, 7);
    assert.equal(parsed.kafkaProtocolRelease, '3.9');
    const { apis: jsonApis, ...rest } = parsed.apiVersions;
    assert.deepEqual(rest, {
      nodeId: 7,
      host: '127.0.0.1',
      port,
      supportedFeatures: [],
      finalizedFeatures: [],
      finalizedFeaturesEpoch: -1,
    });
    assert.deepEqual(
      jsonApis.map((a: { apiKey: number; minVersion: number; maxVersion: number }) => [
        a.apiKey,
        a.minVersion,
        a.maxVersion,
      ]),
      served,
    );
    assert.deepEqual(
      jsonApis.find((a: { apiKey: number }) => a.apiKey === 3),
      { name: 'Metadata', apiKey: 3, minVersion: 0, maxVersion: 12, usableVersion: 12 },
    );

    assert.equal(chosen.code, 0, chosen.stderr);
    assert.deepEqual(JSON.parse(chosen.stdout), parsed);

    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.equal(
      unknown.stderr,
      'brook cluster info: broker 3 is not in the cluster (its brokers: 7)\n',
    );
  });

  it('exits 3 when the cluster cannot be reached and 2 on a wrong command line', async () => {
    const [unreachable, badFlag, badBroker, bare, help] = await Promise.all([
      brook(['cluster', 'info', '--bootstrap', '127.0.0.1:1', '--timeout', '1000']),
      brook(['cluster', 'info', '--verbose']),
      brook(['cluster', 'info', '--broker', 'one']),
      brook(['cluster']),
      brook(['cluster', 'info', '--help']),
    ]);
    assert.equal(unreachable.code, 3);
    assert.equal(unreachable.stdout, '');
    assert.match(
      unreachable.stderr,
      /^brook cluster info: cannot reach the broker at 127\.0\.0\.1:1 within 1000 ms \([^\n]*\); is it running\? Point --bootstrap or BROOK_BOOTSTRAP at it\n$/,
    );
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /unknown option '--verbose'/);
    assert.equal(badBroker.code, 2);
    assert.match(badBroker.stderr, /--broker expects an integer >= 0, got 'one'/);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /Usage: brook cluster/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:\n {2}brook cluster info\n/);
  });

  it('names the Kafka release whose API versions a broker serves', () => {
    const apis = (ranges: Record<number, [number, number]>) =>
      Object.entries(ranges).map(([key, [min, max]]) => ({
        apiKey: Number(key),
        minVersion: min,
        maxVersion: max,
      }));
    // Produce, Fetch, ListOffsets, Metadata, ListGroups and JoinGroup as Kafka releases serve them.
    assert.equal(inferKafkaRelease(apis({ 0: [0, 5], 1: [0, 6], 2: [0, 2], 3: [0, 5] })), '1.0');
    assert.equal(
      inferKafkaRelease(apis({ 0: [0, 9], 1: [0, 12], 2: [0, 6], 3: [0, 11], 16: [0, 4] })),
      '2.8',
    );
    assert.equal(
      inferKafkaRelease(apis({ 0: [0, 9], 1: [0, 12], 2: [0, 7], 3: [0, 11], 11: [0, 7] })),
      '3.0',
    );
    assert.equal(inferKafkaRelease(apis({ 0: [0, 2], 1: [0, 3], 3: [0, 2] })), null);
    // A broker that dropped old versions still counts by its newest ones.
    assert.equal(inferKafkaRelease(apis({ 0: [3, 11], 1: [4, 17] })), '3.9');
  });
});
