/**
 * `brook produce` and `brook consume` run as a user runs them (child processes through main.js)
 * against a Brook broker started by the test: 100,000 lines round-trip byte for byte; what brook
 * writes kcat reads back (keys, headers, every codec, key placement) and what kcat writes brook
 * reads; partitions, acks, JSON in and out, templates, start offsets, --count and
 * --exit-at-end, groups that commit, SIGINT, a reader that goes away, and the error paths
 * (unknown topic, unreachable cluster, wrong command line, bad JSON lines).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin, Consumer } from '@brook/client';
import { brook, MAIN, startBroker } from './support.ts';

/** Runs a program to completion with `input` on stdin. */
function run(
  command: string,
  args: readonly string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** kcat exits with 0 even after a librdkafka error: its stderr tells. */
async function kcat(args: readonly string[], input?: string): Promise<string> {
  const result = await run('kcat', ['-q', ...args], input);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /ERROR|FATAL|fail/i);
  return result.stdout;
}

/** `brook ...` in a child process the test talks to (stdin a pipe); `done` when it exits. */
function spawnBrook(args: readonly string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {});
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(kill);
        resolve({ code, signal, stderr: Buffer.concat(stderr).toString() });
      });
    },
  );
  return { child, done };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** 100,000 lines: plain, with \r, empty, UTF-8, invalid UTF-8, tabs, separators. */
