/**
 * `brook topic` (also `brook topics`): topics through the client's Admin, as Kafka's
 * `kafka-topics` and `kafka-configs` do it: create them (partitions, replication factor and
 * configs, the broker's defaults for what is not given), list them, describe them (partitions
 * with leaders, replicas, ISR and offsets, then every config with its source as DescribeConfigs
 * reports it), delete them, change their configs (IncrementalAlterConfigs SET and DELETE) and
 * raise their partition counts. Text tables by default, `--json` for scripts.
 */
import type {
  Admin,
  ConfigAlteration,
  ConfigEntry,
  KafkaProtocolError,
  ListedOffset,
  TopicDescription,
} from '@brook/client';
import type { Command } from 'commander';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  type ClusterOptionValues,
  CommandError,
  collect,
  ExitCode,
  json,
  keyValues,
  type Outcome,
  positiveInteger,
  runAdminCommand,
  table,
  unknownTopicMessage,
  usageError,
} from '../common.ts';
import type { Context } from '../io.ts';

interface CommonOptions extends ClusterOptionValues {
  json?: boolean;
}

interface CreateOptions extends CommonOptions {
  partitions?: number;
  replicationFactor?: number;
  config?: string[];
  ifNotExists?: boolean;
  dryRun?: boolean;
}

interface ListOptions extends CommonOptions {
  internal?: boolean;
}

interface DescribeOptions extends CommonOptions {
  /** False with `--no-configs`. */
  configs: boolean;
}

interface DeleteOptions extends CommonOptions {
  ifExists?: boolean;
}

interface AlterConfigOptions extends CommonOptions {
  config?: string[];
  delete?: string[];
  dryRun?: boolean;
}

interface AddPartitionsOptions extends CommonOptions {
  total: number;
  dryRun?: boolean;
}

const SENSITIVE = '(sensitive)';

