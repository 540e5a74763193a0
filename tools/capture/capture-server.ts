/**
 * The capture server on its own: a fake broker on 127.0.0.1 that records every request frame
 * to `<out>/<client>/<NN-api-name>-v<version>-<seq>.bin`, until its time limit or a signal.
 *
 *   npx node tools/capture/capture-server.ts --client kcat [--out DIR] [--port N]
 *       [--partitions N] [--time-limit SECONDS] [--port-file PATH]
 *
 * It prints `listening 127.0.0.1:<port>` once it accepts connections (and writes the port to
 * `--port-file` if given), then one line per request on stderr.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeBroker } from './fake-broker.ts';

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    out: { type: 'string', default: 'capture-out' },
    port: { type: 'string', default: '0' },
    partitions: { type: 'string', default: '1' },
    'time-limit': { type: 'string', default: '120' },
    'port-file': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.client === undefined || !/^[a-z0-9][a-z0-9-]*$/.test(values.client)) {
  console.error('usage: capture-server.ts --client NAME (lower-case letters, digits, dashes) ...');
  process.exit(2);
}

const timeLimitSeconds = Number(values['time-limit']);
const broker = await startFakeBroker({
  outDir: join(values.out, values.client),
  port: Number(values.port),
  partitions: Number(values.partitions),
  log: values.quiet ? () => {} : (line) => console.error(`[capture ${values.client}] ${line}`),
});

console.log(`listening ${broker.host}:${broker.port}`);
if (values['port-file'] !== undefined) {
  const temporary = `${values['port-file']}.tmp`;
  writeFileSync(temporary, `${broker.port}\n`);
  renameSync(temporary, values['port-file']);
}

let stopping = false;
async function stop(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  await broker.close();
  console.error(`[capture ${values.client}] stopped (${reason}): ${broker.requestCount} requests`);
  process.exit(0);
}

const timer = setTimeout(() => void stop('time limit'), timeLimitSeconds * 1000);
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