function awkwardLines(count: number): Buffer {
  const lines: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 7) {
      case 0:
        lines.push(Buffer.from(`line ${i}`));
        break;
      case 1:
        lines.push(Buffer.from(`carriage\r return ${i}\r`));
        break;
      case 2:
        lines.push(Buffer.alloc(0));
        break;
      case 3:
        lines.push(Buffer.from(`utf-8 é ✓ 😀 ${i}`));
        break;
      case 4:
        lines.push(
          Buffer.concat([
            Buffer.from('invalid '),
            Buffer.from([0xff, 0xfe, 0xc3]),
            Buffer.from(` ${i}`),
          ]),
        );
        break;
      case 5:
        lines.push(Buffer.from(`tab\there\t${i}`));
        break;
      default:
        lines.push(Buffer.from(`k${i}:v${i}`));
    }
  }
  return Buffer.concat([Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')]))]);
}

const sorted = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .sort();

describe('brook produce and brook consume', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let bootstrap = '';
  let dataDirectory = '';
  let admin: Admin;

  before(async () => {
    const started = await startBroker({ after: (fn) => cleanups.push(fn) });
    bootstrap = started.bootstrap;
    dataDirectory = started.broker.config.dataDirectory;
    admin = new Admin({ bootstrapServers: [bootstrap] });
  });
  after(async () => {
    await admin.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** Creates a topic and waits until it is described with its partitions. */
  async function createTopic(name: string, partitions = 1): Promise<void> {
    const [created] = await admin.createTopics([{ name, partitions }]);
    assert.equal(created?.error, null);
    const [described] = await admin.describeTopics([name]);
    assert.equal(described?.partitions.length, partitions);
  }

  it('round-trips 100,000 lines byte for byte', async () => {
    await createTopic('roundtrip');
    const input = awkwardLines(100_000);
    const produced = await brook(['produce', 'roundtrip', '-b', bootstrap], { input });
    assert.equal(produced.code, 0, produced.stderr);
    assert.equal(produced.stdout, '');
    assert.match(
      produced.stderr,
      /^100000 records \(\d+ bytes\) produced to 'roundtrip' in [\d.]+ s\n$/,
    );
    const [toEnd, counted] = await Promise.all([
      brook(['consume', 'roundtrip', '-b', bootstrap, '-e']),
      brook(['consume', 'roundtrip', '-b', bootstrap, '-o', 'beginning', '-n', '100000']),
    ]);
    for (const consumed of [toEnd, counted]) {
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.ok(consumed.stdoutBytes.equals(input), 'the bytes read are the bytes written');
      assert.match(consumed.stderr, /^100000 records \(\d+ bytes\) consumed from 'roundtrip'/);
    }
  });

  it('writes what kcat reads back, with every codec', async () => {
    const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
    for (const codec of codecs) await createTopic(`codec-${codec}`);
    const big = 'a'.repeat(5000);
    const input = `k1:v1\nnokey\n:empty key\nk2:héllo:there\n${`big:${big}\n`.repeat(100)}`;
    const template = '%k|%K|%s|%S|%h|%p|%o\\n';
    const expected = [
      'k1|2|v1|2|source=brook,tab=a\tb|0|0',
      '|-1|nokey|5|source=brook,tab=a\tb|0|1',
      '|0|empty key|9|source=brook,tab=a\tb|0|2',
      'k2|2|héllo:there|12|source=brook,tab=a\tb|0|3',
      ...Array.from(
        { length: 100 },
        (_, i) => `big|3|${big}|5000|source=brook,tab=a\tb|0|${4 + i}`,
      ),
    ].join('\n');
    await Promise.all(
      codecs.map(async (codec) => {
        const topic = `codec-${codec}`;
        const produced = await brook(
          [
            'produce',
            topic,
            '-b',
            bootstrap,
            '-K',
            ':',
            '-H',
            'source=brook',
            '-H',
            'tab=a\\tb',
            '-z',
            codec,
          ],
          { input },
        );
        assert.equal(produced.code, 0, produced.stderr);
        const [byKcat, byBrook] = await Promise.all([
          kcat(['-C', '-b', bootstrap, '-t', topic, '-e', '-f', template.replace('\\n', '\n')]),
          brook(['consume', topic, '-b', bootstrap, '-e', '-f', template]),
        ]);
        assert.equal(byKcat, `${expected}\n`, codec);
        assert.equal(byBrook.code, 0, byBrook.stderr);
        assert.equal(byBrook.stdout, byKcat, codec);
      }),
    );
    // The codec took effect: 500 KB of 'a's take little room compressed.
    const logBytes = (topic: string) => {
      const dir = join(dataDirectory, `${topic}-0`);
      return readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    };
    assert.ok(logBytes('codec-none') > 500_000, `none: ${logBytes('codec-none')}`);
    for (const codec of codecs.slice(1)) {
      assert.ok(logBytes(`codec-${codec}`) < 50_000, `${codec}: ${logBytes(`codec-${codec}`)}`);
    }
  });

  it('reads what kcat writes', async () => {
    await createTopic('from-kcat');
    await kcat(
      ['-P', '-b', bootstrap, '-t', 'from-kcat', '-K', ':', '-H', 'h=v', '-z', 'gzip'],
      'k1:one\nk2:two\tcols\nthree\n',
    );
    const [text, json] = await Promise.all([
      brook(['consume', 'from-kcat', '-b', bootstrap, '-e', '-f', '%o %k=%s (%h)\\n']),
      brook(['consume', 'from-kcat', '-b', bootstrap, '-e', '--json']),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, '0 k1=one (h=v)\n1 k2=two\tcols (h=v)\n2 =three (h=v)\n');
    const records = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      records.map(({ timestamp, ...rest }) => {
        assert.equal(typeof timestamp, 'number');
        return rest;
      }),
      [
        {
          topic: 'from-kcat',
          partition: 0,
          offset: 0,
          key: 'k1',
          value: 'one',
          headers: [{ key: 'h', value: 'v' }],
        },
        {
          topic: 'from-kcat',
          partition: 0,
          offset: 1,
          key: 'k2',
          value: 'two\tcols',
          headers: [{ key: 'h', value: 'v' }],
        },
        {
          topic: 'from-kcat',
          partition: 0,
          offset: 2,
          key: null,
          value: 'three',
          headers: [{ key: 'h', value: 'v' }],
        },
      ],
    );
  });

  it('puts keyed records where kcat (murmur2_random) puts them', async () => {
    await createTopic('keys-brook', 4);
    await createTopic('keys-kcat', 4);
    const input = Array.from({ length: 40 }, (_, i) => `key-${i}\tvalue ${i}\n`).join('');
    const produced = await brook(['produce', 'keys-brook', '-b', bootstrap, '-K', '\\t'], {
      input,
    });
    assert.equal(produced.code, 0, produced.stderr);
    await kcat(
      ['-P', '-b', bootstrap, '-t', 'keys-kcat', '-K', '\t', '-X', 'partitioner=murmur2_random'],
      input,
    );
    const [brookPlaced, kcatPlaced] = await Promise.all(
      ['keys-brook', 'keys-kcat'].map((topic) =>
        brook(['consume', topic, '-b', bootstrap, '-e', '-f', '%k %p %s\\n']),
      ),
    );
    const placement = sorted(brookPlaced!.stdout);
    assert.equal(placement.length, 40);
    assert.equal(new Set(placement.map((line) => line.split(' ')[1])).size, 4, 'keys spread');
    assert.deepEqual(placement, sorted(kcatPlaced!.stdout));
  });

  it('writes to a chosen partition with each acks, and reads one partition or all to the end', async () => {
    await createTopic('parts', 4);
    const runs = await Promise.all([
      brook(['produce', 'parts', '-b', bootstrap, '-p', '2', '--acks', '0'], { input: 'a\n' }),
      brook(['produce', 'parts', '-b', bootstrap, '-p', '1', '--acks', '1'], { input: 'b\n' }),
      brook(['produce', 'parts', '-b', bootstrap, '-p', '0', '--acks', 'all'], { input: 'c\nd' }),
    ]);
    for (const produced of runs) assert.equal(produced.code, 0, produced.stderr);
    assert.match(runs[2]!.stderr, /^2 records \(2 bytes\) produced/);
    // Partition 3 stays empty: -e ends all the same.
    const [all, one] = await Promise.all([
      brook(['consume', 'parts', '-b', bootstrap, '-e', '-f', '%p %s\\n']),
      brook(['consume', 'parts', '-b', bootstrap, '-e', '-p', '1']),
    ]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(sorted(all.stdout), ['0 c', '0 d', '1 b', '2 a']);
    assert.equal(one.stdout, 'b\n');
  });

  it('takes JSON lines in and prints JSON lines out, and copies a topic through them', async () => {
    await createTopic('json-in', 2);
    const input = [
      '{"key":"a","value":"first","headers":{"h1":"x","h2":null},"partition":1,"timestamp":1700000000000}',
      '',
      '{"value":{"nested":[1,2]},"headers":[{"key":"r","value":"1"},{"key":"r","value":"2"}],"partition":0,"timestamp":"2024-01-01T00:00:00Z"}',
      '{"key":null,"value":null,"partition":0,"timestamp":1700000000001}',
    ].join('\n');
    const produced = await brook(['produce', 'json-in', '-b', bootstrap, '--json'], { input });
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /^3 records/);
    const consumed = await brook(['consume', 'json-in', '-b', bootstrap, '-e', '--json']);
    assert.equal(consumed.code, 0, consumed.stderr);
    const records = consumed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { partition: number; offset: number });
    records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    assert.deepEqual(records, [
      {
        topic: 'json-in',
        partition: 0,
        offset: 0,
        timestamp: Date.parse('2024-01-01T00:00:00Z'),
        key: null,
        value: '{"nested":[1,2]}',
        headers: [
          { key: 'r', value: '1' },
          { key: 'r', value: '2' },
        ],
      },
      {
        topic: 'json-in',
        partition: 0,
        offset: 1,
        timestamp: 1700000000001,
        key: null,
        value: null,
        headers: [],
      },
      {
        topic: 'json-in',
        partition: 1,
        offset: 0,
        timestamp: 1700000000000,
        key: 'a',
        value: 'first',
        headers: [
          { key: 'h1', value: 'x' },
          { key: 'h2', value: null },
        ],
      },
    ]);

    // consume --json | produce --json copies records with their partitions, timestamps and headers.
    await createTopic('json-copy', 2);
    const copied = await brook(
      ['produce', 'json-copy', '-b', bootstrap, '--json', '--json-report'],
      {
        input: consumed.stdout,
      },
    );
    assert.equal(copied.code, 0, copied.stderr);
    const report = JSON.parse(copied.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { ...report, elapsedMs: 0 },
      {
        topic: 'json-copy',
        records: 3,
        failed: 0,
        bytes: 'a'.length + 'first'.length + '{"nested":[1,2]}'.length,
        elapsedMs: 0,
        interrupted: false,
        errors: [],
      },
    );
    const again = await brook(['consume', 'json-copy', '-b', bootstrap, '-e', '--json']);
    const copies = again.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { topic: string; partition: number; offset: number });
    copies.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    assert.deepEqual(
      copies,
      records.map((record) => ({ ...record, topic: 'json-copy' })),
    );
  });

  it('starts at the beginning, the end, an offset, -N or a time, for -n records or to the end', async () => {
    await createTopic('offsets');
    const input = Array.from(
      { length: 10 },
      (_, i) => `{"value":"v${i}","timestamp":${(i + 1) * 1000}}\n`,
    ).join('');
    assert.equal(
      (await brook(['produce', 'offsets', '-b', bootstrap, '--json'], { input })).code,
      0,
    );
    const cases: [string[], string][] = [
      [['-n', '3'], 'v0 v1 v2'],
      [['--from-beginning', '-n', '1'], 'v0'],
      [['-o', '7', '-e'], 'v7 v8 v9'],
      [['-o', '-2', '-e'], 'v8 v9'],
      [['-o', '-20', '-e', '-n', '2'], 'v0 v1'],
      [['-o', 'end', '-e'], ''],
      [['-o', '100', '-e'], ''],
      [['-o', '@5000', '-e'], 'v4 v5 v6 v7 v8 v9'],
      [['-o', 's@5001', '-e'], 'v5 v6 v7 v8 v9'],
      [['--from-time', '1970-01-01T00:00:08.500Z', '-e'], 'v8 v9'],
      [['-o', '@99999', '-e'], ''],
    ];
    const results = await Promise.all(
      cases.map(([args]) => brook(['consume', 'offsets', '-b', bootstrap, ...args])),
    );
    results.forEach((result, i) => {
      const [args, expected] = cases[i]!;
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout.trim().split('\n').join(' '), expected, args.join(' '));
    });
  });

  it('reads as a group member and commits what it printed', async () => {
    await createTopic('grouped', 2);
    const input = Array.from({ length: 10 }, (_, i) => `key${i}:${i}\n`).join('');
    assert.equal(
      (await brook(['produce', 'grouped', '-b', bootstrap, '-K', ':'], { input })).code,
      0,
    );
    const first = await brook(['consume', 'grouped', '-b', bootstrap, '-g', 'readers', '-n', '4']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(sorted(first.stdout).length, 4);
    const committed = async () => {
      const [offsets] = await admin.listGroupOffsets(['readers']);
      return offsets!.partitions.reduce((sum, p) => sum + Number(p.committedOffset), 0);
    };
    assert.equal(await committed(), 4);
    const rest = await brook(['consume', 'grouped', '-b', bootstrap, '--group', 'readers', '-e']);
    assert.equal(rest.code, 0, rest.stderr);
    assert.deepEqual(
      [...sorted(first.stdout), ...sorted(rest.stdout)].sort(),
      Array.from({ length: 10 }, (_, i) => String(i)).sort(),
    );
    assert.equal(await committed(), 10);

    const [withOffset, withPartition] = await Promise.all([
      brook(['consume', 'grouped', '-b', bootstrap, '-g', 'readers', '-o', '5']),
      brook(['consume', 'grouped', '-b', bootstrap, '-g', 'readers', '-p', '0']),
    ]);
    assert.equal(withOffset.code, 2);
    assert.match(withOffset.stderr, /brook group reset-offsets readers/);
    assert.equal(withPartition.code, 2);
  });

  it('ends with -e as a group member that was given no partition', async () => {
    await createTopic('single', 1);
    // A member whose id sorts first: the range assignor gives it the only partition.
    const staying = new Consumer({
      bootstrapServers: [bootstrap],
      groupId: 'pair',
      clientId: 'a-staying-member',
      autoOffsetReset: 'earliest',
    });
    try {
      await staying.subscribe({ topics: ['single'] });
      const reading = (async () => {
        for await (const _record of staying) {
          // Reads until closed.
        }
      })();
      const joined = Date.now();
      while (staying.assignment().length === 0 && Date.now() - joined < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(staying.assignment().length, 1);
      const idle = await brook(['consume', 'single', '-b', bootstrap, '-g', 'pair', '-e'], {
        timeoutMs: 20_000,
      });
      assert.equal(idle.code, 0, idle.stderr);
      assert.equal(idle.stdout, '');
      assert.match(idle.stderr, /^0 records/);
      await staying.close();
      await reading;
    } finally {
      await staying.close();
    }
  });

  it('ends cleanly on SIGINT, and quietly when the reader goes away', async () => {
    await createTopic('tail');
    const lines = `${'x'.repeat(50)}\n`.repeat(20_000);
    assert.equal((await brook(['produce', 'tail', '-b', bootstrap], { input: lines })).code, 0);
    const interrupted = await brook(['consume', 'tail', '-b', bootstrap, '-o', 'end'], {
      interruptAfterMs: 1500,
    });
    assert.equal(interrupted.signal, null);
    assert.equal(interrupted.code, 0, interrupted.stderr);
    assert.equal(interrupted.stdout, '');
    assert.match(interrupted.stderr, /^0 records \(0 bytes\) consumed from 'tail'/);

    // Like `brook consume tail | head -c 100`: the reader closes the pipe after a chunk.
    const reader = spawnBrook(['consume', 'tail', '-b', bootstrap]);
    reader.child.stdout!.once('data', () => reader.child.stdout!.destroy());
    const read = await reader.done;
    assert.deepEqual(read, { code: 0, signal: null, stderr: '' });

    // Typing lines into `brook produce`, then Ctrl-C: what was typed is delivered.
    await createTopic('typed');
    const writer = spawnBrook(['produce', 'typed', '-b', bootstrap]);
    writer.child.stdin!.write('one\ntwo\n');
    await waitFor(async () => {
      const [offset] = await admin.listOffsets([{ topic: 'typed', partition: 0, spec: 'latest' }]);
      return offset?.offset === 2n;
    });
    writer.child.kill('SIGINT');
    const typed = await writer.done;
    assert.equal(typed.code, 0, typed.stderr);
    assert.match(
      typed.stderr,
      /^2 records \(6 bytes\) produced to 'typed' in [\d.]+ s \(interrupted\)\n$/,
    );
  });

  it('counts and reports lines that are not records', async () => {
    await createTopic('bad-json');
    const input =
      '{"value":"ok"}\nnot json\n[1]\n{"value":"x","partition":5}\n{"headers":{"a":1}}\n';
    const some = await brook(['produce', 'bad-json', '-b', bootstrap, '--json'], { input });
    assert.equal(some.code, 4);
    assert.deepEqual(some.stderr.split('\n').slice(0, 4), [
      `brook produce: line 2: not JSON (Unexpected token 'o', "not json" is not valid JSON)`,
      'brook produce: line 3: not a JSON object ({"key": ..., "value": ..., "headers": {...}})',
      'brook produce: line 4: partition 5 does not exist (the topic has 1: 0 to 0)',
      'brook produce: line 5: header "a" must be a string or null, got 1',
    ]);
    assert.match(
      some.stderr,
      /\n1 record \(2 bytes\) produced to 'bad-json' in [\d.]+ s, 4 failed\n$/,
    );
    const none = await brook(['produce', 'bad-json', '-b', bootstrap, '--json'], {
      input: 'nope\n',
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /line 1: not JSON/);
  });

  it('stops on a line longer than a record can be, instead of gathering it', async () => {
    await createTopic('long-line');
    const input = Buffer.concat([Buffer.from('short\n'), Buffer.alloc(1536 * 1024, 'x')]);
    const run = await brook(['produce', 'long-line', '-b', bootstrap], { input });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot read stdin: a line is longer than 1048576 bytes/);
  });

  it('refuses wrong command lines with exit code 2', async () => {
    const runs = await Promise.all([
      brook(['produce', 'x', '--no-such-flag']),
      brook(['produce', 'x', '-z', 'brotli']),
      brook(['produce', 'x', '--acks', '2']),
      brook(['produce', 'x', '--json', '-K', ':']),
      brook(['produce', 'x', '-f', '/no/such/file', '-b', bootstrap]),
      brook(['consume', 'x', '-o', 'sideways']),
      brook(['consume', 'x', '-f', '%z']),
      brook(['consume', 'x', '--json', '-f', '%s']),
      brook(['consume', 'x', '-n', '0']),
      brook(['consume']),
    ]);
    for (const result of runs) {
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, '');
      assert.notEqual(result.stderr, '');
    }
    assert.match(runs[4]!.stderr, /cannot read --file \/no\/such\/file/);
    assert.match(runs[6]!.stderr, /unknown directive '%z'/);
  });

  it('says so when a partition does not exist', async () => {
    await createTopic('one-partition');
    const [produced, consumed] = await Promise.all([
      brook(['produce', 'one-partition', '-b', bootstrap, '-p', '3'], { input: 'x\n' }),
      brook(['consume', 'one-partition', '-b', bootstrap, '-p', '3']),
    ]);
    for (const result of [produced, consumed]) {
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /topic 'one-partition' has 1 partition \(0 to 0\); there is no partition 3/,
      );
    }
  });
});

