/**
 * `brook groups`: consumer groups through the client's Admin, as Kafka's `kafka-consumer-groups`
 * does it: list them, describe one (committed offsets, log end offsets, lag and the member owning
 * each partition, or the members), delete them, and reset a group's offsets (a dry run unless
 * `--execute`). Text columns by default, `--output json` for scripts. Exit codes: 0 done, 1 the
 * operation failed (a one-line message on stderr), 2 the command line is wrong.
 */
import { parseArgs } from 'node:util';
import {
  Admin,
  type GroupDescription,
  type GroupMember,
  KafkaProtocolError,
  type ResetTarget,
  RetriesExhaustedError,
  type TopicSelection,
} from '@brook/client';

export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

const DEFAULT_BOOTSTRAP = '127.0.0.1:9092';
const DEFAULT_TIMEOUT_MS = 5000;

const COMMON_HELP = `  --bootstrap-server H:P  the broker to ask (default ${DEFAULT_BOOTSTRAP})
  --output text|json      columns (default) or JSON
  --timeout MS            give up after this long, retries included (default ${DEFAULT_TIMEOUT_MS})`;

const HELP = `Usage: brook groups <command> [options]

Commands:
  list                      the groups, with their state and protocol type
  describe <group>          offsets, log end offsets and lag per partition, with their owners
  delete <group>...         delete inactive groups and their offsets
  reset-offsets <group>     move a group's committed offsets (a dry run unless --execute)

Options:
${COMMON_HELP}

brook groups <command> --help tells more.
`;

const COMMAND_HELP: Record<string, string> = {
  list: `Usage: brook groups list [options]

Lists the consumer groups with their state and protocol type. Options:
  --state S1,S2           only groups in these states (Stable, Empty, PreparingRebalance,
                          CompletingRebalance, Dead)
${COMMON_HELP}
`,
  describe: `Usage: brook groups describe <group> [options]

Shows the group's state and, per partition, the committed offset, the log end offset, the lag
and the member that owns the partition (when the group is active). Options:
  --members               list the members instead (id, host, client id, partitions)
${COMMON_HELP}
`,
  delete: `Usage: brook groups delete <group>... [options]

Deletes groups with their committed offsets; a group with members cannot be deleted. Options:
${COMMON_HELP}
`,
  'reset-offsets': `Usage: brook groups reset-offsets <group> (--topic T[:P,...]... | --all-topics) <target> [--execute]

Moves the group's committed offsets; the group must have no members. Prints the new offsets and,
without --execute, changes nothing (a dry run). Targets (exactly one):
  --to-earliest           the log start
  --to-latest             the log end
  --to-offset N           offset N (brought within the log start and end)
  --to-datetime ISO       the first record at or after the time (e.g. 2026-11-22T10:00:00Z)
Options:
  --topic T[:P,...]       a topic, or some of its partitions (repeatable)
  --all-topics            every partition the group has committed
  --execute               commit the new offsets
  --dry-run               only show them (the default)
${COMMON_HELP}
`,
};

/** A failure to report as `brook groups <command>: message` with the exit code. */
class CommandError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  output: { type: 'string' },
  timeout: { type: 'string' },
  state: { type: 'string' },
  members: { type: 'boolean' },
  topic: { type: 'string', multiple: true },
  'all-topics': { type: 'boolean' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  'to-offset': { type: 'string' },
  'to-datetime': { type: 'string' },
  execute: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Which options each command takes (the common ones and --help go with every command). */
const ALLOWED: Record<string, readonly string[]> = {
  list: ['state'],
  describe: ['members'],
  delete: [],
  'reset-offsets': [
    'topic',
    'all-topics',
    'to-earliest',
    'to-latest',
    'to-offset',
    'to-datetime',
    'execute',
    'dry-run',
  ],
};
const COMMON = ['bootstrap-server', 'output', 'timeout', 'help'];

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
}

interface Settings {
  readonly bootstrap: string;
  readonly json: boolean;
  readonly timeoutMs: number;
}