export const register: Register = (program, context) => {
  const topic = program
    .command('topic')
    .description('create, list, describe, delete and change topics')
    .addHelpText(
      'after',
      `
Examples:
  brook topic create orders -p 6 -c retention.ms=86400000
  brook topic list
  brook topic describe orders
  brook topic alter-config orders -c retention.ms=3600000 --delete cleanup.policy
  brook topic add-partitions orders --total 12
  brook topic delete orders`,
    );

  withOutput(
    topic
      .command('create')
      .description("create topics (the broker's defaults for what is not given)")
      .argument('<topics...>', 'names of the topics to create')
      .option(
        '-p, --partitions <n>',
        "partitions of each topic (default: the broker's num.partitions)",
        positiveInteger('--partitions'),
      )
      .option(
        '-r, --replication-factor <n>',
        "replicas of each partition (default: the broker's default.replication.factor)",
        positiveInteger('--replication-factor'),
      )
      .option('-c, --config <key=value>', 'a topic config (repeatable)', collect)
      .option('--if-not-exists', 'a topic that exists already is not an error')
      .option('--dry-run', 'let the broker check everything, create nothing'),
  )
    .addHelpText(
      'after',
      `
Prints one line per topic created. A topic that exists already fails (exit 1; 4 when only
some of the topics failed) unless --if-not-exists.

Examples:
  brook topic create orders
  brook topic create orders payments -p 6 -r 3
  brook topic create audit -c cleanup.policy=compact -c retention.ms=-1 --if-not-exists
  brook topic create orders -p 12 --dry-run`,
    )
    .action((names: string[], options: CreateOptions) =>
      run(context, options, (admin) => create(admin, names, options)),
    );

  withOutput(
    topic
      .command('list')
      .description('the topics with their partition counts and replication factors')
      .option('--internal', 'include internal topics (__consumer_offsets)'),
  )
    .addHelpText(
      'after',
      `
Examples:
  brook topic list
  brook topic list --internal
  brook topic list --json | jq -r '.[].name'`,
    )
    .action((options: ListOptions) => run(context, options, (admin) => list(admin, options)));

  withOutput(
    topic
      .command('describe')
      .description(
        "topics' partitions (leader, replicas, ISR, offsets) and configs with their source",
      )
      .argument('<topics...>', 'names of the topics')
      .option('--no-configs', 'leave the configs out'),
  )
    .addHelpText(
      'after',
      `
SOURCE is where a config's value comes from, as the broker reports it (DescribeConfigs):
dynamic-topic (set on the topic), dynamic-broker, dynamic-default-broker, static-broker (the
broker's properties) or default. Sensitive values are shown as ${SENSITIVE}.

Examples:
  brook topic describe orders
  brook topic describe orders payments --no-configs
  brook topic describe orders --json | jq '.[0].partitions[] | .highWatermark'`,
    )
    .action((names: string[], options: DescribeOptions) =>
      run(context, options, (admin) => describe(admin, names, options)),
    );

  withOutput(
    topic
      .command('delete')
      .description('delete topics with their records')
      .argument('<topics...>', 'names of the topics to delete')
      .option('--if-exists', 'a topic that does not exist is not an error'),
  )
    .addHelpText(
      'after',
      `
Exits 1 when no topic was deleted, 4 when only some were.

Examples:
  brook topic delete orders
  brook topic delete orders payments --if-exists`,
    )
    .action((names: string[], options: DeleteOptions) =>
      run(context, options, (admin) => remove(admin, names, options)),
    );

  withOutput(
    topic
      .command('alter-config')
      .description("set or remove a topic's configs, leaving the others as they are")
      .argument('<topic>', 'the topic')
      .option('-c, --config <key=value>', 'set a config (repeatable)', collect)
      .option(
        '--delete <key>',
        "remove a config: it goes back to the broker's default (repeatable)",
        collect,
      )
      .option('--dry-run', 'let the broker check the change, change nothing'),
  )
    .addHelpText(
      'after',
      `
Uses IncrementalAlterConfigs (SET for -c, DELETE for --delete): configs not named keep their
values. \`brook topic describe TOPIC\` shows the result.

Examples:
  brook topic alter-config orders -c retention.ms=3600000
  brook topic alter-config orders -c cleanup.policy=compact --delete retention.bytes
  brook topic alter-config orders -c max.message.bytes=2097152 --dry-run`,
    )
    .action((name: string, options: AlterConfigOptions) =>
      run(context, options, (admin) => alterConfig(admin, name, options)),
    );

  withOutput(
    topic
      .command('add-partitions')
      .description("raise a topic's partition count (records keep their partitions)")
      .argument('<topic>', 'the topic')
      .requiredOption(
        '--total <n>',
        'the new partition count, more than the topic has',
        positiveInteger('--total'),
      )
      .option('--dry-run', 'let the broker check the change, change nothing'),
  )
    .addHelpText(
      'after',
      `
--total is the topic's partition count afterwards, as in Kafka's CreatePartitions (a topic
with 3 partitions and --total 5 gets 2 more). Partition counts never go down. Keys that were
on one partition may go to another afterwards.

Examples:
  brook topic add-partitions orders --total 12
  brook topic add-partitions orders --total 12 --dry-run`,
    )
    .action((name: string, options: AddPartitionsOptions) =>
      run(context, options, (admin) => addPartitions(admin, name, options)),
    );
};

/** `--json`, then the cluster options. */
function withOutput(command: Command): Command {
  command.option('--json', 'one JSON document on stdout, for scripts');
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

// ---- errors in words ------------------------------------------------------------------------

/**
 * What the broker said about a topic, without the client's prefixes (`INVALID_CONFIG (40): topic
 * x: `), followed by Kafka's name of the error.
 */
function brokerSays(topic: string, error: KafkaProtocolError): string {
  let detail = error.message;
  const code = `${error.errorName} (${error.errorCode}): `;
  if (detail.startsWith(code)) detail = detail.slice(code.length);
  const entity = `topic ${topic}: `;
  if (detail.startsWith(entity)) detail = detail.slice(entity.length);
  return `${detail.replace(/\.$/, '')} (${error.errorName})`;
}

/** An item's Kafka error about a topic, in words (missing, existing, invalid). */
function topicError(topic: string, error: KafkaProtocolError): string {
  switch (error.errorName) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
    case 'UNKNOWN_TOPIC_ID':
      return unknownTopicMessage(topic);
    case 'TOPIC_ALREADY_EXISTS':
      return `topic '${topic}' already exists; \`brook topic describe ${topic}\` shows it (--if-not-exists ignores existing topics)`;
    default:
      return `topic '${topic}': ${brokerSays(topic, error)}`;
  }
}

