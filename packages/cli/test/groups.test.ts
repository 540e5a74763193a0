/**
 * `brook groups` against a Brook broker started in-process: list, describe (exact lags, the
 * owners of an active group's partitions, --members), JSON output, delete, reset-offsets as a
 * dry run and with --execute, and the error exits. Most runs call the command function; some go
 * through `main.js` in a child process, as a user would.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Broker, parseBrokerConfig, silentLogger } from '@brook/broker';
import { Admin, Consumer, Producer } from '@brook/client';
import { groups, type Output } from '../src/commands/group.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.js');

type Hooks = { after(fn: () => Promise<void> | void): void };

async function startBroker(t: Hooks): Promise<string> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-cli-'));
  const config = parseBrokerConfig(
    { 'group.initial.rebalance.delay.ms': '0' },
    { host: '127.0.0.1', port: 0, dataDirectory },
  );
  const broker = await Broker.start({ config, logger: silentLogger, shutdownGraceMs: 500 });
  t.after(async () => {
    await broker.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
  });
  return `127.0.0.1:${broker.port}`;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `brook groups …` in this process. */
async function brook(bootstrap: string, ...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out: Output = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  };
  const code = await groups([...args, '--bootstrap-server', bootstrap], out);
  return { code, stdout, stderr };
}

/** Runs `node main.js groups …` in a child process. */
function spawnBrook(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'groups', ...args], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Rows of a text table (the lines after the header), split on runs of spaces. */
function rows(output: string, header: string): string[][] {
  const lines = output.split('\n');
  const at = lines.findIndex((line) => line.startsWith(header));
  assert.ok(at >= 0, `no table with header ${header} in:\n${output}`);
  return lines
    .slice(at + 1)
    .filter((line) => line.trim() !== '' && !line.startsWith('Dry run'))
    .map((line) => line.trim().split(/\s+/));
}

/** A topic with `counts[p]` records in partition p, and the admin to inspect it. */
async function setup(t: Hooks, topic: string, counts: readonly number[]) {
  const bootstrap = await startBroker(t);
  const admin = new Admin({ bootstrapServers: [bootstrap] });
  t.after(() => admin.close());
  const [created] = await admin.createTopics([{ name: topic, partitions: counts.length }]);
  assert.equal(created?.error, null);
  const producer = new Producer({ bootstrapServers: [bootstrap], lingerMs: 0 });
  await producer.sendBatch(
    counts.flatMap((count, partition) =>
      Array.from({ length: count }, (_, i) => ({ topic, partition, value: `${partition}-${i}` })),
    ),
  );
  await producer.close();
  return { bootstrap, admin };
}

