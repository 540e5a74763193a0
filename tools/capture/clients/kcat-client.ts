/**
 * Drives kcat (librdkafka) against the capture server: metadata (-L), produce with each codec
 * (-P), a simple consumer reading every topic back (-C), an offset query by timestamp (-Q) and
 * a balanced consumer group (-G). Writes what it sent to --sent.
 *
 *   node tools/capture/clients/kcat-client.ts --bootstrap 127.0.0.1:PORT --sent sent.json
 *
 * kcat reads messages as lines, so it sends the text records of records.json only: a line
 * `key<TAB>value`, where -Z turns an empty key or value into null. Its -H headers apply to every
 * message, and it cannot set timestamps (librdkafka stamps the send time).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  CODECS,
  type JsonBytes,
  type JsonHeader,
  type JsonRecord,
  loadRecords,
  type SentLog,
  topicFor,
} from '../records.ts';
import { mustRun } from './run-command.ts';

const { values } = parseArgs({
  options: {
    bootstrap: { type: 'string' },
    sent: { type: 'string' },
    records: { type: 'string' },
    kcat: { type: 'string', default: 'kcat' },
  },
  strict: true,
});
if (values.bootstrap === undefined || values.sent === undefined) {
  console.error('usage: kcat-client.ts --bootstrap HOST:PORT --sent FILE [--records FILE]');
  process.exit(2);
}
const bootstrap = values.bootstrap;
const kcat = values.kcat;
const timeoutMs = 30_000;
const common = ['-b', bootstrap, '-X', 'client.id=golden-kcat', '-m', '10'];

/** Text usable on a kcat input line: no delimiter, and not empty (-Z makes empty null). */
function lineText(bytes: JsonBytes): string | null | undefined {
  if (bytes === null) return null;
  if (!('text' in bytes)) return undefined;
  if (bytes.text === '' || /[\t\n]/.test(bytes.text)) return undefined;
  return bytes.text;
}

const headers: JsonHeader[] = [
  { key: 'trace-id', value: { text: '0001' } },
  { key: 'source', value: { text: 'kcat' } },
];
const lines: string[] = [];
const records: JsonRecord[] = [];
for (const record of loadRecords(values.records)) {
  const key = lineText(record.key);
  const value = lineText(record.value);
  if (key === undefined || value === undefined) continue;
  lines.push(`${key ?? ''}\t${value ?? ''}`);
  records.push({ key: record.key, value: record.value, headers, timestamp: null });
}

const versionText = await mustRun(kcat, ['-V'], { timeoutMs });
const kcatVersion = /Version (\S+)/.exec(versionText)?.[1] ?? 'unknown';
const librdkafkaVersion = /librdkafka (\S+)/.exec(versionText)?.[1] ?? 'unknown';
const sent: SentLog = {
  client: 'kcat',
  software: `kcat ${kcatVersion} (librdkafka ${librdkafkaVersion})`,
  notes: [
    'kcat sends one line per message: text keys and values only, -Z for nulls; its -H headers go on every message and it sets no timestamps.',
  ],
  produced: [],
};

// Metadata.
await mustRun(kcat, [...common, '-L'], { timeoutMs });

// Produce with each codec; a generous linger keeps all the lines in one batch.
for (const codec of CODECS) {
  const topic = topicFor(codec);
  const headerArgs = headers.flatMap((h) => ['-H', `${h.key}=${lineText(h.value) ?? ''}`]);
  await mustRun(
    kcat,
    [
      ...common,
      '-P',
      '-t',
      topic,
      '-p',
      '0',
      '-K',
      '\\t',
      '-Z',
      ...headerArgs,
      '-X',
      `compression.codec=${codec}`,
      '-X',
      'linger.ms=200',
    ],
    { timeoutMs, input: `${lines.join('\n')}\n` },
  );
  sent.produced.push({ topic, partition: 0, compression: codec, records });
}

// Simple consumer: each topic from the beginning to its end.
for (const codec of CODECS) {
  const out = await mustRun(
    kcat,
    [...common, '-C', '-t', topicFor(codec), '-p', '0', '-o', 'beginning', '-e', '-f', '%o\n'],
    { timeoutMs },
  );
  const count = out.split('\n').filter((line) => line !== '').length;
  if (count !== records.length) {
    throw new Error(
      `kcat read ${count} records back from ${topicFor(codec)}, not ${records.length}`,
    );
  }
}

// Offset by timestamp (ListOffsets with a timestamp).
await mustRun(kcat, [...common, '-Q', '-t', `${topicFor('none')}:0:1700000000000`], { timeoutMs });

// Balanced consumer group: join, sync, fetch committed offsets, consume, commit, leave.
const grouped = await mustRun(
  kcat,
  [
    ...common,
    '-G',
    'golden-group-kcat',
    '-X',
    'auto.offset.reset=earliest',
    '-X',
    'heartbeat.interval.ms=100',
    '-X',
    'session.timeout.ms=6000',
    '-X',
    'auto.commit.interval.ms=100',
    '-c',
    String(records.length),
    '-f',
    '%o\n',
    topicFor('none'),
  ],
  { timeoutMs },
);
if (grouped.split('\n').filter((line) => line !== '').length !== records.length) {
  throw new Error(`kcat -G read ${JSON.stringify(grouped)}`);
}

writeFileSync(values.sent, `${JSON.stringify(sent, null, 2)}\n`);
