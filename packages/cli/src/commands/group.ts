/**
 * `brook group` (also `brook groups`): consumer groups through the client's Admin, as Kafka's
 * `kafka-consumer-groups` does it: list them, describe one (committed offsets, log end offsets,
 * lag and the member owning each partition, or the members), delete them, and reset a group's
 * offsets (to the earliest, the latest, an offset, a time, or shifted; a dry run unless
 * `--execute`). Text tables by default, `--json` for scripts.
 */
import {
  type Admin,
  ClientError,
  type GroupDescription,
  type GroupMember,
  KafkaProtocolError,
  type ResetOffset,
  type ResetTarget,
  type TopicSelection,
} from '@brook/client';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  type ClusterOptionValues,
  CommandError,
  ExitCode,
  json,
  type Outcome,
  runAdminCommand,
  table,
  unknownTopicMessage,
  usageError,
} from '../common.ts';
import type { Context } from '../io.ts';

interface CommonOptions extends ClusterOptionValues {
  json?: boolean;
  /** The old `--output text|json`, kept hidden. */
  output?: 'text' | 'json';
}

interface ListOptions extends CommonOptions {
  state?: string[];
}

interface DescribeOptions extends CommonOptions {
  members?: boolean;
}

interface ResetOptions extends CommonOptions {
  topic?: TopicSelection[];
  allTopics?: boolean;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: bigint;
  toDatetime?: number;
  shiftBy?: bigint;
  execute?: boolean;
  dryRun?: boolean;
}

const STATES = ['Stable', 'Empty', 'PreparingRebalance', 'CompletingRebalance', 'Dead'];

export const register: Register = (program, context) => {
  const group = program
    .command('group')
    .description('list, describe and delete consumer groups, and reset their offsets')
    .addHelpText(
      'after',
      `
Examples:
  brook group list
  brook group describe billing                   offsets, log end offsets and lag per partition
  brook group describe billing --members         the members and their partitions
  brook group delete billing audit
  brook group reset-offsets billing --topic orders --to-earliest            a dry run
  brook group reset-offsets billing --topic orders --shift-by -100 --execute`,
    );

  withOutput(
    group
      .command('list')
      .description('the consumer groups, with their state, protocol type and coordinator')
      .option(
        '--state <states>',
        `only groups in these states, comma-separated (${STATES.join(', ')})`,
        parseStates,
      ),
  )
    .addHelpText(
      'after',
      `
Examples:
  brook group list
  brook group list --state Stable,Empty --json`,
    )
    .action((options: ListOptions) => run(context, options, (admin) => list(admin, options)));

  withOutput(
    group
      .command('describe')
      .description(
        "a group's state and, per partition, the committed offset, log end offset, lag and owner",
      )
      .argument('<group>', 'the group')
      .option('--members', 'list the members instead: id, host, client id, assignment'),
  )
    .addHelpText(
      'after',
      `
A partition assigned to a member that has committed nothing shows '-' as offset and lag.

Examples:
  brook group describe billing
  brook group describe billing --members
  brook group describe billing --json | jq .totalLag`,
    )
    .action((groupId: string, options: DescribeOptions) =>
      run(context, options, (admin) => describe(admin, groupId, options)),
    );

  withOutput(
    group
      .command('delete')
      .description('delete groups with their committed offsets (only groups without members)')
      .argument('<groups...>', 'the groups'),
  )
    .addHelpText(
      'after',
      `
Exits 1 when no group was deleted, 4 when only some were.

Examples:
  brook group delete billing
  brook group delete billing audit --json`,
    )
    .action((groupIds: string[], options: CommonOptions) =>
      run(context, options, (admin) => remove(admin, groupIds, options)),
    );

  withOutput(
    group
      .command('reset-offsets')
      .description("move a group's committed offsets (a dry run unless --execute)")
      .argument('<group>', 'the group (it must have no members)')
      .option(
        '--topic <topic[:p,...]>',
        'a topic, or some of its partitions (repeatable)',
        parseTopicSelection,
      )
      .option('--all-topics', 'every partition the group has committed')
      .option('--to-earliest', 'target: the log start')
      .option('--to-latest', 'target: the log end')
      .option(
        '--to-offset <n>',
        'target: offset n (brought within the log start and end)',
        parseOffset,
      )
      .option(
        '--to-datetime <iso>',
        'target: the first record at or after the time (the log end when none)',
        parseDatetime,
      )
      .option(
        '--shift-by <n>',
        'target: the committed offset plus n (n < 0 goes back), within the log start and end',
        parseShift,
      )
      .option('--execute', 'commit the new offsets')
      .option('--dry-run', 'only show the new offsets (the default)'),
  )
    .addHelpText(
      'after',
      `
Give exactly one target. As with kafka-consumer-groups, the group must have no members, and
--shift-by needs a committed offset in every partition it moves (else nothing is changed).

Examples:
  brook group reset-offsets billing --topic orders --to-earliest
  brook group reset-offsets billing --topic orders:0,2 --to-offset 1200 --execute
  brook group reset-offsets billing --all-topics --to-datetime 2026-11-22T10:00:00Z --execute
  brook group reset-offsets billing --topic orders --shift-by -100 --execute`,
    )
    .action((groupId: string, options: ResetOptions) =>
      run(context, options, (admin) => resetOffsets(admin, groupId, options)),
    );
};

