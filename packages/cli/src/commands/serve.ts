/**
 * `brook serve`: a single-node broker with the embedded default (no external service).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Broker,
  BrokerConfigError,
  createLogger,
  parseBrokerConfig,
  parseProperties,
} from '@brook/broker';

const HELP = `Usage: brook serve [options]

Starts a Brook broker. Options:
  --port N            port to listen on (default 9092)
  --host H            address to listen on (default 127.0.0.1)
  --data-dir DIR      where data lives (default ./brook-data)
  --config FILE       a Kafka-style .properties file
  --set key=value     a Kafka property (repeatable), e.g. --set num.partitions=6
  --log-level LEVEL   debug, info, warn or error (default info)
`;

export async function serve(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`brook serve: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const properties: Record<string, string> = {};
  try {
    if (values.config !== undefined)
      Object.assign(properties, parseProperties(readFileSync(values.config, 'utf8')));
    for (const setting of values.set ?? []) {
      const at = setting.indexOf('=');
      if (at <= 0) throw new Error(`--set expects key=value, got '${setting}'`);
      properties[setting.slice(0, at).trim()] = setting.slice(at + 1).trim();
    }
  } catch (error) {
    process.stderr.write(`brook serve: ${(error as Error).message}\n`);
    return 2;
  }
  let config: ReturnType<typeof parseBrokerConfig>;
  try {
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw new BrokerConfigError(`--port must be 0..65535, got '${values.port}'`);
    }
    config = parseBrokerConfig(properties, {
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values['data-dir'] !== undefined ? { dataDirectory: values['data-dir'] } : {}),
    });
  } catch (error) {
    process.stderr.write(`brook serve: ${(error as Error).message}\n`);
    return 2;
  }
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    process.stderr.write(`brook serve: unknown --log-level ${level}\n`);
    return 2;
  }
  const logger = createLogger({ level: level as 'info' });
  const broker = await Broker.start({
    config: { ...config, dataDirectory: resolve(config.dataDirectory) },
    logger,
  });
  process.stdout.write(
    `Brook is listening on ${broker.config.host}:${broker.port} (clients connect to ${broker.config.advertisedHost}:${broker.config.advertisedPort}); data in ${broker.config.dataDirectory}\n`,
  );
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.log('info', 'signal received', { signal });
      broker.stop().then(
        () => done(0),
        (error: unknown) => {
          logger.log('error', 'shutdown failed', { error: String(error) });
          done(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