export async function groups(argv: string[], out: Output = processOutput): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') {
    (command === undefined ? out.stderr : out.stdout)(HELP);
    return command === undefined ? 2 : 0;
  }
  const help = COMMAND_HELP[command];
  if (help === undefined) {
    out.stderr(`brook groups: unknown command '${command}'\n\n${HELP}`);
    return 2;
  }
  const prefix = `brook groups ${command}`;
  let values: Values;
  let positionals: string[];
  let settings: Settings;
  try {
    ({ values, positionals } = parse(rest));
    for (const name of Object.keys(values)) {
      if (!COMMON.includes(name) && !ALLOWED[command]!.includes(name)) {
        throw new Error(`option --${name} does not apply to ${command}`);
      }
    }
    settings = commonSettings(values);
  } catch (error) {
    out.stderr(`${prefix}: ${(error as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    out.stdout(help);
    return 0;
  }
  const admin = new Admin({
    bootstrapServers: [settings.bootstrap],
    clientId: 'brook-cli',
    connectTimeoutMs: settings.timeoutMs,
    requestTimeoutMs: settings.timeoutMs,
    defaultApiTimeoutMs: settings.timeoutMs,
  });
  try {
    switch (command) {
      case 'list':
        await list(admin, values, positionals, settings, out);
        break;
      case 'describe':
        await describe(admin, values, positionals, settings, out);
        break;
      case 'delete':
        await remove(admin, positionals, settings, out);
        break;
      default:
        await resetOffsets(admin, values, positionals, settings, out);
    }
    return 0;
  } catch (error) {
    const code = error instanceof CommandError ? error.exitCode : 1;
    out.stderr(`${prefix}: ${explain(error, settings)}\n${code === 2 ? `\n${help}` : ''}`);
    return code;
  } finally {
    await admin.close().catch(() => {});
  }
}

function commonSettings(values: Values): Settings {
  const bootstrap = values['bootstrap-server'] ?? DEFAULT_BOOTSTRAP;
  if (!/^[^\s:]+:\d+$|^\[[^\]]+\]:\d+$/.test(bootstrap)) {
    throw new Error(`--bootstrap-server expects host:port, got '${bootstrap}'`);
  }
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') {
    throw new Error(`--output must be text or json, got '${output}'`);
  }
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`--timeout expects a positive number of milliseconds, got '${values.timeout}'`);
  }
  return { bootstrap, json: output === 'json', timeoutMs };
}

/** One line that says what went wrong. */
function explain(error: unknown, settings: Settings): string {
  if (error instanceof CommandError) return error.message;
  if (error instanceof RetriesExhaustedError) {
    const cause = error.cause instanceof Error ? error.cause.message : error.message;
    return `cannot reach the broker at ${settings.bootstrap} within ${settings.timeoutMs} ms (${cause})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!;
}

/** An item's Kafka error about a group, in words (missing, busy, invalid). */
function groupError(groupId: string, error: KafkaProtocolError): CommandError {
  switch (error.errorName) {
    case 'GROUP_ID_NOT_FOUND':
      return new CommandError(`group '${groupId}' does not exist`);
    case 'NON_EMPTY_GROUP':
      return new CommandError(`group '${groupId}' is not empty: it has active members`);
    case 'INVALID_GROUP_ID':
      return new CommandError(`'${groupId}' is not a valid group id`);
    default:
      return new CommandError(`group '${groupId}': ${error.message}`);
  }
}

function oneGroup(positionals: readonly string[]): string {
  if (positionals.length === 0) throw new CommandError('a group is required', 2);
  if (positionals.length > 1) {
    throw new CommandError(`one group only, got ${positionals.join(' ')}`, 2);
  }
  return positionals[0]!;
}

// ---- list ------------------------------------------------------------------------------------

const STATES = ['Stable', 'Empty', 'PreparingRebalance', 'CompletingRebalance', 'Dead'];

async function list(
  admin: Admin,
  values: Values,
  positionals: readonly string[],
  settings: Settings,
  out: Output,
): Promise<void> {
  if (positionals.length > 0) {
    throw new CommandError(`unexpected argument '${positionals[0]}'`, 2);
  }
  const states =
    values.state === undefined
      ? undefined
      : values.state
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
          .map((s) => {
            const known = STATES.find((k) => k.toLowerCase() === s.toLowerCase());
            if (known === undefined) {
              throw new CommandError(`unknown state '${s}' (one of ${STATES.join(', ')})`, 2);
            }
            return known;
          });
  const listed = await admin.listGroups(states === undefined ? {} : { states });
  const shown =
    states === undefined
      ? listed
      : listed.filter((g) => g.state === null || states.includes(g.state));
  if (settings.json) {
    out.stdout(
      `${JSON.stringify(
        shown.map((g) => ({
          group: g.groupId,
          state: g.state,
          protocolType: g.protocolType,
          coordinator: g.coordinator,
        })),
      )}\n`,
    );
    return;
  }
  out.stdout(
    table(
      ['GROUP', 'STATE', 'PROTOCOL-TYPE', 'COORDINATOR'],
      shown.map((g) => [g.groupId, g.state ?? '-', g.protocolType || '-', String(g.coordinator)]),
    ),
  );
}

// ---- describe --------------------------------------------------------------------------------

interface PartitionRow {
  topic: string;
  partition: number;
  currentOffset: bigint | null;
  logEndOffset: bigint | null;
  lag: bigint | null;
  member: GroupMember | null;
}

async function describe(
  admin: Admin,
  values: Values,
  positionals: readonly string[],
  settings: Settings,
  out: Output,
): Promise<void> {
  const groupId = oneGroup(positionals);
  const [description] = await admin.describeGroups([groupId]);
  if (description === undefined) throw new CommandError(`no answer for group '${groupId}'`);
  if (description.error !== null) throw groupError(groupId, description.error);
  const [offsets] = await admin.listGroupOffsets([groupId]);
  if (offsets?.error) throw groupError(groupId, offsets.error);

  const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  const owners = new Map<string, GroupMember>();
  for (const member of description.members) {
    for (const assigned of member.assignment ?? []) {
      for (const partition of assigned.partitions) {
        owners.set(key(assigned.topic, partition), member);
      }
    }
  }
  const rows = new Map<string, PartitionRow>();
  for (const p of offsets?.partitions ?? []) {
    rows.set(key(p.topic, p.partition), {
      topic: p.topic,
      partition: p.partition,
      currentOffset: p.committedOffset >= 0n ? p.committedOffset : null,
      logEndOffset: p.logEndOffset,
      lag: p.lag,
      member: owners.get(key(p.topic, p.partition)) ?? null,
    });
  }
  // Partitions assigned but never committed: their log end, no lag (as the Kafka tool shows).
  const uncommitted = [...owners.keys()].filter((k) => !rows.has(k));
  if (uncommitted.length > 0) {
    const queries = uncommitted.map((k) => {
      const [topic, partition] = k.split('\u0000') as [string, string];
      return { topic, partition: Number(partition), spec: 'latest' as const };
    });
    const ends = await admin.listOffsets(queries);
    for (const end of ends) {
      const k = key(end.topic, end.partition);
      rows.set(k, {
        topic: end.topic,
        partition: end.partition,
        currentOffset: null,
        logEndOffset: end.error === null ? end.offset : null,
        lag: null,
        member: owners.get(k) ?? null,
      });
    }
  }
  const partitions = [...rows.values()].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
  const totalLag = partitions.reduce((sum, p) => sum + (p.lag ?? 0n), 0n);

  if (settings.json) {
    out.stdout(`${JSON.stringify(describeJson(description, partitions, totalLag))}\n`);
    return;
  }
  const count = description.members.length;
  const protocol = description.protocol ? `, assignor ${description.protocol}` : '';
  out.stdout(
    `Group '${groupId}' is ${description.state} with ${count} member${count === 1 ? '' : 's'} (coordinator ${description.coordinator}${protocol}).\n`,
  );
  if (values.members) {
    if (count === 0) return;
    out.stdout(
      `\n${table(
        ['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS', 'ASSIGNMENT'],
        description.members.map((m) => [
          groupId,
          m.memberId,
          m.clientHost,
          m.clientId,
          String(partitionCount(m)),
          assignmentText(m),
        ]),
      )}`,
    );
    return;
  }
  if (partitions.length === 0) {
    out.stdout('It has no committed offsets and no assigned partitions.\n');
    return;
  }
  out.stdout(
    `\n${table(
      [
        'GROUP',
        'TOPIC',
        'PARTITION',
        'CURRENT-OFFSET',
        'LOG-END-OFFSET',
        'LAG',
        'CONSUMER-ID',
        'HOST',
        'CLIENT-ID',
      ],
      partitions.map((p) => [
        groupId,
        p.topic,
        String(p.partition),
        text(p.currentOffset),
        text(p.logEndOffset),
        text(p.lag),
        p.member?.memberId ?? '-',
        p.member?.clientHost ?? '-',
        p.member?.clientId ?? '-',
      ]),
    )}`,
  );
}

function partitionCount(member: GroupMember): number {
  return (member.assignment ?? []).reduce((sum, a) => sum + a.partitions.length, 0);
}

function assignmentText(member: GroupMember): string {
  const parts = (member.assignment ?? [])
    .filter((a) => a.partitions.length > 0)
    .map((a) => `${a.topic}(${[...a.partitions].sort((x, y) => x - y).join(',')})`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

function describeJson(
  description: GroupDescription,
  partitions: readonly PartitionRow[],
  totalLag: bigint,
) {
  return {
    group: description.groupId,
    state: description.state,
    protocolType: description.protocolType,
    protocol: description.protocol,
    coordinator: description.coordinator,
    members: description.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      host: m.clientHost,
      assignment: (m.assignment ?? []).map((a) => ({
        topic: a.topic,
        partitions: [...a.partitions],
      })),
    })),
    partitions: partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      currentOffset: jsonNumber(p.currentOffset),
      logEndOffset: jsonNumber(p.logEndOffset),
      lag: jsonNumber(p.lag),
      memberId: p.member?.memberId ?? null,
      clientId: p.member?.clientId ?? null,
      host: p.member?.clientHost ?? null,
    })),
    totalLag: jsonNumber(totalLag),
  };
}

