/**
 * What the consumer-group interop tests share: a librdkafka group member running in a process
 * of its own (groups-confluent-kafka-driver.py), whose events the test follows and whose
 * commands it sends; waiting for a condition; and the checks of a group's assignment and of
 * the records its members read.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ApiKey,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  ErrorCode,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from '@brook/protocol';
import { RawClient } from '../helpers.ts';
import { PYTHON, pythonDriver } from './support.ts';

export const GROUP_DRIVER = join(import.meta.dirname, 'groups-confluent-kafka-driver.py');

/** Broker settings for fast group tests: no initial delay, short sessions allowed. */
export const GROUP_BROKER_PROPERTIES = {
  'group.initial.rebalance.delay.ms': '0',
  'offsets.topic.num.partitions': '4',
};

/** "topic/partition". */
export type PartitionKey = string;
export const partitionKey = (topic: string, partition: number): PartitionKey =>
  `${topic}/${partition}`;

/** A record as a member read it. */
export interface SeenRecord {
  member: string;
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

export interface MemberEvent {
  ev: string;
  partitions?: [string, number][];
  assignment?: [string, number][];
  records?: [string, number, number, string | null, string | null][];
  offsets?: [string, number, number, string | null][];
  positions?: [string, number, number][];
  error?: string;
  /** When the test received it (Date.now()). */
  at: number;
}

/** Polls `condition` every 25 ms until it holds; fails with `describe()` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  describe: () => string = () => '',
  members: readonly { crashed: boolean; name: string }[] = [],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    const crashed = members.filter((m) => m.crashed).map((m) => m.name);
    if (crashed.length > 0) assert.fail(`${crashed} exited while waiting: ${what}\n${describe()}`);
    if (Date.now() > deadline)
      assert.fail(`timed out after ${timeoutMs} ms: ${what}\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Member processes still running: killed when the test process exits, however it ends. */
const LIVE = new Set<ChildProcessWithoutNullStreams>();
process.once('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/**
 * One librdkafka group member in its own Python process. Its events accumulate in `events`;
 * `assignment` is its current assignment (as its rebalance callbacks left it), `records` what
 * it read. Killed with SIGKILL at the end of the test if still running.
 */
export class LibrdkafkaMember {
  readonly name: string;
  readonly events: MemberEvent[] = [];
  readonly records: SeenRecord[] = [];
  assignment: PartitionKey[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stdout = '';
  stderr = '';

  constructor(
    t: { after(fn: () => void): void },
    options: {
      name: string;
      bootstrap: string;
      group: string;
      topics: string[];
      config?: Record<string, string | number | boolean>;
    },
  ) {
    this.name = options.name;
    this.child = spawn(PYTHON, [GROUP_DRIVER, 'member', JSON.stringify(options)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin.on('error', () => {});
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString('utf8');
      let newline = this.stdout.indexOf('\n');
      while (newline >= 0) {
        const line = this.stdout.slice(0, newline);
        this.stdout = this.stdout.slice(newline + 1);
        if (line.trim() !== '') this.onEvent({ ...JSON.parse(line), at: Date.now() });
        newline = this.stdout.indexOf('\n');
      }
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        LIVE.delete(this.child);
        resolve({ code, signal });
      }),
    );
    // A member never keeps the test process alive, and dies with it (or with its test).
    LIVE.add(this.child);
    this.child.unref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
    t.after(() => {
      if (this.running) this.child.kill('SIGKILL');
    });
  }

  /** Its process ended without being told to (closed or killed by the test). */
  get crashed(): boolean {
    return !this.stopping && !this.running;
  }

  private stopping = false;

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private onEvent(event: MemberEvent): void {
    this.events.push(event);
    if (event.assignment !== undefined) {
      this.assignment = event.assignment.map(([topic, partition]) =>
        partitionKey(topic, partition),
      );
    }
    for (const [topic, partition, offset, key, value] of event.records ?? []) {
      this.records.push({ member: this.name, topic, partition, offset, key, value });
    }
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** The next event of a kind (after those already seen), within `timeoutMs`. */
  async next(kind: string, timeoutMs = 15_000): Promise<MemberEvent> {
    const from = this.events.length;
    let found: MemberEvent | undefined;
    await waitFor(
      `${this.name}: a "${kind}" event`,
      () => {
        found = this.events.slice(from).find((event) => event.ev === kind);
        return found !== undefined || !this.running;
      },
      timeoutMs,
      () => this.describe(),
    );
    assert.ok(found, `${this.name} exited before a "${kind}" event\n${this.describe()}`);
    return found;
  }

  /** Commits its positions synchronously; the offsets committed. */
  async commit(): Promise<Map<PartitionKey, number>> {
    const waiting = this.next('committed');
    this.send({ cmd: 'commit' });
    const event = await waiting;
    assert.equal(event.error, undefined, `${this.name}: commit failed: ${event.error}`);
    const failed = (event.offsets ?? []).filter((o) => o[3] !== null);
    assert.deepEqual(failed, [], `${this.name}: partitions whose commit failed`);
    return new Map((event.offsets ?? []).map(([t, p, o]) => [partitionKey(t, p), o]));
  }

  /**
   * Where it fetches from next, per assigned partition (-1 while not fetching yet); needs
   * `statistics.interval.ms` in its config.
   */
  async positions(): Promise<Map<PartitionKey, number>> {
    const waiting = this.next('positions');
    this.send({ cmd: 'positions' });
    const event = await waiting;
    return new Map((event.positions ?? []).map(([t, p, o]) => [partitionKey(t, p), o]));
  }

  /** consumer.close() (a dynamic member sends LeaveGroup), and waits for the process to end. */
  async close(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    this.send({ cmd: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    assert.equal(
      code,
      0,
      `${this.name} did not close cleanly (${code ?? signal})\n${this.describe()}`,
    );
  }

  async kill(): Promise<void> {
    this.stopping = true;
    this.child.kill('SIGKILL');
    // The process is unref'd: a timer keeps this process up until its exit is seen.
    const keepAlive = setInterval(() => {}, 1000);
    await this.exited;
    clearInterval(keepAlive);
  }

  /** Its rebalance events and stderr, for failure messages. */
  describe(): string {
    const rebalances = this.events
      .filter((e) => e.ev !== 'records')
      .map((e) => `  ${e.ev} ${JSON.stringify(e.partitions ?? e.error ?? e.offsets ?? '')}`)
      .join('\n');
    return `${this.name}: assignment ${this.assignment.join(' ')}, ${this.records.length} records\n${rebalances}\n${this.stderr.slice(-3000)}`;
  }
}

export function describeMembers(members: readonly LibrdkafkaMember[]): string {
  return members.map((member) => member.describe()).join('\n');
}

/** Every partition of `topics` (name → count) assigned to exactly one of `members`. */
export function isCompleteAndDisjoint(
  members: readonly { assignment: readonly PartitionKey[] }[],
  topics: ReadonlyMap<string, number>,
  { everyMemberHasSome = true } = {},
): boolean {
  const all = members.flatMap((member) => member.assignment);
  const expected = [...topics].flatMap(([topic, count]) =>
    Array.from({ length: count }, (_, p) => partitionKey(topic, p)),
  );
  return (
    all.length === expected.length &&
    new Set(all).size === all.length &&
    expected.every((key) => all.includes(key)) &&
    (!everyMemberHasSome || members.every((member) => member.assignment.length > 0))
  );
}

/** Waits until `members` share every partition of `topics`, each exactly once. */
export async function waitForAssignment(
  what: string,
  members: readonly LibrdkafkaMember[],
  topics: ReadonlyMap<string, number>,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    `${what}: a complete, disjoint assignment over ${members.map((m) => m.name).join(', ')}`,
    () => isCompleteAndDisjoint(members, topics),
    timeoutMs,
    () => describeMembers(members),
    members,
  );
}

/** A produced record: where it went. */
export interface ProducedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/** Produces `count` keyed records with librdkafka's partitioner; where each landed. */
export async function produceKeyed(
  bootstrap: string,
  topic: string,
  label: string,
  count: number,
): Promise<ProducedRecord[]> {
  const call = pythonDriver(GROUP_DRIVER, bootstrap);
  const records = Array.from({ length: count }, (_, i) => [`key-${label}-${i}`, `${label} ${i}`]);
  const delivered = await call<[number, number][]>('produce', { topic, records });
  return delivered.map(([partition, offset], i) => ({
    topic,
    partition,
    offset,
    key: records[i]![0]!,
    value: records[i]![1]!,
  }));
}

export const recordId = (r: { topic: string; partition: number; offset: number }) =>
  `${r.topic}/${r.partition}@${r.offset}`;

/** Waits until every one of `produced` has been read by one of `members`. */
export async function waitForRecords(
  what: string,
  members: readonly LibrdkafkaMember[],
  produced: readonly ProducedRecord[],
  timeoutMs = 20_000,
): Promise<void> {
  const missing = () => {
    const seen = new Set(members.flatMap((m) => m.records.map(recordId)));
    return produced.filter((r) => !seen.has(recordId(r)));
  };
  await waitFor(
    `${what}: every produced record read`,
    () => missing().length === 0,
    timeoutMs,
    () =>
      `${missing().length} of ${produced.length} not read, e.g. ${missing()
        .slice(0, 5)
        .map(recordId)
        .join(' ')}\n${describeMembers(members)}`,
    members,
  );
}

/** Every record read has the key and value produced at its offset. */
export function assertRecordsMatch(
  seen: readonly SeenRecord[],
  produced: readonly ProducedRecord[],
): void {
  const byId = new Map(produced.map((r) => [recordId(r), r]));
  const wrong = seen.filter((r) => {
    const p = byId.get(recordId(r));
    return p === undefined || p.key !== r.key || p.value !== r.value;
  });
  assert.deepEqual(
    wrong.slice(0, 5).map((r) => `${recordId(r)} ${r.key}=${r.value} by ${r.member}`),
    [],
    `${wrong.length} records read that were not produced at their offset`,
  );
}

/** How many times each record was read. */
export function readCounts(seen: readonly SeenRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of seen) counts.set(recordId(record), (counts.get(recordId(record)) ?? 0) + 1);
  return counts;
}

/**
 * Sends one request to the broker at `bootstrap` (host:port), again while the coordinator is
 * loading `__consumer_offsets` (a broker that just started), as clients do.
 */
async function coordinatorRequest<T>(
  bootstrap: string,
  send: (client: RawClient) => Promise<T>,
  errorCode: (response: T) => number,
): Promise<T> {
  const client = await RawClient.connect(Number(bootstrap.split(':')[1]));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await send(client);
      if (errorCode(response) !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS || Date.now() > deadline)
        return response;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

/** DescribeGroups v5 of one group, straight from the broker at `bootstrap`. */
export async function describeGroup(bootstrap: string, groupId: string) {
  const response = await coordinatorRequest(
    bootstrap,
    (client) =>
      client.request(ApiKey.DescribeGroups, 5, DescribeGroupsRequest, DescribeGroupsResponse, {
        groups: [groupId],
      }),
    (response) => response.groups[0]!.errorCode,
  );
  const group = response.groups[0]!;
  assert.equal(group.errorCode, 0, `DescribeGroups of ${groupId}`);
  return group;
}

/** OffsetFetch v7: a group's committed offset of each partition of a topic (-1 when none). */
export async function fetchCommitted(
  bootstrap: string,
  groupId: string,
  topic: string,
  partitions: number,
): Promise<number[]> {
  const response = await coordinatorRequest(
    bootstrap,
    (client) =>
      client.request(ApiKey.OffsetFetch, 7, OffsetFetchRequest, OffsetFetchResponse, {
        groupId,
        topics: [
          { name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) },
        ],
      }),
    (response) => response.errorCode,
  );
  assert.equal(response.errorCode, 0, `OffsetFetch of ${groupId}`);
  const found = response.topics.find((entry) => entry.name === topic);
  return Array.from({ length: partitions }, (_, p) =>
    Number(found?.partitions.find((entry) => entry.partitionIndex === p)?.committedOffset ?? -1n),
  );
}