async function waitFor(what: string, condition: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('brook groups', () => {
  it('lists, describes with exact lags, and deletes an inactive group', async (t) => {
    const { bootstrap, admin } = await setup(t, 'orders', [10, 7, 4]);
    const committed = await admin.alterGroupOffsets('billing', [
      { topic: 'orders', partition: 0, offset: 3n },
      { topic: 'orders', partition: 1, offset: 7n },
      { topic: 'orders', partition: 2, offset: 1n },
    ]);
    assert.ok(committed.every((c) => c.error === null));
    await admin.alterGroupOffsets('audit', [{ topic: 'orders', partition: 0, offset: 10n }]);

    const listed = await brook(bootstrap, 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const groupRows = rows(listed.stdout, 'GROUP');
    assert.deepEqual(
      groupRows.map((r) => r[0]),
      ['audit', 'billing'],
    );
    assert.equal(groupRows[1]![1], 'Empty');

    const filtered = await brook(bootstrap, 'list', '--state', 'stable', '--output', 'json');
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.deepEqual(JSON.parse(filtered.stdout), []);
    const empty = await brook(bootstrap, 'list', '--state', 'Empty,Stable', '--output', 'json');
    assert.deepEqual(
      JSON.parse(empty.stdout).map((g: { group: string; state: string }) => [g.group, g.state]),
      [
        ['audit', 'Empty'],
        ['billing', 'Empty'],
      ],
    );

    const described = await brook(bootstrap, 'describe', 'billing');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Group 'billing' is Empty with 0 members/);
    assert.deepEqual(rows(described.stdout, 'GROUP'), [
      ['billing', 'orders', '0', '3', '10', '7', '-', '-', '-'],
      ['billing', 'orders', '1', '7', '7', '0', '-', '-', '-'],
      ['billing', 'orders', '2', '1', '4', '3', '-', '-', '-'],
    ]);
    // The columns line up: every row's LAG starts where the header's does.
    const lines = described.stdout
      .split('\n')
      .filter((l) => l.startsWith('GROUP') || l.startsWith('billing'));
    const lagAt = lines[0]!.indexOf('LAG');
    for (const line of lines.slice(1)) assert.match(line.slice(lagAt), /^\d/);

    const json = await brook(bootstrap, 'describe', 'billing', '--output', 'json');
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.group, 'billing');
    assert.equal(parsed.state, 'Empty');
    assert.equal(parsed.totalLag, 10);
    assert.deepEqual(
      parsed.partitions.map((p: Record<string, unknown>) => [
        p.partition,
        p.currentOffset,
        p.logEndOffset,
        p.lag,
        p.memberId,
      ]),
      [
        [0, 3, 10, 7, null],
        [1, 7, 7, 0, null],
        [2, 1, 4, 3, null],
      ],
    );

    const deleted = await brook(bootstrap, 'delete', 'audit');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /Deleted group 'audit'/);
    const after = await brook(bootstrap, 'list', '--output', 'json');
    assert.deepEqual(
      JSON.parse(after.stdout).map((g: { group: string }) => g.group),
      ['billing'],
    );
    const missing = await brook(bootstrap, 'describe', 'audit');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "brook groups describe: group 'audit' does not exist\n");
    const again = await brook(bootstrap, 'delete', 'audit');
    assert.equal(again.code, 1);
    assert.equal(again.stderr, "brook groups delete: group 'audit' does not exist\n");
  });

  it('resets offsets as a dry run, then with --execute', async (t) => {
    const { bootstrap, admin } = await setup(t, 'clicks', [5, 8]);
    await admin.alterGroupOffsets('stats', [
      { topic: 'clicks', partition: 0, offset: 5n },
      { topic: 'clicks', partition: 1, offset: 8n },
    ]);
    const lagOf = async () => {
      const [offsets] = await admin.listGroupOffsets(['stats']);
      return offsets!.partitions.map((p) => [p.partition, p.committedOffset]);
    };

    const dry = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'clicks',
      '--to-earliest',
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(rows(dry.stdout, 'GROUP'), [
      ['stats', 'clicks', '0', '0'],
      ['stats', 'clicks', '1', '0'],
    ]);
    assert.match(dry.stdout, /Dry run: nothing was changed/);
    assert.deepEqual(await lagOf(), [
      [0, 5n],
      [1, 8n],
    ]);

    const one = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'clicks:1',
      '--to-offset',
      '3',
      '--execute',
      '--output',
      'json',
    );
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(JSON.parse(one.stdout), {
      group: 'stats',
      executed: true,
      partitions: [{ topic: 'clicks', partition: 1, newOffset: 3, error: null }],
    });
    assert.deepEqual(await lagOf(), [
      [0, 5n],
      [1, 3n],
    ]);

    const all = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'clicks',
      '--to-earliest',
      '--execute',
    );
    assert.equal(all.code, 0, all.stderr);
    assert.doesNotMatch(all.stdout, /Dry run/);
    assert.deepEqual(await lagOf(), [
      [0, 0n],
      [1, 0n],
    ]);
    const lags = await brook(bootstrap, 'describe', 'stats');
    assert.deepEqual(
      rows(lags.stdout, 'GROUP').map((r) => r.slice(2, 6)),
      [
        ['0', '0', '5', '5'],
        ['1', '0', '8', '8'],
      ],
    );

    // A time after every record: the log end. An offset past the end is brought to it.
    const future = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--all-topics',
      '--to-datetime',
      new Date(Date.now() + 3_600_000).toISOString(),
      '--output',
      'json',
    );
    assert.equal(future.code, 0, future.stderr);
    assert.deepEqual(
      JSON.parse(future.stdout).partitions.map((p: { newOffset: number }) => p.newOffset),
      [5, 8],
    );
    const past = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'clicks',
      '--to-datetime',
      '2000-01-01T00:00:00Z',
      '--output',
      'json',
    );
    assert.deepEqual(
      JSON.parse(past.stdout).partitions.map((p: { newOffset: number }) => p.newOffset),
      [0, 0],
    );
    const clamped = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'clicks',
      '--to-offset',
      '100',
      '--output',
      'json',
    );
    assert.deepEqual(
      JSON.parse(clamped.stdout).partitions.map((p: { newOffset: number }) => p.newOffset),
      [5, 8],
    );
    const latest = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'clicks',
      '--to-latest',
      '--execute',
    );
    assert.equal(latest.code, 0, latest.stderr);
    assert.deepEqual(await lagOf(), [
      [0, 5n],
      [1, 8n],
    ]);

    const unknownTopic = await brook(
      bootstrap,
      'reset-offsets',
      'stats',
      '--topic',
      'nope',
      '--to-earliest',
    );
    assert.equal(unknownTopic.code, 1);
    assert.match(unknownTopic.stderr, /^brook groups reset-offsets: .*nope.*\n$/);
  });

  it('shows the members of an active group and refuses to delete or reset it', async (t) => {
    const { bootstrap, admin } = await setup(t, 'events', [6, 2]);
    const consumer = new Consumer({
      bootstrapServers: [bootstrap],
      groupId: 'live',
      clientId: 'reader-1',
      autoOffsetReset: 'earliest',
      autoCommit: false,
    });
    t.after(() => consumer.close());
    await consumer.subscribe({ topics: ['events'] });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const record of consumer) {
        seen.push(String(record.value));
        if (seen.length === 8) {
          await consumer.commit();
          break;
        }
      }
    })();
    await reading;
    await consumer.commit();
    // Not every partition need be committed: wait until both are, at their log end.
    await waitFor('the commits', async () => {
      const [offsets] = await admin.listGroupOffsets(['live']);
      return offsets!.partitions.length === 2 && offsets!.totalLag === 0n;
    });
    const [live] = await admin.describeGroups(['live']);
    assert.equal(live?.state, 'Stable');
    const memberId = live!.members[0]!.memberId;

    const described = await brook(bootstrap, 'describe', 'live');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Group 'live' is Stable with 1 member /);
    const table = rows(described.stdout, 'GROUP');
    assert.deepEqual(
      table.map((r) => [r[2], r[3], r[4], r[5], r[6], r[8]]),
      [
        ['0', '6', '6', '0', memberId, 'reader-1'],
        ['1', '2', '2', '0', memberId, 'reader-1'],
      ],
    );
    assert.match(table[0]![7]!, /127\.0\.0\.1/);

    const members = await brook(bootstrap, 'describe', 'live', '--members');
    assert.equal(members.code, 0, members.stderr);
    const memberRows = rows(members.stdout, 'GROUP');
    assert.equal(memberRows.length, 1);
    assert.equal(memberRows[0]![1], memberId);
    assert.equal(memberRows[0]![3], 'reader-1');
    assert.equal(memberRows[0]![4], '2');
    assert.equal(memberRows[0]![5], 'events(0,1)');

    const json = JSON.parse(
      (await brook(bootstrap, 'describe', 'live', '--output', 'json')).stdout,
    );
    assert.equal(json.members[0].memberId, memberId);
    assert.deepEqual(json.members[0].assignment, [{ topic: 'events', partitions: [0, 1] }]);
    assert.equal(json.partitions[0].clientId, 'reader-1');

    const listed = await brook(bootstrap, 'list', '--state', 'Stable', '--output', 'json');
    assert.deepEqual(JSON.parse(listed.stdout), [
      { group: 'live', state: 'Stable', protocolType: 'consumer', coordinator: 1 },
    ]);

    const deleted = await brook(bootstrap, 'delete', 'live');
    assert.equal(deleted.code, 1);
    assert.equal(
      deleted.stderr,
      "brook groups delete: group 'live' is not empty: it has active members\n",
    );
    const reset = await brook(
      bootstrap,
      'reset-offsets',
      'live',
      '--topic',
      'events',
      '--to-earliest',
    );
    assert.equal(reset.code, 1);
    assert.equal(
      reset.stderr,
      "brook groups reset-offsets: offsets of group 'live' can be reset only when it has no members, but its state is Stable\n",
    );
    await consumer.close();
  });

  it('exits non-zero with one line on usage errors and unreachable brokers (through main.js)', async (t) => {
    const bootstrap = await startBroker(t);
    const ok = await spawnBrook('list', '--bootstrap-server', bootstrap);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'GROUP  STATE  PROTOCOL-TYPE  COORDINATOR\n');

    const unknown = await spawnBrook('describe', 'ghost', '--bootstrap-server', bootstrap);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, "brook groups describe: group 'ghost' does not exist\n");

    const started = Date.now();
    const unreachable = await spawnBrook(
      'list',
      '--bootstrap-server',
      '127.0.0.1:1',
      '--timeout',
      '1000',
    );
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /^brook groups list: cannot reach the broker at 127\.0\.0\.1:1 within 1000 ms \([^\n]*\)\n$/,
    );
    assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);

    const noTarget = await spawnBrook(
      'reset-offsets',
      'g',
      '--topic',
      't',
      '--bootstrap-server',
      bootstrap,
    );
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.stderr, /^brook groups reset-offsets: a target is required/);
    const twoTargets = await brook(
      bootstrap,
      'reset-offsets',
      'g',
      '--topic',
      't',
      '--to-earliest',
      '--to-latest',
    );
    assert.equal(twoTargets.code, 2);
    assert.match(twoTargets.stderr, /one target only/);
    const badDate = await brook(
      bootstrap,
      'reset-offsets',
      'g',
      '--topic',
      't',
      '--to-datetime',
      'yesterday',
    );
    assert.equal(badDate.code, 2);
    const noGroup = await brook(bootstrap, 'describe');
    assert.equal(noGroup.code, 2);
    assert.match(noGroup.stderr, /a group is required/);
    const wrongOption = await brook(bootstrap, 'list', '--execute');
    assert.equal(wrongOption.code, 2);
    assert.match(wrongOption.stderr, /--execute does not apply to list/);
    const badState = await brook(bootstrap, 'list', '--state', 'Sleeping');
    assert.equal(badState.code, 2);
    const badCommand = await spawnBrook('frobnicate');
    assert.equal(badCommand.code, 2);
    assert.match(badCommand.stderr, /unknown command 'frobnicate'/);
    const help = await spawnBrook('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /reset-offsets/);
  });
});