/** `--json`, and the hidden `--output text|json` of the old `brook groups`, then the cluster options. */
function withOutput(command: Command): Command {
  command
    .option('--json', 'one JSON document on stdout, for scripts')
    .addOption(new Option('--output <format>').choices(['text', 'json']).hideHelp());
  return addClusterOptions(command);
}

/** Runs a subcommand's work with an Admin (see runAdminCommand). */
function run(
  context: Context,
  options: CommonOptions,
  work: (admin: Admin) => Promise<Outcome>,
): Promise<void> {
  return runAdminCommand(context.io, options, work);
}

function wantsJson(options: CommonOptions): boolean {
  return options.json === true || options.output === 'json';
}

// ---- argument parsers -----------------------------------------------------------------------

function parseStates(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const known = STATES.find((k) => k.toLowerCase() === s.toLowerCase());
      if (known === undefined) {
        throw new InvalidArgumentError(`unknown state '${s}' (one of ${STATES.join(', ')})`);
      }
      return known;
    });
}

function parseTopicSelection(value: string, previous: TopicSelection[] | undefined) {
  const at = value.lastIndexOf(':');
  let selection: TopicSelection;
  if (at < 0) {
    selection = { topic: value };
  } else {
    const topic = value.slice(0, at);
    const partitions = value
      .slice(at + 1)
      .split(',')
      .map((p) => p.trim());
    if (topic === '' || partitions.some((p) => !/^\d+$/.test(p))) {
      throw new InvalidArgumentError(`expected TOPIC or TOPIC:P,P,..., got '${value}'`);
    }
    selection = { topic, partitions: partitions.map(Number) };
  }
  if (selection.topic === '') throw new InvalidArgumentError('expected a topic name');
  return [...(previous ?? []), selection];
}

function parseOffset(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) {
    throw new InvalidArgumentError(`expected an offset (0 or more), got '${value}'`);
  }
  return BigInt(value.trim());
}

function parseShift(value: string): bigint {
  if (!/^[-+]?\d+$/.test(value.trim())) {
    throw new InvalidArgumentError(`expected a whole number such as 100 or -100, got '${value}'`);
  }
  return BigInt(value.trim());
}

function parseDatetime(value: string): number {
  const timestamp = Date.parse(value);
  if (Number.isNaN(timestamp)) {
    throw new InvalidArgumentError(
      `expected a date and time such as 2026-11-22T10:00:00Z, got '${value}'`,
    );
  }
  return timestamp;
}

// ---- errors in words ------------------------------------------------------------------------

/** An item's Kafka error about a group, in words (missing, busy, invalid). */
function groupError(groupId: string, error: KafkaProtocolError): CommandError {
  switch (error.errorName) {
    case 'GROUP_ID_NOT_FOUND':
      return new CommandError(
        `group '${groupId}' does not exist; \`brook group list\` shows the groups`,
      );
    case 'NON_EMPTY_GROUP':
      return new CommandError(
        `group '${groupId}' is not empty: it has active members; stop its consumers first`,
      );
    case 'INVALID_GROUP_ID':
      return new CommandError(`'${groupId}' is not a valid group id`);
    default:
      return new CommandError(`group '${groupId}': ${error.message}`);
  }
}

/** One failure, or a count with the first, for a list of failed items. */
function failureOf(messages: readonly string[], total: number): CommandError | undefined {
  if (messages.length === 0) return undefined;
  const exitCode = messages.length < total ? ExitCode.partial : ExitCode.failed;
  const message =
    messages.length === 1 ? messages[0]! : `${messages.length} failed: ${messages.join('; ')}`;
  return new CommandError(message, { exitCode });
}

// ---- list -----------------------------------------------------------------------------------

async function list(admin: Admin, options: ListOptions): Promise<Outcome> {
  const states = options.state;
  const listed = await admin.listGroups(states === undefined ? {} : { states });
  // Brokers before ListGroups v4 do not filter; their groups have no state to filter on.
  const shown =
    states === undefined
      ? listed
      : listed.filter((g) => g.state === null || states.includes(g.state));
  if (wantsJson(options)) {
    return {
      stdout: json(
        shown.map((g) => ({
          group: g.groupId,
          state: g.state,
          protocolType: g.protocolType,
          coordinator: g.coordinator,
        })),
      ),
    };
  }
  return {
    stdout: table(
      ['GROUP', 'STATE', 'PROTOCOL-TYPE', 'COORDINATOR'],
      shown.map((g) => [g.groupId, g.state ?? '-', g.protocolType || '-', String(g.coordinator)]),
    ),
  };
}

