/**
 * `brook group` run as a user runs it (a child process through main.js) against a Brook broker
 * started by the test: list, describe (exact lags, the owners of an active group's partitions,
 * --members), delete, reset-offsets as a dry run and with --execute to every target including
 * --shift-by (forwards, backwards, brought within the log), the `brook groups` alias, the JSON
 * shapes, and the exit codes of the error paths. Records and commits are set up with
 * @brook/client directly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admin, Consumer, Producer } from '@brook/client';
import { brook, type Hooks, startBroker, tableRows } from './support.ts';

/** A broker with a topic of `counts[p]` records in partition p, and an admin to inspect it. */
async function setup(t: Hooks, topic: string, counts: readonly number[]) {
  const { bootstrap } = await startBroker(t);
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

async function committedOf(admin: Admin, groupId: string): Promise<[number, bigint][]> {
  const [offsets] = await admin.listGroupOffsets([groupId]);
  return offsets!.partitions.map((p) => [p.partition, p.committedOffset]);
}

async function waitFor(what: string, condition: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('brook group', () => {
  it('lists, describes with exact lags, and deletes inactive groups', async (t) => {
    const { bootstrap, admin } = await setup(t, 'orders', [10, 7, 4]);
    const committed = await admin.alterGroupOffsets('billing', [
      { topic: 'orders', partition: 0, offset: 3n },
      { topic: 'orders', partition: 1, offset: 7n },
      { topic: 'orders', partition: 2, offset: 1n },
    ]);
    assert.ok(committed.every((c) => c.error === null));
    await admin.alterGroupOffsets('audit', [{ topic: 'orders', partition: 0, offset: 10n }]);
    await admin.alterGroupOffsets('spare', [{ topic: 'orders', partition: 1, offset: 1n }]);
    const b = ['--bootstrap', bootstrap];

    const [listed, filtered, empty, aliased, described, json] = await Promise.all([
      brook(['group', 'list', ...b]),
      brook(['group', 'list', '--state', 'stable', '--json', ...b]),
      brook(['group', 'list', '--state', 'Empty,Stable', '--json', ...b]),
      brook(['groups', 'list', '--output', 'json', ...b]),
      brook(['group', 'describe', 'billing', ...b]),
      brook(['group', 'describe', 'billing', '--json', ...b]),
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stderr, '');
    assert.deepEqual(tableRows(listed.stdout, 'GROUP'), [
      ['audit', 'Empty', '-', '1'],
      ['billing', 'Empty', '-', '1'],
      ['spare', 'Empty', '-', '1'],
    ]);
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.deepEqual(JSON.parse(filtered.stdout), []);
    assert.deepEqual(JSON.parse(empty.stdout), [
      { group: 'audit', state: 'Empty', protocolType: '', coordinator: 1 },
      { group: 'billing', state: 'Empty', protocolType: '', coordinator: 1 },
      { group: 'spare', state: 'Empty', protocolType: '', coordinator: 1 },
    ]);
    // `brook groups` and the hidden `--output json` of the old command still work.
    assert.equal(aliased.code, 0, aliased.stderr);
    assert.deepEqual(JSON.parse(aliased.stdout), JSON.parse(empty.stdout));

    assert.equal(described.code, 0, described.stderr);
    assert.match(
      described.stdout,
      /^Group 'billing' is Empty with 0 members \(coordinator 1\)\.\n/,
    );
    assert.deepEqual(tableRows(described.stdout, 'GROUP'), [
      ['billing', 'orders', '0', '3', '10', '7', '-', '-', '-'],
      ['billing', 'orders', '1', '7', '7', '0', '-', '-', '-'],
      ['billing', 'orders', '2', '1', '4', '3', '-', '-', '-'],
    ]);
    // The columns line up: every row's LAG starts where the header's does.
    const lines = described.stdout
      .split('\n')
      .filter((l) => l.startsWith('GROUP') || l.startsWith('billing'));
    const lagAt = lines[0]!.indexOf('LAG');
    for (const line of lines.slice(1)) assert.match(line.slice(lagAt), /^\d+ +-/);

    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      group: 'billing',
      state: 'Empty',
      protocolType: '',
      protocol: '',
      coordinator: 1,
      members: [],
      partitions: [0, 1, 2].map((partition) => ({
        topic: 'orders',
        partition,
        currentOffset: [3, 7, 1][partition],
        logEndOffset: [10, 7, 4][partition],
        lag: [7, 0, 3][partition],
        memberId: null,
        clientId: null,
        host: null,
      })),
      totalLag: 10,
    });

    const deleted = await brook(['group', 'delete', 'audit', ...b]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, "Deleted group 'audit'.\n");
    const [after, missing, again] = await Promise.all([
      brook(['group', 'list', '--json', ...b]),
      brook(['group', 'describe', 'audit', ...b]),
      brook(['group', 'delete', 'audit', ...b]),
    ]);
    assert.deepEqual(
      JSON.parse(after.stdout).map((g: { group: string }) => g.group),
      ['billing', 'spare'],
    );
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(
      missing.stderr,
      "brook group describe: group 'audit' does not exist; `brook group list` shows the groups\n",
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^brook group delete: group 'audit' does not exist/);

    // Some deleted, some not: exit 4, and the JSON says which.
    const partly = await brook(['group', 'delete', 'spare', 'ghost', '--json', ...b]);
    assert.equal(partly.code, 4, partly.stderr);
    const [spare, ghost] = JSON.parse(partly.stdout);
    assert.deepEqual(spare, { group: 'spare', deleted: true, error: null });
    assert.equal(ghost.group, 'ghost');
    assert.equal(ghost.deleted, false);
    assert.match(ghost.error, /group 'ghost' does not exist/);
    assert.match(partly.stderr, /^brook group delete: group 'ghost' does not exist/);
  });

  it('resets offsets as a dry run, then with --execute, to each target', async (t) => {
    const { bootstrap, admin } = await setup(t, 'clicks', [5, 8]);
    await admin.alterGroupOffsets('stats', [
      { topic: 'clicks', partition: 0, offset: 5n },
      { topic: 'clicks', partition: 1, offset: 8n },
    ]);
    const reset = (...args: string[]) =>
      brook(['group', 'reset-offsets', 'stats', ...args, '--bootstrap', bootstrap]);
    const newOffsets = (stdout: string) =>
      JSON.parse(stdout).partitions.map((p: { newOffset: number }) => p.newOffset);

    const dry = await reset('--topic', 'clicks', '--to-earliest');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(tableRows(dry.stdout, 'GROUP'), [
      ['stats', 'clicks', '0', '0'],
      ['stats', 'clicks', '1', '0'],
    ]);
    assert.equal(
      dry.stderr,
      'Dry run: nothing was changed; add --execute to commit these offsets.\n',
    );
    const explicitDry = await reset('--topic', 'clicks', '--to-earliest', '--dry-run');
    assert.equal(explicitDry.code, 0, explicitDry.stderr);
    assert.equal(explicitDry.stdout, dry.stdout);
    assert.deepEqual(await committedOf(admin, 'stats'), [
      [0, 5n],
      [1, 8n],
    ]);

    const one = await reset('--topic', 'clicks:1', '--to-offset', '3', '--execute', '--json');
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(JSON.parse(one.stdout), {
      group: 'stats',
      executed: true,
      partitions: [{ topic: 'clicks', partition: 1, newOffset: 3, error: null }],
    });
    assert.deepEqual(await committedOf(admin, 'stats'), [
      [0, 5n],
      [1, 3n],
    ]);

    const all = await reset('--topic', 'clicks', '--to-earliest', '--execute');
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stderr, '');
    assert.deepEqual(await committedOf(admin, 'stats'), [
      [0, 0n],
      [1, 0n],
    ]);
    const lags = await brook(['group', 'describe', 'stats', '--bootstrap', bootstrap]);
    assert.deepEqual(
      tableRows(lags.stdout, 'GROUP').map((r) => r.slice(2, 6)),
      [
        ['0', '0', '5', '5'],
        ['1', '0', '8', '8'],
      ],
    );

    const [future, past, clamped] = await Promise.all([
      // A time after every record: the log end.
      reset(
        '--all-topics',
        '--to-datetime',
        new Date(Date.now() + 3_600_000).toISOString(),
        '--json',
      ),
      reset('--topic', 'clicks', '--to-datetime', '2000-01-01T00:00:00Z', '--json'),
      // An offset past the end is brought to it.
      reset('--topic', 'clicks', '--to-offset', '100', '--json'),
    ]);
    assert.equal(future.code, 0, future.stderr);
    assert.deepEqual(newOffsets(future.stdout), [5, 8]);
    assert.equal(past.code, 0, past.stderr);
    assert.deepEqual(newOffsets(past.stdout), [0, 0]);
    assert.equal(clamped.code, 0, clamped.stderr);
    assert.deepEqual(newOffsets(clamped.stdout), [5, 8]);
    assert.deepEqual(await committedOf(admin, 'stats'), [
      [0, 0n],
      [1, 0n],
    ]);

    const latest = await reset('--topic', 'clicks', '--to-latest', '--execute');
    assert.equal(latest.code, 0, latest.stderr);
    assert.deepEqual(await committedOf(admin, 'stats'), [
      [0, 5n],
      [1, 8n],
    ]);

    // A group with nothing committed and --all-topics: nothing to do, said on stderr.
    const nothing = await brook([
      'group',
      'reset-offsets',
      'newcomers',
      '--all-topics',
      '--to-earliest',
      '--bootstrap',
      bootstrap,
    ]);
    assert.equal(nothing.code, 0, nothing.stderr);
    assert.equal(nothing.stdout, '');
    assert.equal(nothing.stderr, "Group 'newcomers' has no committed offsets to reset.\n");

    const [unknownTopic, unknownPartition] = await Promise.all([
      reset('--topic', 'nope', '--to-earliest'),
      reset('--topic', 'clicks:0,7', '--to-earliest'),
    ]);
    assert.equal(unknownTopic.code, 1);
    assert.equal(
      unknownTopic.stderr,
      "brook group reset-offsets: topic 'nope' does not exist; create it with `brook topic create nope` or enable auto.create.topics.enable on the broker\n",
    );
    assert.equal(unknownPartition.code, 1);
    assert.equal(
      unknownPartition.stderr,
      "brook group reset-offsets: topic 'clicks' has no partition 7 (it has partitions 0-1)\n",
    );
  });

  it('shifts committed offsets by N, forwards and back, within the log', async (t) => {
    const { bootstrap, admin } = await setup(t, 'events', [10, 6, 4]);
    // Partition 0's log starts at 2.
    const [trimmed] = await admin.deleteRecords([{ topic: 'events', partition: 0, offset: 2n }]);
    assert.equal(trimmed?.error, null);
    await admin.alterGroupOffsets('replay', [
      { topic: 'events', partition: 0, offset: 5n },
      { topic: 'events', partition: 1, offset: 3n },
    ]);
    const shift = (...args: string[]) =>
      brook(['group', 'reset-offsets', 'replay', ...args, '--bootstrap', bootstrap]);

    const dry = await shift('--all-topics', '--shift-by', '2');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(tableRows(dry.stdout, 'GROUP'), [
      ['replay', 'events', '0', '7'],
      ['replay', 'events', '1', '5'],
    ]);
    assert.match(dry.stderr, /^Dry run/);
    assert.deepEqual(await committedOf(admin, 'replay'), [
      [0, 5n],
      [1, 3n],
    ]);

    const back = await shift('--all-topics', '--shift-by', '-2', '--execute', '--json');
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(JSON.parse(back.stdout), {
      group: 'replay',
      executed: true,
      partitions: [
        { topic: 'events', partition: 0, newOffset: 3, error: null },
        { topic: 'events', partition: 1, newOffset: 1, error: null },
      ],
    });
    assert.deepEqual(await committedOf(admin, 'replay'), [
      [0, 3n],
      [1, 1n],
    ]);

    // Too far back: the log start (2 for partition 0); too far forwards: the log end.
    const start = await shift('--all-topics', '--shift-by=-100', '--execute');
    assert.equal(start.code, 0, start.stderr);
    assert.deepEqual(await committedOf(admin, 'replay'), [
      [0, 2n],
      [1, 0n],
    ]);
    const end = await shift('--topic', 'events:1', '--shift-by', '+1000', '--execute');
    assert.equal(end.code, 0, end.stderr);
    assert.deepEqual(tableRows(end.stdout, 'GROUP'), [['replay', 'events', '1', '6']]);
    assert.deepEqual(await committedOf(admin, 'replay'), [
      [0, 2n],
      [1, 6n],
    ]);

    // Partition 2 has no committed offset: refused as Kafka's tool does, and nothing changes.
    const uncommitted = await shift('--topic', 'events', '--shift-by', '1', '--execute');
    assert.equal(uncommitted.code, 1);
    assert.equal(uncommitted.stdout, '');
    assert.match(
      uncommitted.stderr,
      /^brook group reset-offsets: group replay: cannot shift the offset of events-2: the group has committed none there \(nothing was reset\); pick committed partitions with --topic T:P,\.\.\. or set them first with --to-offset/,
    );
    assert.deepEqual(await committedOf(admin, 'replay'), [
      [0, 2n],
      [1, 6n],
    ]);

    const [notNumber, noValue] = await Promise.all([
      shift('--all-topics', '--shift-by', '1.5'),
      shift('--all-topics', '--shift-by'),
    ]);
    assert.equal(notNumber.code, 2);
    assert.match(notNumber.stderr, /--shift-by <n>' argument '1\.5' is invalid/);
    assert.equal(noValue.code, 2);
  });

  it('shows the owners of an active group and refuses to delete or reset it', async (t) => {
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
    let seen = 0;
    for await (const _record of consumer) {
      seen += 1;
      if (seen === 8) break;
    }
    await consumer.commit();
    await waitFor('the commits', async () => {
      const [offsets] = await admin.listGroupOffsets(['live']);
      return offsets!.partitions.length === 2 && offsets!.totalLag === 0n;
    });
    const [live] = await admin.describeGroups(['live']);
    assert.equal(live?.state, 'Stable');
    const memberId = live!.members[0]!.memberId;
    const b = ['--bootstrap', bootstrap];

    const [described, members, json, listed, deleted, reset] = await Promise.all([
      brook(['group', 'describe', 'live', ...b]),
      brook(['group', 'describe', 'live', '--members', ...b]),
      brook(['group', 'describe', 'live', '--json', ...b]),
      brook(['group', 'list', '--state', 'Stable', '--json', ...b]),
      brook(['group', 'delete', 'live', ...b]),
      brook(['group', 'reset-offsets', 'live', '--topic', 'events', '--to-earliest', ...b]),
    ]);
    assert.equal(described.code, 0, described.stderr);
    assert.match(
      described.stdout,
      /^Group 'live' is Stable with 1 member \(coordinator 1, assignor \w+\)/,
    );
    const rows = tableRows(described.stdout, 'GROUP');
    assert.deepEqual(
      rows.map((r) => [r[2], r[3], r[4], r[5], r[6], r[8]]),
      [
        ['0', '6', '6', '0', memberId, 'reader-1'],
        ['1', '2', '2', '0', memberId, 'reader-1'],
      ],
    );
    assert.match(rows[0]![7]!, /127\.0\.0\.1/);

    assert.equal(members.code, 0, members.stderr);
    assert.deepEqual(
      tableRows(members.stdout, 'GROUP').map((r) => [r[1], r[3], r[4], r[5]]),
      [[memberId, 'reader-1', '2', 'events(0,1)']],
    );

    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.state, 'Stable');
    assert.equal(parsed.protocolType, 'consumer');
    assert.deepEqual(parsed.members, [
      {
        memberId,
        groupInstanceId: null,
        clientId: 'reader-1',
        host: parsed.members[0].host,
        assignment: [{ topic: 'events', partitions: [0, 1] }],
      },
    ]);
    assert.match(parsed.members[0].host, /127\.0\.0\.1/);
    assert.deepEqual(
      parsed.partitions.map((p: Record<string, unknown>) => [p.partition, p.lag, p.memberId]),
      [
        [0, 0, memberId],
        [1, 0, memberId],
      ],
    );
    assert.equal(parsed.totalLag, 0);

    assert.deepEqual(JSON.parse(listed.stdout), [
      { group: 'live', state: 'Stable', protocolType: 'consumer', coordinator: 1 },
    ]);
    assert.equal(deleted.code, 1);
    assert.equal(
      deleted.stderr,
      "brook group delete: group 'live' is not empty: it has active members; stop its consumers first\n",
    );
    assert.equal(reset.code, 1);
    assert.equal(
      reset.stderr,
      "brook group reset-offsets: offsets of group 'live' can be reset only when it has no members, but its state is Stable; stop its consumers first\n",
    );
    assert.deepEqual(await committedOf(admin, 'live'), [
      [0, 6n],
      [1, 2n],
    ]);
    await consumer.close();
  });

  it('exits 2 on a wrong command line, 3 when unreachable, 1 for an unknown group', async (t) => {
    const { bootstrap } = await startBroker(t);
    const started = Date.now();
    const runs = await Promise.all([
      brook(['group', 'list', '--bootstrap-server', bootstrap]),
      brook(['group', 'list'], { env: { BROOK_BOOTSTRAP: bootstrap } }),
      brook(['group', 'describe', 'ghost', '-b', bootstrap]),
      brook(['group', 'list', '--bootstrap', '127.0.0.1:1', '--timeout', '1000']),
      brook(['group', 'list', '--frobnicate', '-b', bootstrap]),
      brook(['group', 'describe', '-b', bootstrap]),
      brook(['group', 'reset-offsets', 'g', '--topic', 't', '-b', bootstrap]),
      brook(['group', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--to-latest']),
      brook(['group', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'yesterday']),
      brook(['group', 'reset-offsets', 'g', '--to-earliest', '-b', bootstrap]),
      brook([
        'group',
        'reset-offsets',
        'g',
        '--all-topics',
        '--to-latest',
        '--execute',
        '--dry-run',
      ]),
      brook(['group', 'list', '--state', 'Sleeping']),
      brook(['group', 'list', '--output', 'yaml']),
      brook(['group', 'frobnicate']),
      brook(['group']),
      brook(['group', 'reset-offsets', '--help']),
    ]);
    const [ok, env, ghost, unreachable, badFlag, noGroup, noTarget, twoTargets, badDate] = runs;
    const [noTopics, executeDry, badState, badOutput, badCommand, bare, help] = runs.slice(9);

    assert.equal(ok!.code, 0, ok!.stderr);
    assert.equal(ok!.stdout, 'GROUP  STATE  PROTOCOL-TYPE  COORDINATOR\n');
    assert.equal(env!.code, 0, env!.stderr);
    assert.equal(env!.stdout, ok!.stdout);

    assert.equal(ghost!.code, 1);
    assert.equal(
      ghost!.stderr,
      "brook group describe: group 'ghost' does not exist; `brook group list` shows the groups\n",
    );

    assert.equal(unreachable!.code, 3);
    assert.match(
      unreachable!.stderr,
      /^brook group list: cannot reach the broker at 127\.0\.0\.1:1 within 1000 ms \([^\n]*\); is it running\? Point --bootstrap or BROOK_BOOTSTRAP at it\n$/,
    );
    assert.equal(unreachable!.stdout, '');
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);

    for (const run of [badFlag, noGroup, noTarget, twoTargets, badDate, noTopics, executeDry]) {
      assert.equal(run!.code, 2, run!.stderr);
      assert.equal(run!.stdout, '');
    }
    for (const run of [badState, badOutput, badCommand, bare]) {
      assert.equal(run!.code, 2, run!.stderr);
    }
    assert.match(badFlag!.stderr, /unknown option '--frobnicate'/);
    assert.match(noGroup!.stderr, /missing required argument 'group'/);
    assert.match(
      noTarget!.stderr,
      /^brook group reset-offsets: a target is required: --to-earliest, --to-latest, --to-offset N, --to-datetime ISO or --shift-by N\n/,
    );
    assert.match(twoTargets!.stderr, /one target only, got --to-earliest --to-latest/);
    assert.match(badDate!.stderr, /expected a date and time such as 2026-11-22T10:00:00Z/);
    assert.match(noTopics!.stderr, /--topic T\[:P,\.\.\.\] \(repeatable\) or --all-topics/);
    assert.match(executeDry!.stderr, /--execute and --dry-run exclude each other/);
    assert.match(badState!.stderr, /unknown state 'Sleeping'/);
    assert.match(badCommand!.stderr, /unknown command 'frobnicate'/);
    assert.match(bare!.stderr, /Usage: brook group/);

    assert.equal(help!.code, 0);
    assert.match(help!.stdout, /--shift-by <n>/);
    assert.match(help!.stdout, /Examples:/);
    assert.doesNotMatch(help!.stdout, /--output/);
  });
});
