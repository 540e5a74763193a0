/**
 * Runs librdkafka's regression tests (the suite build.sh builds) against Brook, one test per
 * runner process, each against a fresh broker with its own data directory, port and time limit,
 * and prints a table: test id, result, seconds, sub-tests passed, reason of a failure; then the
 * plain line `N passed, N failed`. Exits 0 only when every selected test passed. With `--jobs N`,
 * N tests run at once (each still with its own broker); rows are printed as tests end.
 *
 * A test id is a test number of the suite (`0012`): the runner (`TESTS=0012 test-runner -L`)
 * runs every test of that number that needs a broker, and none of those that run on the client's
 * built-in mock cluster (TEST_F_LOCAL: `*_local`, `*_mock`, ...). `0045@noautocreate` runs the
 * tests of that number that belong to the suite's `noautocreate` scenario, against a broker with
 * `auto.create.topics.enable=false`. The default scenario's broker has the settings the suite
 * assumes of its test cluster: auto topic creation on and `num.partitions=4`.
 *
 * The runner is told the broker is Kafka 3.1.0 (TEST_KAFKA_VERSION: the version the suite's own
 * CI used last; the suite gates tests and behaviours on it). The few tests that shell out to
 * Kafka's kafka-topics.sh get kafka-bin/bin/kafka-topics.sh (KAFKA_PATH), which does the same
 * through the admin API. A test the runner reports as skipped counts as not passing.
 *
 * Usage: npx node compat/librdkafka/run.ts [options] [ID...]
 *   --suite DIR       built librdkafka source tree (default: the one build.sh made under .work/)
 *   --list FILE       run the ids listed in FILE (one a line, `#` comments); without ids,
 *                     --list or --all: passing.txt
 *   --all             run every id of the 0000-0999 range that needs a broker
 *   --jobs N          tests run at once (default 1; the suite's tests mostly wait on timers)
 *   --timeout S       per-test time limit in seconds (default 180)
 *   --multiplier X    the suite's test.timeout.multiplier (default 2)
 *   --out DIR         where logs and results.tsv go (default .work/results/<date>)
 *   --quick           pass the runner -Q (quick mode skips most sub-tests: not for the list)
 *   --broker-log-level LEVEL  the broker's --log-level (default info)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  appendFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const CLI = join(REPO, 'packages/cli/src/main.js');
/** The Kafka version the runner is told the broker is (it gates tests by version). */
const KAFKA_VERSION = '3.1.0';
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes of the runner
const ANSI = /\x1b\[[0-9;]*m|\x1b\(B/g;

interface SuiteTest {
  name: string;
  number: string;
  local: boolean;
  manual: boolean;
  scenarios: string[];
}

interface Result {
  id: string;
  result: 'passed' | 'failed' | 'skipped';
  seconds: number;
  subtestsPassed: number;
  reason: string;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    suite: { type: 'string' },
    list: { type: 'string' },
    all: { type: 'boolean', default: false },
    jobs: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '180' },
    multiplier: { type: 'string', default: '2' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'broker-log-level': { type: 'string', default: 'info' },
  },
});

const suite = resolve(values.suite ?? findSuite());
const testsDir = join(suite, 'tests');
const timeoutSeconds = Number(values.timeout);
const jobs = Number(values.jobs);
if (!(Number.isInteger(jobs) && jobs >= 1 && jobs <= 16)) {
  console.error(`--jobs must be 1..16, got ${values.jobs}`);
  process.exit(2);
}
const outDir = resolve(
  values.out ?? join(HERE, '.work/results', new Date().toISOString().replace(/[:.]/g, '-')),
);
mkdirSync(outDir, { recursive: true });

const suiteTests = parseSuiteTests(readFileSync(join(testsDir, 'test.c'), 'utf8'));
const ids = selectIds();
if (ids.length === 0) {
  console.error('no tests selected: give ids, --list FILE or --all');
  process.exit(2);
}

const stopping = { now: false };
/** Every broker and runner alive, of all the tests running at once. */
const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping.now = true;
    for (const child of children) child.kill('SIGKILL');
  });
}

