/**
 * The `brook` command (entered through main.js): one program built with commander, each command
 * in its own file under `src/commands/`. Only the command being run is loaded (its module
 * registers its options, subcommands and action), so `brook serve` never loads the client; the
 * others appear in `brook --help` through their one-line descriptions below.
 *
 * Exit codes are in `io.ts`: 0 done, 1 failed, 2 wrong command line, 3 cluster unreachable,
 * 4 part of the work failed.
 */
import { styleText } from 'node:util';
import { Command, CommanderError } from 'commander';
import { type Context, ExitCode, type Io, processIo } from './io.ts';

/** What a command module exports: it adds its command (with subcommands) to the program. */
export type Register = (program: Command, context: Context) => void;

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ register: Register }>;
}

const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: 'start a broker',
    load: () => import('./commands/serve.ts'),
  },
  topic: {
    summary: 'create, list, describe, delete and change topics',
    load: () => import('./commands/topic.ts'),
  },
  produce: {
    summary: 'write records from stdin or a file to a topic',
    load: () => import('./commands/produce.ts'),
  },
  consume: {
    summary: 'read records from topics and print them',
    load: () => import('./commands/consume.ts'),
  },
  group: {
    summary: 'list, describe and delete consumer groups, and reset their offsets',
    load: () => import('./commands/group.ts'),
  },
  cluster: {
    summary: 'the cluster: brokers, controller, cluster id, API versions',
    load: () => import('./commands/cluster.ts'),
  },
  perf: {
    summary: 'measure produce and consume throughput and latency',
    load: () => import('./commands/perf.ts'),
  },
};

/** Other names people type for a command (Kafka's tools and rpk say "topics" and "groups"). */
const ALIASES: Record<string, string> = { topics: 'topic', groups: 'group' };

/**
 * Runs `brook` with the arguments after the program name and returns the exit code. Tests pass
 * their own `io`; a real run gets `process`'s streams, with SIGINT/SIGTERM aborting `interrupt`.
 */
export async function run(argv: readonly string[], io?: Io): Promise<number> {
  let stopSignals = () => {};
  if (io === undefined) {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    stopSignals = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    io = processIo(controller.signal);
  }
  try {
    return await runWith(argv, io);
  } finally {
    stopSignals();
  }
}

async function runWith(argv: readonly string[], io: Io): Promise<number> {
  const context: Context = { io, exitCode: ExitCode.ok };
  const program = new Command('brook')
    .description('Brook, a Kafka-compatible event streaming platform')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for the options)')
    .helpCommand(false)
    .addHelpText(
      'after',
      `
Every command takes --help. Commands that talk to a cluster take --bootstrap host:port
(default 127.0.0.1:9092, also BROOK_BOOTSTRAP).

Exit codes: 0 done, 1 failed, 2 wrong command line, 3 cluster unreachable, 4 partly failed.`,
    );

  // `brook help topic` is `brook topic --help`.
  const args = argv[0] === 'help' && argv.length > 1 ? [...argv.slice(1), '--help'] : [...argv];
  const first = args[0];
  const name = first === undefined ? undefined : (ALIASES[first] ?? first);
  if (name !== undefined && first !== undefined && name !== first) args[0] = name;

  for (const [commandName, entry] of Object.entries(COMMANDS)) {
    if (commandName === name) {
      const { register } = await entry.load();
      register(program, context);
    } else {
      program.command(commandName).description(entry.summary);
    }
  }

  // `brook help X` is handled above; commands with subcommands do not list a `help` of their own.
  const noHelpCommand = (command: Command): void => {
    for (const sub of command.commands) {
      if (sub.commands.length > 0) sub.helpCommand(false);
      noHelpCommand(sub);
    }
  };
  noHelpCommand(program);

  let commandPath = 'brook';
  program.hook('preAction', (_self, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c !== null; c = c.parent) names.unshift(c.name());
    commandPath = names.join(' ');
  });

  if (args.length === 0) {
    io.stderr.write(program.helpInformation());
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
        return ExitCode.ok;
      }
      return ExitCode.usage;
    }
    const exitCode =
      error instanceof Error && typeof (error as { exitCode?: unknown }).exitCode === 'number'
        ? (error as Error & { exitCode: number }).exitCode
        : ExitCode.failed;
    const message = error instanceof Error ? error.message : String(error);
    // The command in red on a terminal (styleText leaves pipes, NO_COLOR and TERM=dumb plain).
    const prefix = styleText('red', `${commandPath}:`, {
      validateStream: true,
      stream: io.stderr as NodeJS.WriteStream,
    });
    io.stderr.write(`${prefix} ${message}\n`);
    if (exitCode === ExitCode.usage) io.stderr.write(`(see ${commandPath} --help)\n`);
    return exitCode;
  }
}