// ---- describe -------------------------------------------------------------------------------

interface PartitionRow {
  readonly topic: string;
  readonly partition: number;
  readonly currentOffset: bigint | null;
  readonly logEndOffset: bigint | null;
  readonly lag: bigint | null;
  readonly member: GroupMember | null;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

async function describe(admin: Admin, groupId: string, options: DescribeOptions): Promise<Outcome> {
  const [description] = await admin.describeGroups([groupId]);
  if (description === undefined) throw new CommandError(`no answer for group '${groupId}'`);
  if (description.error !== null) throw groupError(groupId, description.error);
  const [offsets] = await admin.listGroupOffsets([groupId]);
  if (offsets?.error) throw groupError(groupId, offsets.error);

  const owners = new Map<string, GroupMember>();
  for (const member of description.members) {
    for (const assigned of member.assignment ?? []) {
      for (const partition of assigned.partitions) {
        owners.set(partitionKey(assigned.topic, partition), member);
      }
    }
  }
  const rows = new Map<string, PartitionRow>();
  for (const p of offsets?.partitions ?? []) {
    const key = partitionKey(p.topic, p.partition);
    rows.set(key, {
      topic: p.topic,
      partition: p.partition,
      currentOffset: p.committedOffset >= 0n ? p.committedOffset : null,
      logEndOffset: p.logEndOffset,
      lag: p.lag,
      member: owners.get(key) ?? null,
    });
  }
  // Partitions assigned but never committed: their log end, no lag (as Kafka's tool shows).
  const uncommitted = [...owners.entries()].filter(([key]) => !rows.has(key));
  if (uncommitted.length > 0) {
    const ends = await admin.listOffsets(
      uncommitted.map(([key]) => {
        const [topic, partition] = key.split('\u0000') as [string, string];
        return { topic, partition: Number(partition), spec: 'latest' as const };
      }),
    );
    for (const end of ends) {
      const key = partitionKey(end.topic, end.partition);
      rows.set(key, {
        topic: end.topic,
        partition: end.partition,
        currentOffset: null,
        logEndOffset: end.error === null ? end.offset : null,
        lag: null,
        member: owners.get(key) ?? null,
      });
    }
  }
  const partitions = [...rows.values()].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
  const totalLag = partitions.reduce((sum, p) => sum + (p.lag ?? 0n), 0n);

  if (wantsJson(options)) {
    return { stdout: json(describeJson(description, partitions, totalLag)) };
  }
  const count = description.members.length;
  const assignor = description.protocol ? `, assignor ${description.protocol}` : '';
  let stdout = `Group '${groupId}' is ${description.state} with ${count} member${count === 1 ? '' : 's'} (coordinator ${description.coordinator}${assignor}).\n`;
  if (options.members) {
    if (count === 0) return { stdout };
    stdout += `\n${table(
      ['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS', 'ASSIGNMENT'],
      description.members.map((m) => [
        groupId,
        m.memberId,
        m.clientHost,
        m.clientId,
        String(partitionCount(m)),
        assignmentText(m),
      ]),
    )}`;
    return { stdout };
  }
  if (partitions.length === 0) {
    return { stdout: `${stdout}It has no committed offsets and no assigned partitions.\n` };
  }
  stdout += `\n${table(
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
  )}`;
  return { stdout };
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
        partitions: [...a.partitions].sort((x, y) => x - y),
      })),
    })),
    partitions: partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      currentOffset: p.currentOffset,
      logEndOffset: p.logEndOffset,
      lag: p.lag,
      memberId: p.member?.memberId ?? null,
      clientId: p.member?.clientId ?? null,
      host: p.member?.clientHost ?? null,
    })),
    totalLag,
  };
}

// ---- delete ---------------------------------------------------------------------------------

async function remove(
  admin: Admin,
  groupIds: readonly string[],
  options: CommonOptions,
): Promise<Outcome> {
  const results = await admin.deleteGroups([...new Set(groupIds)]);
  const messages = results.map((r) =>
    r.error === null ? null : groupError(r.groupId, r.error).message,
  );
  const failure = failureOf(
    messages.filter((m) => m !== null),
    results.length,
  );
  if (wantsJson(options)) {
    return {
      stdout: json(
        results.map((r, i) => ({
          group: r.groupId,
          deleted: r.error === null,
          error: messages[i] ?? null,
        })),
      ),
      ...(failure === undefined ? {} : { failure }),
    };
  }
  const stdout = results
    .filter((r) => r.error === null)
    .map((r) => `Deleted group '${r.groupId}'.\n`)
    .join('');
  return { stdout, ...(failure === undefined ? {} : { failure }) };
}