console.log(`librdkafka suite: ${suite}`);
console.log(`logs: ${outDir}`);
console.log(`${ids.length} test(s), ${timeoutSeconds} s each at most, ${jobs} at a time\n`);
const header = `${'test'.padEnd(20)} ${'result'.padEnd(8)} ${'seconds'.padStart(7)} ${'sub'.padStart(4)}  reason`;
console.log(header);
console.log('-'.repeat(header.length + 20));
const resultsFile = join(outDir, 'results.tsv');
writeFileSync(resultsFile, 'id\tresult\tseconds\tsubtests_passed\treason\n');

const results: Result[] = [];
const queue = [...ids];
const suiteStarted = performance.now();
await Promise.all(Array.from({ length: Math.min(jobs, ids.length) }, () => runQueue()));

/** One of the `--jobs` workers: takes the next id until none is left. */
async function runQueue(): Promise<void> {
  for (let id = queue.shift(); id !== undefined && !stopping.now; id = queue.shift()) {
    report(await runOne(id));
  }
}

function report(result: Result): void {
  results.push(result);
  appendFileSync(
    resultsFile,
    `${result.id}\t${result.result}\t${result.seconds.toFixed(1)}\t${result.subtestsPassed}\t${result.reason}\n`,
  );
  console.log(
    `${result.id.padEnd(20)} ${result.result.padEnd(8)} ${result.seconds.toFixed(1).padStart(7)} ${String(result.subtestsPassed).padStart(4)}  ${result.reason}`,
  );
  // In CI the logs are gone with the machine: show the end of a failed test's output.
  const logPath = join(outDir, `${result.id}.log`);
  if (result.result === 'failed' && process.env.CI && existsSync(logPath)) {
    const log = readFileSync(logPath, 'utf8').replace(ANSI, '');
    const tail = log.split('\n').slice(-40).join('\n    ');
    console.log(`    --- end of ${result.id}.log ---\n    ${tail}\n    ---`);
  }
}

const passed = results.filter((r) => r.result === 'passed').length;
const failed = results.filter((r) => r.result === 'failed').length;
const skipped = results.filter((r) => r.result === 'skipped').length;
console.log('');
if (skipped > 0) console.log(`${skipped} skipped (counted as not passing)`);
console.log(`${passed} passed, ${failed} failed`);
console.log(`in ${((performance.now() - suiteStarted) / 1000).toFixed(0)} s`);
process.exitCode = passed === ids.length ? 0 : 1;

/** The tree build.sh left under .work/ (or BROOK_RDKAFKA_WORK). */
function findSuite(): string {
  const work = process.env.BROOK_RDKAFKA_WORK ?? join(HERE, '.work');
  let trees: string[] = [];
  try {
    trees = readdirSync(work).filter((name) => /^librdkafka-\d/.test(name));
  } catch {}
  const tree = trees.sort().at(-1);
  if (tree !== undefined) return join(work, tree);
  console.error(`no built suite under ${work}: run compat/librdkafka/build.sh first`);
  process.exit(2);
}

/** The suite's test table (tests/test.c `tests[]`): names, flags, scenarios. */
function parseSuiteTests(source: string): SuiteTest[] {
  const table = source.slice(source.indexOf('struct test tests[] = {'));
  const body = table.slice(0, table.indexOf('{NULL}'));
  const tests: SuiteTest[] = [];
  const pattern = /_TEST\((\d{4}_\w+),([\s\S]*?)\)(?=,\s*(?:#|\/\*|_TEST|\{NULL\}))/g;
  for (const match of body.matchAll(pattern)) {
    const name = match[1]!;
    const rest = match[2]!;
    const scenario = /\.scenario\s*=\s*"([^"]*)"/.exec(rest)?.[1] ?? 'default';
    tests.push({
      name,
      number: name.slice(0, 4),
      local: rest.includes('TEST_F_LOCAL'),
      manual: rest.includes('TEST_F_MANUAL'),
      scenarios: scenario.split(','),
    });
  }
  return tests;
}

/** Every id of the 0000-0999 range with a test that needs a broker, scenario by scenario. */
function allIds(): string[] {
  const ids = new Set<string>();
  for (const test of suiteTests) {
    if (test.local || test.manual || test.number >= '1000') continue;
    for (const scenario of test.scenarios) {
      if (scenario === 'default') ids.add(test.number);
      else if (scenario === 'noautocreate') ids.add(`${test.number}@noautocreate`);
    }
  }
  return [...ids].sort();
}