// ---- delete ----------------------------------------------------------------------------------

async function remove(
  admin: Admin,
  positionals: readonly string[],
  settings: Settings,
  out: Output,
): Promise<void> {
  if (positionals.length === 0) throw new CommandError('a group is required', 2);
  const results = await admin.deleteGroups(positionals);
  const failures = results.filter((r) => r.error !== null);
  if (settings.json) {
    out.stdout(
      `${JSON.stringify(
        results.map((r) => ({
          group: r.groupId,
          deleted: r.error === null,
          error: r.error === null ? null : groupError(r.groupId, r.error).message,
        })),
      )}\n`,
    );
  } else {
    for (const r of results) {
      if (r.error === null) out.stdout(`Deleted group '${r.groupId}'.\n`);
    }
  }
  if (failures.length === 1) throw groupError(failures[0]!.groupId, failures[0]!.error!);
  if (failures.length > 1) {
    throw new CommandError(failures.map((f) => groupError(f.groupId, f.error!).message).join('; '));
  }
}

// ---- reset-offsets ---------------------------------------------------------------------------

function resetTarget(values: Values): ResetTarget {
  const given = (['to-earliest', 'to-latest', 'to-offset', 'to-datetime'] as const).filter(
    (name) => values[name] !== undefined && values[name] !== false,
  );
  if (given.length !== 1) {
    throw new CommandError(
      given.length === 0
        ? 'a target is required: --to-earliest, --to-latest, --to-offset N or --to-datetime ISO'
        : `one target only, got ${given.map((g) => `--${g}`).join(' ')}`,
      2,
    );
  }
  if (values['to-earliest']) return 'earliest';
  if (values['to-latest']) return 'latest';
  const offset = values['to-offset'];
  if (offset !== undefined) {
    if (!/^\d+$/.test(offset)) {
      throw new CommandError(`--to-offset expects an offset (0 or more), got '${offset}'`, 2);
    }
    return { offset: BigInt(offset) };
  }
  const datetime = values['to-datetime']!;
  const timestamp = Date.parse(datetime);
  if (Number.isNaN(timestamp)) {
    throw new CommandError(
      `--to-datetime expects a date and time such as 2026-11-22T10:00:00Z, got '${datetime}'`,
      2,
    );
  }
  return { timestamp };
}

