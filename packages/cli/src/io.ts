/**
 * Where a `brook` command reads and writes, and the exit codes. Kept apart from `common.ts` so
 * that `brook serve` loads neither the client nor anything else it does not use.
 */

/** Where a command reads and writes: `process` in real runs, streams in tests. */
export interface Io {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: commands that run until interrupted stop cleanly on it. */
  readonly interrupt: AbortSignal;
}

export function processIo(interrupt: AbortSignal): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    interrupt,
  };
}

/**
 * Exit codes. Scripts can tell a wrong command line from a cluster that said no, from a cluster
 * that could not be reached, from a run where only part of the work failed.
 */
export const ExitCode = {
  ok: 0,
  /** The cluster refused or the operation failed (a missing topic, a group with members, …). */
  failed: 1,
  /** The command line is wrong: unknown command or option, bad value, missing argument. */
  usage: 2,
  /** No broker answered within the timeout. */
  unreachable: 3,
  /** Some of the work failed (some records not delivered, some topics not created). */
  partial: 4,
} as const;

/**
 * What a command's action gets besides its arguments. An action ends normally for exit code 0,
 * sets `exitCode` for another code without a message, or throws an error with a numeric
 * `exitCode` (a `CommandError`) to have `brook <command>: <message>` printed on stderr.
 */
export interface Context {
  readonly io: Io;
  exitCode: number;
}