// ---- reset-offsets --------------------------------------------------------------------------

function resetTarget(options: ResetOptions): ResetTarget {
  const given: string[] = [];
  if (options.toEarliest) given.push('--to-earliest');
  if (options.toLatest) given.push('--to-latest');
  if (options.toOffset !== undefined) given.push('--to-offset');
  if (options.toDatetime !== undefined) given.push('--to-datetime');
  if (options.shiftBy !== undefined) given.push('--shift-by');
  if (given.length !== 1) {
    throw usageError(
      given.length === 0
        ? 'a target is required: --to-earliest, --to-latest, --to-offset N, --to-datetime ISO or --shift-by N'
        : `one target only, got ${given.join(' ')}`,
    );
  }
  if (options.toEarliest) return 'earliest';
  if (options.toLatest) return 'latest';
  if (options.toOffset !== undefined) return { offset: options.toOffset };
  if (options.toDatetime !== undefined) return { timestamp: options.toDatetime };
  return { shiftBy: options.shiftBy! };
}

/**
 * Checks that the selected topics and partitions exist, so that a typo is told as such (the
 * words of `unknownTopicMessage`) rather than as a failed offset lookup.
 */
async function checkSelection(admin: Admin, topics: readonly TopicSelection[]): Promise<void> {
  const names = [...new Set(topics.map((t) => t.topic))];
  const described = await admin.describeTopics(names);
  const byName = new Map(described.map((d) => [d.name, d]));
  for (const selection of topics) {
    const description = byName.get(selection.topic);
    if (description?.error?.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') {
      throw new CommandError(unknownTopicMessage(selection.topic));
    }
    if (description === undefined || description.error !== null) {
      throw new CommandError(
        `topic '${selection.topic}': ${description?.error?.message ?? 'no answer'}`,
      );
    }
    const count = description.partitions.length;
    const missing = (selection.partitions ?? []).filter((p) => p >= count);
    if (missing.length > 0) {
      throw new CommandError(
        `topic '${selection.topic}' has no partition ${missing.join(', ')} (it has ${count === 1 ? 'partition 0' : `partitions 0-${count - 1}`})`,
      );
    }
  }
}

async function resetOffsets(
  admin: Admin,
  groupId: string,
  options: ResetOptions,
): Promise<Outcome> {
  if (options.execute && options.dryRun) {
    throw usageError('--execute and --dry-run exclude each other');
  }
  const to = resetTarget(options);
  if (options.allTopics && options.topic !== undefined) {
    throw usageError('--topic and --all-topics exclude each other');
  }
  if (!options.allTopics && options.topic === undefined) {
    throw usageError('say which partitions: --topic T[:P,...] (repeatable) or --all-topics');
  }
  const topics = options.topic;
  const execute = options.execute === true;
  if (topics !== undefined) await checkSelection(admin, topics);
  let results: ResetOffset[];
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
        `offsets of group '${groupId}' can be reset only when it has no members${state ? `, but its state is ${state}` : ''}; stop its consumers first`,
      );
    }
    if (error instanceof ClientError && options.shiftBy !== undefined) {
      throw new CommandError(
        `${error.message}; pick committed partitions with --topic T:P,... or set them first with --to-offset, --to-earliest or --to-latest`,
      );
    }
    throw error;
  }
  const failed = results.filter((r) => r.error !== null);
  const failure =
    failed.length === 0
      ? undefined
      : new CommandError(
          `${failed.length} partition${failed.length === 1 ? '' : 's'} could not be reset (${failed
            .map((r) => `${r.topic}-${r.partition}: ${r.error!.message}`)
            .join('; ')})`,
          { exitCode: failed.length < results.length ? ExitCode.partial : ExitCode.failed },
        );
  const withFailure = failure === undefined ? {} : { failure };
  if (wantsJson(options)) {
    return {
      stdout: json({
        group: groupId,
        executed: execute,
        partitions: results.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          newOffset: r.error === null ? r.offset : null,
          error: r.error === null ? null : r.error.message,
        })),
      }),
      ...withFailure,
    };
  }
  if (results.length === 0) {
    return { stdout: '', stderr: `Group '${groupId}' has no committed offsets to reset.\n` };
  }
  return {
    stdout: table(
      ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'],
      results.map((r) => [
        groupId,
        r.topic,
        String(r.partition),
        r.error === null ? String(r.offset) : `- (${r.error.errorName})`,
      ]),
    ),
    ...(execute
      ? {}
      : { stderr: 'Dry run: nothing was changed; add --execute to commit these offsets.\n' }),
    ...withFailure,
  };
}

function text(value: bigint | null): string {
  return value === null ? '-' : String(value);
}
