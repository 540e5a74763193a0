/**
 * `brook serve`: a single-node broker with the embedded default (no external service).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  Broker,
  BrokerConfigError,
  createLogger,
  parseBrokerConfig,
  parseProperties,
} from '@brook/broker';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Register } from '../cli.ts';
import { type Context, ExitCode } from '../io.ts';

interface ServeOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  config?: string;
  set?: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export const register: Register = (program: Command, context: Context) => {
  program
    .command('serve')
    .description('Start a Brook broker (one node, nothing external). Stops on SIGINT or SIGTERM.')
    .option('--port <n>', 'port to listen on (default 9092)', (value: string) => {
      const port = Number(value);
      if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
        throw new InvalidArgumentError(`--port must be 0..65535, got '${value}'`);
      }
      return port;
    })
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--data-dir <dir>', 'where data lives (default ./brook-data)')
    .option('--config <file>', 'a Kafka-style .properties file')
    .option(
      '--set <key=value>',
      'a Kafka property (repeatable), e.g. --set num.partitions=6',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addOption(
      new Option('--log-level <level>', 'log detail')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .addHelpText(
      'after',
      `
Examples:
  brook serve                                   a broker on 127.0.0.1:9092, data in ./brook-data
  brook serve --port 19092 --data-dir /var/lib/brook --set num.partitions=6
  brook serve --config server.properties        Kafka's property names (log.segment.bytes, ...)`,
    )
    .action(async (options: ServeOptions) => {
      context.exitCode = await serve(options, context);
    });
};

async function serve(options: ServeOptions, { io }: Context): Promise<number> {
  const properties: Record<string, string> = {};
  let config: ReturnType<typeof parseBrokerConfig>;
  try {
    if (options.config !== undefined) {
      Object.assign(properties, parseProperties(readFileSync(options.config, 'utf8')));
    }
    for (const setting of options.set ?? []) {
      const at = setting.indexOf('=');
      if (at <= 0) throw new BrokerConfigError(`--set expects key=value, got '${setting}'`);
      properties[setting.slice(0, at).trim()] = setting.slice(at + 1).trim();
    }
    config = parseBrokerConfig(properties, {
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.dataDir !== undefined ? { dataDirectory: options.dataDir } : {}),
    });
  } catch (error) {
    io.stderr.write(`brook serve: ${(error as Error).message}\n`);
    return ExitCode.usage;
  }
  const logger = createLogger({ level: options.logLevel });
  const broker = await Broker.start({
    config: { ...config, dataDirectory: resolve(config.dataDirectory) },
    logger,
  });
  io.stdout.write(
    `Brook is listening on ${broker.config.host}:${broker.port} (clients connect to ${broker.config.advertisedHost}:${broker.config.advertisedPort}); data in ${broker.config.dataDirectory}\n`,
  );
  if (!io.interrupt.aborted) {
    await new Promise<void>((done) =>
      io.interrupt.addEventListener('abort', () => done(), { once: true }),
    );
  }
  logger.log('info', 'signal received', { signal: 'interrupt' });
  try {
    await broker.stop();
    return ExitCode.ok;
  } catch (error) {
    logger.log('error', 'shutdown failed', { error: String(error) });
    return ExitCode.failed;
  }
}