/** One failure, or a count with each, for a list of failed items out of `total`. */
function failureOf(messages: readonly string[], total: number): CommandError | undefined {
  if (messages.length === 0) return undefined;
  const exitCode = messages.length < total ? ExitCode.partial : ExitCode.failed;
  const message =
    messages.length === 1 ? messages[0]! : `${messages.length} failed: ${messages.join('; ')}`;
  return new CommandError(message, { exitCode });
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

// ---- create ---------------------------------------------------------------------------------

async function create(admin: Admin, names: string[], options: CreateOptions): Promise<Outcome> {
  const configs = keyValues(options.config, '--config');
  const topics = unique(names).map((name) => ({
    name,
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.replicationFactor === undefined
      ? {}
      : { replicationFactor: options.replicationFactor }),
    configs,
  }));
  const dryRun = options.dryRun === true;
  const results = await admin.createTopics(topics, { validateOnly: dryRun });
  const rows = results.map((r) => {
    const existed = r.error?.errorName === 'TOPIC_ALREADY_EXISTS' && options.ifNotExists === true;
    const message = r.error === null || existed ? null : topicError(r.name, r.error);
    const status = message !== null ? 'failed' : existed ? 'existed' : dryRun ? 'valid' : 'created';
    return { result: r, status, message };
  });
  const failure = failureOf(
    rows.flatMap((row) => (row.message === null ? [] : [row.message])),
    rows.length,
  );
  const notes = rows
    .filter((row) => row.status === 'existed')
    .map((row) => `topic '${row.result.name}' exists already; left as it is\n`)
    .join('');
  const withFailure = failure === undefined ? {} : { failure };
  if (options.json) {
    return {
      stdout: json(
        rows.map(({ result, status, message }) => ({
          name: result.name,
          status,
          topicId: result.topicId,
          partitions: result.partitions < 0 ? null : result.partitions,
          replicationFactor: result.replicationFactor < 0 ? null : result.replicationFactor,
          error: message,
        })),
      ),
      stderr: notes,
      ...withFailure,
    };
  }
  const stdout = rows
    .filter((row) => row.status === 'created' || row.status === 'valid')
    .map(({ result, status }) => {
      const details =
        result.partitions < 0
          ? ''
          : ` (${plural(result.partitions, 'partition', 'partitions')}, replication factor ${result.replicationFactor})`;
      return status === 'created'
        ? `Created topic '${result.name}'${details}.\n`
        : `Topic '${result.name}' can be created${details}; dry run, nothing created.\n`;
    })
    .join('');
  return { stdout, stderr: notes, ...withFailure };
}

// ---- list -----------------------------------------------------------------------------------

async function list(admin: Admin, options: ListOptions): Promise<Outcome> {
  const listed = await admin.listTopics({ includeInternal: options.internal === true });
  const described =
    listed.length === 0 ? [] : await admin.describeTopics(listed.map((t) => t.name));
  const byName = new Map(described.map((d) => [d.name, d]));
  const topics = listed.map((t) => {
    const description = byName.get(t.name);
    return {
      name: t.name,
      topicId: t.topicId,
      internal: t.isInternal,
      partitions: t.partitions,
      replicationFactor:
        description === undefined || description.error !== null
          ? null
          : replicationFactorOf(description),
    };
  });
  if (options.json) return { stdout: json(topics) };
  return {
    stdout: table(
      ['NAME', 'PARTITIONS', 'REPLICAS'],
      topics.map((t) => [
        t.name,
        String(t.partitions),
        t.replicationFactor === null ? '-' : String(t.replicationFactor),
      ]),
    ),
  };
}

/** Replicas per partition, as Kafka's tools give it: the first partition's replica count. */
function replicationFactorOf(description: TopicDescription): number | null {
  return description.partitions[0]?.replicas.length ?? null;
}

// ---- describe -------------------------------------------------------------------------------

interface DescribedPartition {
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
  /** Null when the leader could not say. */
  readonly logStartOffset: bigint | null;
  readonly highWatermark: bigint | null;
}

interface DescribedConfig {
  readonly name: string;
  /** Null for a sensitive config, or one without a value. */
  readonly value: string | null;
  readonly source: string;
  readonly sensitive: boolean;
  readonly readOnly: boolean;
}

interface DescribedTopic {
  readonly name: string;
  readonly topicId: string | null;
  readonly internal: boolean;
  readonly replicationFactor: number | null;
  readonly partitions: readonly DescribedPartition[];
  /** Null with `--no-configs`. */
  readonly configs: readonly DescribedConfig[] | null;
}

type DescribeResult =
  | { readonly topic: DescribedTopic; readonly error: null }
  | { readonly name: string; readonly error: string };

