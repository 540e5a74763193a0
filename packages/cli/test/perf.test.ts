/**
 * `brook perf produce` and `brook perf consume` run as subprocesses against a Brook broker
 * started in-process: counts checked against the topic's offsets, ordered percentiles, the
 * throttle's lower bound on time, reading back, end-to-end latency with a producer running,
 * interrupts, the text report, and the error exits (unknown topic, unreachable broker, failed
 * records, bad flags).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { Admin } from '@brook/client';
import { brook, startBroker } from './support.ts';

interface Report {
  command: string;
  topics: string[];
  records: number;
  failed: number;
  bytes: number;
  elapsedMs: number;
  recordsPerSec: number;
  mbPerSec: number;
  latencyMs: Record<'min' | 'mean' | 'p50' | 'p90' | 'p99' | 'p99_9' | 'max', number>;
  stoppedBy: string;
  errors: { message: string; count: number }[];
}

function report(stdout: string): Report {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON document expected, got:\n${stdout}`);
  return JSON.parse(lines[0]!) as Report;
}

function assertOrdered(latency: Report['latencyMs']): void {
  const { min, p50, p90, p99, p99_9, max, mean } = latency;
  assert.ok(
    min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p99_9 && p99_9 <= max,
    JSON.stringify(latency),
  );
  assert.ok(min <= mean && mean <= max, JSON.stringify(latency));
}

/** Records in the topic: the sum of its partitions' log end offsets. */
async function recordsIn(bootstrap: string, topic: string): Promise<number> {
  const admin = new Admin({ bootstrapServers: [bootstrap] });
  try {
    const [description] = await admin.describeTopics([topic]);
    const offsets = await admin.listOffsets(
      description!.partitions.map((p) => ({ topic, partition: p.partition, spec: 'latest' })),
    );
    return offsets.reduce((sum, o) => sum + Number(o.offset), 0);
  } finally {
    await admin.close();
  }
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('brook perf', () => {
  it('produces N records (counted in the topic) and reads them back', async (t) => {
    const { bootstrap } = await startBroker(t);
    const produced = await brook([
      'perf',
      'produce',
      'bench',
      '-n',
      '3000',
      '--record-size',
      '200',
      '--create',
      '-p',
      '3',
      '--json',
      '-b',
      bootstrap,
    ]);
    assert.equal(produced.code, 0, produced.stderr);
    assert.equal(produced.stderr, '');
    const sent = report(produced.stdout);
    assert.equal(sent.command, 'produce');
    assert.deepEqual(sent.topics, ['bench']);
    assert.equal(sent.records, 3000);
    assert.equal(sent.failed, 0);
    assert.equal(sent.bytes, 3000 * 200);
    assert.equal(sent.stoppedBy, 'records');
    assert.ok(sent.elapsedMs > 0 && sent.recordsPerSec > 0 && sent.mbPerSec > 0);
    assert.ok(sent.latencyMs.min > 0, JSON.stringify(sent.latencyMs));
    assertOrdered(sent.latencyMs);
    assert.equal(await recordsIn(bootstrap, 'bench'), 3000);

    const read = await brook(['perf', 'consume', 'bench', '-n', '3000', '--json', '-b', bootstrap]);
    assert.equal(read.code, 0, read.stderr);
    const got = report(read.stdout);
    assert.equal(got.command, 'consume');
    assert.equal(got.records, 3000);
    assert.equal(got.bytes, 3000 * 200);
    assert.equal(got.stoppedBy, 'records');
    assertOrdered(got.latencyMs);

    // In a group, asking for more than there is: it ends after the idle timeout with what it has.
    const idle = await brook([
      'perf',
      'consume',
      'bench',
      '-g',
      'perf-readers',
      '-n',
      '5000',
      '--idle-timeout-ms',
      '700',
      '--json',
      '-b',
      bootstrap,
    ]);
    assert.equal(idle.code, 0, idle.stderr);
    const partial = report(idle.stdout);
    assert.equal(partial.records, 3000);
    assert.equal(partial.stoppedBy, 'idle');
    assert.match(idle.stderr, /stopped at 3000 of 5000 records/);
  });

  it('in a group, counts --duration from the assignment (after a slow join)', async (t) => {
    const { bootstrap } = await startBroker(t, { 'group.initial.rebalance.delay.ms': '1000' });
    const produced = await brook([
      'perf',
      'produce',
      'g',
      '-n',
      '100',
      '--create',
      '-b',
      bootstrap,
    ]);
    assert.equal(produced.code, 0, produced.stderr);
    const read = await brook([
      'perf',
      'consume',
      'g',
      '-g',
      'slow',
      '-d',
      '0.5',
      '--json',
      '-b',
      bootstrap,
    ]);
    assert.equal(read.code, 0, read.stderr);
    const got = report(read.stdout);
    assert.equal(got.records, 100);
    assert.equal(got.stoppedBy, 'duration');
    assert.ok(got.elapsedMs >= 500, JSON.stringify(got));
  });

  it('prints a text report with the latency percentiles', async (t) => {
    const { bootstrap } = await startBroker(t);
    const run = await brook(['perf', 'produce', 'text', '-n', '500', '--create', '-b', bootstrap]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^records sent +500$/m);
    assert.match(run.stdout, /^failed +0$/m);
    assert.match(run.stdout, /^records\/s +\d+\.\d$/m);
    assert.match(run.stdout, /^MB\/s +\d+\.\d\d$/m);
    assert.match(run.stdout, /^latency ms/m);
    for (const name of ['min', 'mean', 'p50', 'p90', 'p99', 'p99\\.9', 'max']) {
      assert.match(run.stdout, new RegExp(`^  ${name} +\\d+\\.\\d{3}$`, 'm'));
    }
    // No progress line when stderr is not a terminal.
    assert.equal(run.stderr, '');

    const read = await brook(['perf', 'consume', 'text', '-n', '500', '-b', bootstrap]);
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, /^records read +500$/m);
    assert.match(read.stdout, /^bytes +50000$/m);
    assert.match(read.stdout, /^ {2}p99\.9 +\d+\.\d{3}$/m);
  });

  it('holds --throughput: 2000 records at 1000/s take at least ~1.8 s', async (t) => {
    const { bootstrap } = await startBroker(t);
    const startMs = performance.now();
    const run = await brook([
      'perf',
      'produce',
      'slow',
      '-n',
      '2000',
      '-t',
      '1000',
      '--create',
      '--json',
      '-b',
      bootstrap,
    ]);
    const wallMs = performance.now() - startMs;
    assert.equal(run.code, 0, run.stderr);
    const sent = report(run.stdout);
    assert.equal(sent.records, 2000);
    assert.ok(sent.elapsedMs >= 1800, `elapsed ${sent.elapsedMs} ms`);
    assert.ok(wallMs >= 1800, `wall ${wallMs} ms`);
  });

  it('measures end-to-end latency with a producer running, and stops on interrupt', async (t) => {
    const { bootstrap } = await startBroker(t);
    const create = await brook(['perf', 'produce', 'live', '-n', '1', '--create', '-b', bootstrap]);
    assert.equal(create.code, 0, create.stderr);
    // The consumer starts at the end; the producer writes 500/s for 4 s meanwhile.
    const [consumed, produced] = await Promise.all([
      brook(['perf', 'consume', 'live', '--from', 'end', '-n', '300', '--json', '-b', bootstrap]),
      brook(['perf', 'produce', 'live', '-d', '4', '-t', '500', '--json', '-b', bootstrap]),
    ]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal(produced.code, 0, produced.stderr);
    const got = report(consumed.stdout);
    assert.equal(got.records, 300);
    assertOrdered(got.latencyMs);
    // Fresh records, not the one written before: latencies of a producer running now.
    assert.ok(got.latencyMs.max < 10_000, JSON.stringify(got.latencyMs));
    const sent = report(produced.stdout);
    assert.equal(sent.stoppedBy, 'duration');
    assert.ok(sent.elapsedMs >= 4000 && sent.records > 300, JSON.stringify(sent));

    // Interrupted: what was sent is still acknowledged and reported.
    const interrupted = await brook(
      ['perf', 'produce', 'live', '-d', '60', '-t', '2000', '--json', '-b', bootstrap],
      { interruptAfterMs: 1500 },
    );
    assert.equal(interrupted.code, 0, interrupted.stderr);
    const cut = report(interrupted.stdout);
    assert.equal(cut.stoppedBy, 'interrupt');
    assert.equal(cut.failed, 0);
    assert.ok(cut.records > 0 && cut.elapsedMs < 60_000, JSON.stringify(cut));
    assert.equal(await recordsIn(bootstrap, 'live'), 1 + sent.records + cut.records);
  });

  it('says what is wrong: unknown topic, unreachable broker, failed records, bad flags', async (t) => {
    const { bootstrap } = await startBroker(t, {
      'auto.create.topics.enable': 'false',
      'message.max.bytes': '2000',
    });
    const missing = await brook(['perf', 'produce', 'nope', '-n', '10', '-b', bootstrap]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(
      missing.stderr,
      /^brook perf produce: topic 'nope' does not exist; create it with `brook topic create nope` or enable auto\.create\.topics\.enable on the broker, or pass --create\n$/,
    );
    const missingRead = await brook(['perf', 'consume', 'nope', '-n', '10', '-b', bootstrap]);
    assert.equal(missingRead.code, 1);
    assert.match(missingRead.stderr, /topic 'nope' does not exist; create it with `brook topic/);

    // Every record too large for the broker: the report, then exit 1 with the error.
    const tooLarge = await brook([
      'perf',
      'produce',
      'big',
      '-n',
      '20',
      '-s',
      '5000',
      '--create',
      '--json',
      '-b',
      bootstrap,
    ]);
    assert.equal(tooLarge.code, 1, tooLarge.stderr);
    const failed = report(tooLarge.stdout);
    assert.equal(failed.records, 0);
    assert.equal(failed.failed, 20);
    assert.match(failed.errors[0]?.message ?? '', /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
    assert.match(tooLarge.stderr, /^brook perf produce: every record failed \(20\)/);

    // Nothing to read at the end within the idle timeout: exit 1.
    const empty = await brook([
      'perf',
      'consume',
      'big',
      '--from',
      'end',
      '--idle-timeout-ms',
      '300',
      '-b',
      bootstrap,
    ]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no records read within --idle-timeout-ms 300/);

    const port = await closedPort();
    for (const command of ['produce', 'consume']) {
      const unreachable = await brook([
        'perf',
        command,
        'bench',
        '-n',
        '10',
        '-b',
        `127.0.0.1:${port}`,
        '--timeout',
        '1000',
      ]);
      assert.equal(unreachable.code, 3, unreachable.stderr);
      assert.match(
        unreachable.stderr,
        /cannot reach the broker at 127\.0\.0\.1:\d+ within 1000 ms/,
      );
    }

    for (const args of [
      ['produce', 'x', '-n', '10', '--no-such-flag'],
      ['produce', 'x'], // neither --records nor --duration
      ['produce', 'x', '-n', '10', '-d', '5'],
      ['produce', 'x', '-n', '0'],
      ['produce', 'x', '-n', '10', '-t', '0'],
      ['produce', 'x', '-n', '10', '--acks', '2'],
      ['produce', 'x', '-n', '10', '-p', '3'], // without --create
      ['consume', 'x', '--from', 'middle'],
      ['consume'],
    ]) {
      const bad = await brook(['perf', ...args, '-b', bootstrap]);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.equal(bad.stdout, '');
    }

    for (const command of ['produce', 'consume']) {
      const help = await brook(['perf', command, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /Examples:\n {2}brook perf /);
      assert.match(help.stdout, /--json/);
    }
  });
});
