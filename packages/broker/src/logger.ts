/**
 * The broker's log: one structured format, a JSON object per line (time, level, msg, fields),
 * which both people (through `jq`) and log shippers read.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  options: {
    level?: LogLevel;
    write?: (line: string) => void;
    fields?: Record<string, unknown>;
  } = {},
): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.fields ?? {};
  return {
    log(level, msg, fields) {
      if (LEVELS[level] < threshold) return;
      const entry = { time: new Date().toISOString(), level, msg, ...base, ...fields };
      write(
        `${JSON.stringify(entry, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))}\n`,
      );
    },
    child(fields) {
      return createLogger({ ...options, fields: { ...base, ...fields } });
    },
  };
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = {
  log() {},
  child() {
    return silentLogger;
  },
};