async function describe(admin: Admin, names: string[], options: DescribeOptions): Promise<Outcome> {
  const descriptions = await admin.describeTopics(unique(names));
  const known = descriptions.filter((d) => d.error === null);
  const partitions = known.flatMap((d) =>
    d.partitions.map((p) => ({ topic: d.name, partition: p.partition })),
  );
  const [earliest, latest, configs] = await Promise.all([
    partitions.length === 0
      ? []
      : admin.listOffsets(partitions.map((p) => ({ ...p, spec: 'earliest' as const }))),
    partitions.length === 0
      ? []
      : admin.listOffsets(partitions.map((p) => ({ ...p, spec: 'latest' as const }))),
    options.configs && known.length > 0
      ? admin.describeConfigs(known.map((d) => ({ type: 'topic' as const, name: d.name })))
      : [],
  ]);
  const offsetOf = offsetsByPartition(earliest);
  const highOf = offsetsByPartition(latest);
  const configsOf = new Map(configs.map((c) => [c.name, c]));

  const results: DescribeResult[] = descriptions.map((d): DescribeResult => {
    if (d.error !== null) return { name: d.name, error: topicError(d.name, d.error) };
    let topicConfigs: DescribedConfig[] | null = null;
    if (options.configs) {
      const described = configsOf.get(d.name);
      if (described === undefined) return { name: d.name, error: `topic '${d.name}': no configs` };
      if (described.error !== null) {
        return { name: d.name, error: topicError(d.name, described.error) };
      }
      topicConfigs = described.configs.map(describedConfig);
    }
    return {
      topic: {
        name: d.name,
        topicId: d.topicId,
        internal: d.isInternal,
        replicationFactor: replicationFactorOf(d),
        partitions: d.partitions.map((p) => ({
          partition: p.partition,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicas,
          isr: p.isr,
          offlineReplicas: p.offlineReplicas,
          logStartOffset: offsetOf.get(partitionKey(d.name, p.partition)) ?? null,
          highWatermark: highOf.get(partitionKey(d.name, p.partition)) ?? null,
        })),
        configs: topicConfigs,
      },
      error: null,
    };
  });

  const failure = failureOf(
    results.flatMap((r) => (r.error === null ? [] : [r.error])),
    results.length,
  );
  const withFailure = failure === undefined ? {} : { failure };
  if (options.json) {
    return {
      stdout: json(results.map((r) => (r.error === null ? { ...r.topic, error: null } : r))),
      ...withFailure,
    };
  }
  const blocks = results.flatMap((r) => (r.error === null ? [describeText(r.topic)] : []));
  return { stdout: blocks.join('\n'), ...withFailure };
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function offsetsByPartition(offsets: readonly ListedOffset[]): Map<string, bigint> {
  const found = new Map<string, bigint>();
  for (const o of offsets) {
    if (o.error === null && o.offset >= 0n) found.set(partitionKey(o.topic, o.partition), o.offset);
  }
  return found;
}

function describedConfig(entry: ConfigEntry): DescribedConfig {
  return {
    name: entry.name,
    value: entry.isSensitive ? null : entry.value,
    source: entry.source,
    sensitive: entry.isSensitive,
    readOnly: entry.readOnly,
  };
}

function describeText(topic: DescribedTopic): string {
  const summary = [
    `Topic: ${topic.name}`,
    `Id: ${topic.topicId ?? '-'}`,
    `Partitions: ${topic.partitions.length}`,
    `Replication factor: ${topic.replicationFactor ?? '-'}`,
    `Internal: ${topic.internal ? 'yes' : 'no'}`,
  ].join('  ');
  const nodes = (ids: readonly number[]) => (ids.length === 0 ? '-' : ids.join(','));
  const partitions = table(
    ['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'LOG-START-OFFSET', 'HIGH-WATERMARK'],
    topic.partitions.map((p) => [
      String(p.partition),
      p.leader < 0 ? 'none' : String(p.leader),
      nodes(p.replicas),
      nodes(p.isr),
      p.logStartOffset === null ? '-' : String(p.logStartOffset),
      p.highWatermark === null ? '-' : String(p.highWatermark),
    ]),
  );
  if (topic.configs === null) return `${summary}\n${partitions}`;
  const configs = table(
    ['NAME', 'VALUE', 'SOURCE'],
    topic.configs.map((c) => [c.name, configValueText(c), c.source]),
  );
  return `${summary}\n${partitions}\n${configs}`;
}

function configValueText(config: DescribedConfig): string {
  if (config.sensitive) return SENSITIVE;
  if (config.value === null) return '-';
  return config.value === '' ? '""' : config.value;
}

// ---- delete ---------------------------------------------------------------------------------

async function remove(admin: Admin, names: string[], options: DeleteOptions): Promise<Outcome> {
  const results = await admin.deleteTopics(unique(names));
  const rows = results.map((r) => {
    const unknown =
      r.error?.errorName === 'UNKNOWN_TOPIC_OR_PARTITION' ||
      r.error?.errorName === 'UNKNOWN_TOPIC_ID';
    const missing = unknown && options.ifExists === true;
    let message: string | null = null;
    if (r.error !== null && !missing) {
      message = unknown
        ? `topic '${r.name}' does not exist; \`brook topic list\` shows the topics (--if-exists ignores missing ones)`
        : topicError(r.name, r.error);
    }
    const status = message !== null ? 'failed' : missing ? 'missing' : 'deleted';
    return { name: r.name, topicId: r.topicId, status, message };
  });
  const failure = failureOf(
    rows.flatMap((row) => (row.message === null ? [] : [row.message])),
    rows.length,
  );
  const withFailure = failure === undefined ? {} : { failure };
  if (options.json) {
    return {
      stdout: json(
        rows.map((row) => ({
          name: row.name,
          status: row.status,
          topicId: row.topicId,
          error: row.message,
        })),
      ),
      ...withFailure,
    };
  }
  const stdout = rows
    .filter((row) => row.status === 'deleted')
    .map((row) => `Deleted topic '${row.name}'.\n`)
    .join('');
  return { stdout, ...withFailure };
}

// ---- alter-config ---------------------------------------------------------------------------

async function alterConfig(
  admin: Admin,
  name: string,
  options: AlterConfigOptions,
): Promise<Outcome> {
  const set = keyValues(options.config, '--config');
  const deleted = unique((options.delete ?? []).map((key) => key.trim()));
  if (Object.keys(set).length === 0 && deleted.length === 0) {
    throw usageError('nothing to change: give -c key=value or --delete key (each repeatable)');
  }
  for (const key of deleted) {
    if (key === '') throw usageError('--delete expects a config name');
    if (Object.hasOwn(set, key))
      throw usageError(`'${key}' is both set (-c) and deleted (--delete)`);
  }
  const alterations: ConfigAlteration[] = [
    ...Object.entries(set).map(([key, value]) => ({
      name: key,
      operation: 'set' as const,
      value,
    })),
    ...deleted.map((key) => ({ name: key, operation: 'delete' as const })),
  ];
  const dryRun = options.dryRun === true;
  const [result] = await admin.incrementalAlterConfigs(
    [{ type: 'topic', name, configs: alterations }],
    { validateOnly: dryRun },
  );
  if (result === undefined) throw new CommandError(`no answer about topic '${name}'`);
  if (result.error !== null) throw new CommandError(topicError(name, result.error));
  if (options.json) {
    return { stdout: json({ name, dryRun, set, deleted }) };
  }
  const changes = [
    ...Object.entries(set).map(([key, value]) => `set ${key}=${value}`),
    ...deleted.map((key) => `deleted ${key}`),
  ].join(', ');
  return {
    stdout: dryRun
      ? `Topic '${name}' accepts the change (${changes}); dry run, nothing changed.\n`
      : `Altered topic '${name}': ${changes}.\n`,
  };
}

// ---- add-partitions -------------------------------------------------------------------------

async function addPartitions(
  admin: Admin,
  name: string,
  options: AddPartitionsOptions,
): Promise<Outcome> {
  const [description] = await admin.describeTopics([name]);
  if (description === undefined) throw new CommandError(`no answer about topic '${name}'`);
  if (description.error !== null) throw new CommandError(topicError(name, description.error));
  const previous = description.partitions.length;
  const dryRun = options.dryRun === true;
  const [result] = await admin.createPartitions([{ topic: name, count: options.total }], {
    validateOnly: dryRun,
  });
  if (result === undefined) throw new CommandError(`no answer about topic '${name}'`);
  if (result.error !== null) {
    const message = topicError(name, result.error);
    throw new CommandError(
      result.error.errorName === 'INVALID_PARTITIONS' && options.total <= previous
        ? `${message}. --total is the partition count afterwards: more than the ${previous} it has`
        : message,
    );
  }
  if (options.json) {
    return {
      stdout: json({ name, partitions: options.total, previousPartitions: previous, dryRun }),
    };
  }
  return {
    stdout: dryRun
      ? `Topic '${name}' can grow from ${previous} to ${options.total} partitions; dry run, nothing changed.\n`
      : `Topic '${name}' now has ${options.total} partitions (it had ${previous}).\n`,
  };
}