describe('brook produce and consume against a cluster that says no', () => {
  it('name the topic that does not exist, with what to do', async (t) => {
    const { bootstrap } = await startBroker(t, { 'auto.create.topics.enable': 'false' });
    const [produced, consumed] = await Promise.all([
      brook(['produce', 'missing', '-b', bootstrap], { input: 'x\n' }),
      brook(['consume', 'missing', '-b', bootstrap, '-e']),
    ]);
    const wording =
      "topic 'missing' does not exist; create it with `brook topic create missing` or enable auto.create.topics.enable on the broker";
    assert.equal(produced.code, 1);
    assert.equal(produced.stderr, `brook produce: ${wording}\n`);
    assert.equal(consumed.code, 1);
    assert.equal(consumed.stderr, `brook consume: ${wording}\n`);
  });

  it('exit with 3 when no broker answers', async () => {
    const port = await closedPort();
    const bootstrap = `127.0.0.1:${port}`;
    const [produced, consumed] = await Promise.all([
      brook(['produce', 't', '-b', bootstrap, '--timeout', '1000'], { input: 'x\n' }),
      brook(['consume', 't', '-b', bootstrap, '--timeout', '1000', '-e']),
    ]);
    for (const result of [produced, consumed]) {
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, new RegExp(`cannot reach the broker at ${bootstrap}`));
    }
  });
});
