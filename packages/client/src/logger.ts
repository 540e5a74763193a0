/**
 * The client's logging seam: an injected logger with levels and fields (franz-go's shape). The
 * default drops everything; `consoleLogger` writes one JSON object per line to stderr.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ClientLogger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: ClientLogger = { log() {} };

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function consoleLogger(level: LogLevel = 'info'): ClientLogger {
  return {
    log(at, msg, fields) {
      if (LEVELS[at] < LEVELS[level]) return;
      const entry = { time: new Date().toISOString(), level: at, msg, ...fields };
      process.stderr.write(
        `${JSON.stringify(entry, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))}\n`,
      );
    },
  };
}
