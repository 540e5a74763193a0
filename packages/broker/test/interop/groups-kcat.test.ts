/**
 * kcat's balanced consumer (`kcat -G group topic`, librdkafka's KafkaConsumer) against Brook:
 * it joins the group, reads every record of a multi-partition topic to the end (-e), commits
 * on close and leaves; a second run in the group reads only what came after the commits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestBroker } from '../helpers.ts';
import { describeGroup, fetchCommitted, GROUP_BROKER_PROPERTIES } from './groups-support.ts';
import { clientTestOptions, missingCommand, run } from './support.ts';

const missing = missingCommand('kcat', ['-V'], 'kcat');
const TOPIC = 'kc-group';
const GROUP = 'kc-group';
const PARTITIONS = 4;

interface KcatMessage {
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
}

async function kcat(args: string[], input?: string): Promise<string> {
  const result = await run('kcat', ['-q', ...args], {
    timeoutMs: 30_000,
    ...(input ? { input } : {}),
  });
  if (result.code !== 0 || /FATAL|ERROR|fail/i.test(result.stderr)) {
    throw new Error(
      `kcat ${args.join(' ')} exited with ${result.code ?? result.signal}\n--- stderr ---\n${result.stderr}`,
    );
  }
  return result.stdout;
}

test('kcat balanced consumer (-G) against Brook', {
  ...clientTestOptions(missing),
  timeout: 60_000,
}, async (t) => {
  assert.equal(missing, undefined, missing);
  const { bootstrap } = await startTestBroker(t, {
    properties: { ...GROUP_BROKER_PROPERTIES, 'num.partitions': String(PARTITIONS) },
  });
  const common = ['-b', bootstrap, '-m', '15', '-X', 'client.id=brook-interop-kcat-groups'];
  const produce = async (label: string, count: number) => {
    const keys = Array.from({ length: count }, (_, i) => `key-${label}-${i}`);
    await kcat(
      [...common, '-P', '-t', TOPIC, '-K', '\\t', '-X', 'linger.ms=5'],
      keys.map((key) => `${key}\t${label} value of ${key}\n`).join(''),
    );
    return keys;
  };
  const consume = async () => {
    const out = await kcat([
      ...common,
      '-G',
      GROUP,
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'session.timeout.ms=6000',
      '-X',
      'heartbeat.interval.ms=300',
      '-e',
      '-J',
      TOPIC,
    ]);
    return out
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as KcatMessage);
  };
  const perPartition = (messages: readonly KcatMessage[]) =>
    Array.from({ length: PARTITIONS }, (_, p) => messages.filter((m) => m.partition === p).length);

  // The first produce creates the topic (auto-creation, num.partitions).
  const first = await produce('one', 200);
  const read = await consume();
  assert.deepEqual(
    read.map((m) => m.key).sort(),
    [...first].sort(),
    'kcat -G read every record once',
  );
  assert.ok(
    read.every((m) => m.payload === `one value of ${m.key}`),
    'values match their keys',
  );
  const counts = perPartition(read);
  assert.ok(
    counts.every((n) => n > 0),
    `records on every partition: ${counts}`,
  );
  // Per partition, offsets 0..n-1: nothing skipped, nothing twice.
  for (let p = 0; p < PARTITIONS; p++) {
    assert.deepEqual(
      read
        .filter((m) => m.partition === p)
        .map((m) => m.offset)
        .sort((a, b) => a - b),
      Array.from({ length: counts[p]! }, (_, i) => i),
      `partition ${p}: offsets`,
    );
  }
  assert.deepEqual(
    await fetchCommitted(bootstrap, GROUP, TOPIC, PARTITIONS),
    counts,
    'kcat committed the end of every partition on close',
  );
  const after = await describeGroup(bootstrap, GROUP);
  assert.deepEqual(
    [after.groupState, after.protocolType, after.members.length],
    ['Empty', 'consumer', 0],
    'the group after kcat left',
  );

  // A second run resumes at the commits: only the new records.
  const second = await produce('two', 40);
  const more = await consume();
  assert.deepEqual(
    more.map((m) => m.key).sort(),
    [...second].sort(),
    'the second run reads only what came after the commits',
  );
  assert.deepEqual(
    await fetchCommitted(bootstrap, GROUP, TOPIC, PARTITIONS),
    counts.map((n, p) => n + perPartition(more)[p]!),
    'committed after the second run',
  );
});
