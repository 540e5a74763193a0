/**
 * Regenerates every golden fixture: for each client, starts a fake broker (fake-broker.ts) on
 * 127.0.0.1, runs the client's driver against it, stops the broker, and writes the selected
 * request frames and a manifest to packages/protocol/test/golden/fixtures/<client>/.
 *
 *   npx node tools/capture/capture-all.ts [--only kcat,platformatic] [--python /usr/bin/python3]
 *       [--keep-raw] [--fixtures DIR]
 *
 * --only runs some clients (comma-separated) and rewrites only their fixtures; --fixtures writes
 * <DIR>/<client>/ instead of the committed fixtures (to try the drivers without touching them).
 *
 * Needs kcat, python3-kafka and python3-confluent-kafka (Debian packages), python3-snappy,
 * python3-lz4 and python3-zstandard for kafka-python's codecs, and kafkajs and
 * @platformatic/kafka (devDependencies). Not part of `npm test`: the fixtures are committed and
 * the tests only read them.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixtures } from './build-fixtures.ts';
import { runCommand } from './clients/run-command.ts';
import { startFakeBroker } from './fake-broker.ts';
import { CAPTURE_DIRECTORY } from './records.ts';

const FIXTURES_DIRECTORY = join(
  CAPTURE_DIRECTORY,
  '..',
  '..',
  'packages',
  'protocol',
  'test',
  'golden',
  'fixtures',
);
const DRIVER_TIMEOUT_MS = 120_000;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'keep-raw': { type: 'boolean', default: false },
    fixtures: { type: 'string', default: FIXTURES_DIRECTORY },
  },
  strict: true,
});

interface ClientDriver {
  name: string;
  command: string;
  args: string[];
}

const clients: ClientDriver[] = [
  {
    name: 'kcat',
    command: process.execPath,
    args: [join(CAPTURE_DIRECTORY, 'clients', 'kcat-client.ts')],
  },
  {
    name: 'kafka-python',
    command: values.python,
    args: [join(CAPTURE_DIRECTORY, 'clients', 'kafka-python-client.py')],
  },
  {
    name: 'confluent-kafka',
    command: values.python,
    args: [join(CAPTURE_DIRECTORY, 'clients', 'confluent-kafka-client.py')],
  },
  {
    name: 'kafkajs',
    command: process.execPath,
    args: [join(CAPTURE_DIRECTORY, 'clients', 'kafkajs-client.ts')],
  },
  {
    name: 'platformatic',
    command: process.execPath,
    args: [join(CAPTURE_DIRECTORY, 'clients', 'platformatic-client.ts')],
  },
];

const only = values.only?.split(',');
const selected = clients.filter((c) => only === undefined || only.includes(c.name));
if (selected.length === 0) {
  console.error(`no client matches --only ${values.only}; clients: ${clients.map((c) => c.name)}`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'brook-capture-'));
let failed = false;
for (const client of selected) {
  const rawDir = join(work, client.name);
  const logFile = join(work, `${client.name}.log`);
  const sentFile = join(work, `${client.name}-sent.json`);
  const broker = await startFakeBroker({
    outDir: rawDir,
    log: (line) => appendFileSync(logFile, `${line}\n`),
  });
  const bootstrap = `${broker.host}:${broker.port}`;
  console.log(`${client.name}: fake broker on ${bootstrap}`);
  const result = await runCommand(
    client.command,
    [...client.args, '--bootstrap', bootstrap, '--sent', sentFile],
    {
      timeoutMs: DRIVER_TIMEOUT_MS,
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    },
  );
  await broker.close();
  if (result.code !== 0) {
    failed = true;
    console.error(
      `${client.name}: driver failed (${result.code ?? result.signal}); broker log: ${logFile}\n${result.stderr}`,
    );
    continue;
  }
  const manifest = buildFixtures({
    client: client.name,
    rawDir,
    sentFile,
    fixturesDir: join(values.fixtures, client.name),
  });
  console.log(
    `${client.name}: ${broker.requestCount} requests captured, ${manifest.files.length} kept (${manifest.software})`,
  );
}

if (values['keep-raw'] || failed) console.log(`raw captures and logs: ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