function topicSelections(values: Values): TopicSelection[] | undefined {
  if (values['all-topics']) {
    if (values.topic !== undefined) {
      throw new CommandError('--topic and --all-topics exclude each other', 2);
    }
    return undefined;
  }
  if (values.topic === undefined) {
    throw new CommandError('--topic T (or --all-topics) is required', 2);
  }
  return values.topic.map((spec): TopicSelection => {
    const at = spec.lastIndexOf(':');
    if (at < 0) return { topic: spec };
    const topic = spec.slice(0, at);
    const partitions = spec
      .slice(at + 1)
      .split(',')
      .map((p) => {
        if (!/^\d+$/.test(p.trim())) {
          throw new CommandError(`--topic expects T or T:P,P,..., got '${spec}'`, 2);
        }
        return Number(p.trim());
      });
    if (topic === '') throw new CommandError(`--topic expects T or T:P,P,..., got '${spec}'`, 2);
    return { topic, partitions };
  });
}

async function resetOffsets(
  admin: Admin,
  values: Values,
  positionals: readonly string[],
  settings: Settings,
  out: Output,
): Promise<void> {
  const groupId = oneGroup(positionals);
  if (values.execute && values['dry-run']) {
    throw new CommandError('--execute and --dry-run exclude each other', 2);
  }
  const to = resetTarget(values);
  const topics = topicSelections(values);
  const execute = values.execute === true;
  let results: Awaited<ReturnType<Admin['resetGroupOffsets']>>;
  try {
    results = await admin.resetGroupOffsets(groupId, {
      to,
      dryRun: !execute,
      ...(topics === undefined ? {} : { topics }),
    });
  } catch (error) {
    if (error instanceof KafkaProtocolError && error.errorName === 'NON_EMPTY_GROUP') {
      const state = /state is (\w+)/.exec(error.message)?.[1];
      throw new CommandError(
        `offsets of group '${groupId}' can be reset only when it has no members${state ? `, but its state is ${state}` : ''}`,
      );
    }
    if (error instanceof KafkaProtocolError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') {
      throw new CommandError(error.message.replace(/^UNKNOWN_TOPIC_OR_PARTITION \(\d+\): /, ''));
    }
    throw error;
  }
  const failures = results.filter((r) => r.error !== null);
  if (settings.json) {
    out.stdout(
      `${JSON.stringify({
        group: groupId,
        executed: execute,
        partitions: results.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          newOffset: r.error === null ? jsonNumber(r.offset) : null,
          error: r.error === null ? null : r.error.message,
        })),
      })}\n`,
    );
  } else if (results.length === 0) {
    out.stdout(`Group '${groupId}' has no committed offsets to reset.\n`);
  } else {
    out.stdout(
      table(
        ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'],
        results.map((r) => [
          groupId,
          r.topic,
          String(r.partition),
          r.error === null ? String(r.offset) : `- (${r.error.errorName})`,
        ]),
      ),
    );
    if (!execute) out.stdout('\nDry run: nothing was changed; --execute commits these offsets.\n');
  }
  if (failures.length > 0) {
    const first = failures[0]!;
    throw new CommandError(
      `${failures.length} partition${failures.length === 1 ? '' : 's'} could not be reset (${first.topic}-${first.partition}: ${first.error!.message})`,
    );
  }
}

// ---- output ----------------------------------------------------------------------------------

function text(value: bigint | null): string {
  return value === null ? '-' : String(value);
}

/** A number in JSON when it is exact, a string beyond 2^53. */
function jsonNumber(value: bigint | null): number | string | null {
  if (value === null) return null;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : String(value);
}

/** Left-aligned columns, two spaces apart, a header line first. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}\n`;
  return [headers, ...rows].map(line).join('');
}

// Temporary bridge until `brook group` is on commander.
export const register: import('../cli.ts').Register = (program, context) => {
  program
    .command('group')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      context.exitCode = await groups(args, {
        stdout: (t) => context.io.stdout.write(t),
        stderr: (t) => context.io.stderr.write(t),
      });
    });
};