function selectIds(): string[] {
  if (values.all) return allIds();
  const ids = [...positionals];
  const list = values.list ?? (ids.length === 0 ? join(HERE, 'passing.txt') : undefined);
  if (list !== undefined) {
    for (const line of readFileSync(list, 'utf8').split('\n')) {
      const id = line.replace(/#.*/, '').trim();
      if (id !== '') ids.push(id);
    }
  }
  for (const id of ids) {
    if (!/^\d{4}(@noautocreate)?$/.test(id)) {
      console.error(`bad test id ${id}: NNNN or NNNN@noautocreate`);
      process.exit(2);
    }
  }
  return ids;
}

/**
 * Starts a broker on a port the system picks (no race between tests running at once); resolves
 * with it and that port once it prints that it listens.
 */
async function startBroker(
  dataDir: string,
  settings: Record<string, string>,
  logPath: string,
): Promise<{ broker: ChildProcess; port: number }> {
  const args = [CLI, 'serve', '--port', '0', '--data-dir', dataDir];
  args.push('--log-level', values['broker-log-level']);
  for (const [key, value] of Object.entries(settings)) args.push('--set', `${key}=${value}`);
  const broker = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(broker);
  broker.on('exit', () => children.delete(broker));
  const log = createWriteStream(logPath);
  broker.stdout.pipe(log);
  broker.stderr.pipe(log);
  let seen = '';
  const port = await new Promise<number>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      broker.kill('SIGKILL');
      reject(new Error('broker did not start within 30 s'));
    }, 30_000);
    broker.stdout.on('data', (chunk: Buffer) => {
      if (seen.length < 10_000) seen += chunk.toString('utf8');
      const listening = /Brook is listening on [^\s]*:(\d+) /.exec(seen);
      if (listening !== null) {
        clearTimeout(timer);
        resolveReady(Number(listening[1]));
      }
    });
    broker.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening`));
    });
  });
  return { broker, port };
}

async function stopBroker(broker: ChildProcess): Promise<void> {
  if (broker.exitCode !== null || broker.signalCode !== null) return;
  const exited = once(broker, 'exit');
  broker.kill('SIGTERM');
  const timer = setTimeout(() => broker.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function brokerSettings(scenario: string): Record<string, string> {
  return {
    'auto.create.topics.enable': scenario === 'noautocreate' ? 'false' : 'true',
    'num.partitions': '4',
  };
}

async function runOne(id: string): Promise<Result> {
  const [number, scenario = 'default'] = id.split('@') as [string, string?];
  const logBase = join(outDir, id);
  const dataDir = join(outDir, `${id}.data`);
  rmSync(dataDir, { recursive: true, force: true });
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let broker: ChildProcess;
  let port: number;
  try {
    ({ broker, port } = await startBroker(
      dataDir,
      brokerSettings(scenario),
      `${logBase}.broker.log`,
    ));
  } catch (error) {
    return { id, result: 'failed', seconds: seconds(), subtestsPassed: 0, reason: String(error) };
  }
  const confPath = `${logBase}.test.conf`;
  writeFileSync(
    confPath,
    [
      `bootstrap.servers=127.0.0.1:${port}`,
      `test.timeout.multiplier=${values.multiplier}`,
      '',
    ].join('\n'),
  );
  const args = ['-L'];
  if (values.quick) args.push('-Q');
  const runner = spawn(join(testsDir, 'test-runner'), args, {
    cwd: testsDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TESTS: number,
      TEST_SCENARIO: scenario,
      TEST_KAFKA_VERSION: KAFKA_VERSION,
      // The suite's CI mode, here as in CI: more forgiving timing checks (0053), and the
      // latency measurements of 0055 skipped.
      CI: 'true',
      BROKERS: `127.0.0.1:${port}`,
      // kafka-topics.sh for the tests that shell out to it (kafka-bin/bin/kafka-topics.sh).
      KAFKA_PATH: join(HERE, 'kafka-bin'),
      BROOK_NODE: process.execPath,
      RDKAFKA_TEST_CONF: confPath,
      LD_LIBRARY_PATH: [join(suite, 'src'), join(suite, 'src-cpp'), process.env.LD_LIBRARY_PATH]
        .filter((part) => part !== undefined && part !== '')
        .join(':'),
    },
  });
  children.add(runner);
  runner.on('exit', () => children.delete(runner));
  const chunks: Buffer[] = [];
  const log = createWriteStream(`${logBase}.log`);
  for (const stream of [runner.stdout, runner.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      log.write(chunk);
    });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    runner.kill('SIGKILL');
  }, timeoutSeconds * 1000);
  const [code, signal] = (await once(runner, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  log.end();
  const brokerDied = broker.exitCode !== null || broker.signalCode !== null;
  await stopBroker(broker);
  const elapsed = seconds();
  const output = Buffer.concat(chunks).toString('utf8').replace(ANSI, '');
  const verdict = judge(output, number, code, signal, timedOut);
  if (brokerDied) {
    verdict.result = 'failed';
    verdict.reason = `broker exited during the test; ${verdict.reason}`;
  }
  if (verdict.result !== 'failed') rmSync(dataDir, { recursive: true, force: true });
  return { id, seconds: elapsed, ...verdict };
}

/** The runner's verdict from its summary table, exit status and failure messages. */
function judge(
  output: string,
  number: string,
  code: number | null,
  signal: NodeJS.Signals | null,
  timedOut: boolean,
): Omit<Result, 'id' | 'seconds'> {
  const subtestsPassed = [...output.matchAll(/^\[[^\]]*\] \[ .*: PASS( \([\d.]+s\))? \]$/gm)]
    .length;
  const rows = new Map<string, { state: string; reason: string }>();
  for (const match of output.matchAll(
    /^\|\s*(\d{4}_\w+)\s*\|\s*(\w+)\s*\|\s*[\d.]+s\s*\|\s*(.*)$/gm,
  )) {
    if (match[1]!.startsWith(number))
      rows.set(match[1]!, { state: match[2]!, reason: match[3]!.trim() });
  }
  const failures = [
    ...output.matchAll(/### Test "([^"]*)" failed at ([^\n]*?): ###\n([^\n]*)/g),
  ].map((match) => `${match[1]}: ${match[3]!.trim()} (${match[2]!.replace(/ at \d{4}-.*$/, '')})`);
  const firstFailure = failures[0] ?? '';
  if (timedOut) {
    return {
      result: 'failed',
      subtestsPassed,
      reason: `killed at the ${timeoutSeconds} s limit${firstFailure ? `; ${firstFailure}` : unfinishedSubtests(output)}`,
    };
  }
  const states = [...rows.values()];
  const failedRows = [...rows.entries()].filter(
    ([, row]) => row.state === 'FAILED' || row.state === 'RUNNING',
  );
  if (failedRows.length > 0 || code !== 0 || signal !== null) {
    const rowReason = failedRows.map(([name, row]) => `${name}: ${row.reason}`).join('; ');
    const exit = signal !== null ? `runner killed by ${signal}` : `runner exit ${code}`;
    return { result: 'failed', subtestsPassed, reason: firstFailure || rowReason || exit };
  }
  if (states.some((row) => row.state === 'PASSED'))
    return { result: 'passed', subtestsPassed, reason: '' };
  const skipReason = [...rows.entries()].map(([name, row]) => `${name}: ${row.reason}`).join('; ');
  return { result: 'skipped', subtestsPassed, reason: skipReason || 'no test of this number ran' };
}

function unfinishedSubtests(output: string): string {
  const lines = [...output.matchAll(/^\[[^\]]*\] \[ ([^\n]*?) \]$/gm)].map((match) => match[1]!);
  const finished = new Set(
    lines.flatMap((line) => {
      const done = /^(.*): (?:PASS|SKIP)\b/.exec(line);
      return done === null ? [] : [done[1]];
    }),
  );
  const unfinished = lines.filter((line) => !/: (PASS|SKIP)\b/.test(line) && !finished.has(line));
  return unfinished.length === 0 ? '' : `; unfinished sub-test ${unfinished.join(', ')}`;
}
