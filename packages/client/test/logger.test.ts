/**
 * The injected logger: the one given to a client (Connection, Admin, Producer, Consumer) is the
 * one its parts log to, with the level and the fields of each event. A server that accepts
 * connections and never answers makes requests time out ("request timed out" warn, naming the
 * broker); a real broker gives a consumer a group to join ("joined group" info).
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  Admin,
  type ClientLogger,
  Connection,
  Consumer,
  type LogLevel,
  Producer,
  RequestTimeoutError,
  RetriesExhaustedError,
  stringDeserializer,
} from '../src/index.ts';
import { createTopic, fill, rawConnection, waitFor } from './consumer-support.ts';
import { startBroker } from './helpers.ts';

interface Entry {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A logger that keeps every entry. */
function recordingLogger(): ClientLogger & { entries: Entry[]; named(msg: string): Entry[] } {
  const entries: Entry[] = [];
  return {
    entries,
    log(level, msg, fields) {
      entries.push({ level, msg, fields });
    },
    named: (msg) => entries.filter((e) => e.msg === msg),
  };
}

/** A server on 127.0.0.1 that accepts connections, reads what comes and never answers. */
async function startSilentServer(t: { after(fn: () => Promise<void>): void }) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, address: `127.0.0.1:${port}` };
}

const TIMED_OUT = 'request timed out: closing connection';

describe('injected logger', () => {
  it('gets the request-timeout warning of a connection, naming the broker', async (t) => {
    const silent = await startSilentServer(t);
    const logger = recordingLogger();
    await assert.rejects(
      Connection.connect({
        host: '127.0.0.1',
        port: silent.port,
        clientId: 'logger-test',
        logger,
        requestTimeoutMs: 50,
      }),
      RequestTimeoutError,
    );
    assert.deepEqual(logger.entries, [
      { level: 'warn', msg: TIMED_OUT, fields: { broker: silent.address } },
    ]);
  });

  it("reaches the admin's connections through its cluster", async (t) => {
    const silent = await startSilentServer(t);
    const logger = recordingLogger();
    const admin = new Admin({
      bootstrapServers: [silent.address],
      clientId: 'logger-admin',
      logger,
      requestTimeoutMs: 50,
      retry: { retries: 1, initialBackoffMs: 5, maxBackoffMs: 10 },
    });
    t.after(() => admin.close());
    await assert.rejects(admin.describeCluster(), RetriesExhaustedError);
    // One attempt and one retry, each timing out on a new connection.
    const warnings = logger.named(TIMED_OUT);
    assert.equal(warnings.length, 2, JSON.stringify(logger.entries));
    for (const warning of warnings) {
      assert.equal(warning.level, 'warn');
      assert.deepEqual(warning.fields, { broker: silent.address });
    }
  });

  it("reaches the producer's connections", async (t) => {
    const silent = await startSilentServer(t);
    const logger = recordingLogger();
    const producer = new Producer({
      bootstrapServers: [silent.address],
      clientId: 'logger-producer',
      logger,
      idempotent: false,
      requestTimeoutMs: 50,
      deliveryTimeoutMs: 500,
      maxBlockMs: 300,
      retryBackoffMs: 5,
      retryBackoffMaxMs: 10,
    });
    t.after(() => producer.close({ flush: false, timeoutMs: 100 }));
    const sent = producer.send({ topic: 'nowhere', value: 'v' }).then(
      () => assert.fail('sent to a broker that never answers'),
      (error: unknown) => error,
    );
    await waitFor('a request-timeout warning', () => logger.named(TIMED_OUT).length > 0, 5_000);
    const [warning] = logger.named(TIMED_OUT);
    assert.equal(warning!.level, 'warn');
    assert.deepEqual(warning!.fields, { broker: silent.address });
    assert.ok((await sent) instanceof Error);
  });

  it('gets the consumer\'s "joined group" with the group, member and generation', async (t) => {
    const broker = await startBroker(t);
    await createTopic(broker, 'logged', 2);
    await fill(await rawConnection(t, broker), 'logged', 2, 1);
    const logger = recordingLogger();
    const consumer = new Consumer<string | null, string | null>({
      bootstrapServers: [broker.bootstrap],
      clientId: 'logger-consumer',
      groupId: 'logged-group',
      logger,
      keyDeserializer: stringDeserializer,
      valueDeserializer: stringDeserializer,
      autoOffsetReset: 'earliest',
      autoCommit: false,
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 5000,
      heartbeatIntervalMs: 100,
      fetchMaxWaitMs: 100,
    });
    t.after(() => consumer.close());
    await consumer.subscribe({ topics: ['logged'] });
    const iterator = consumer[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.topic, 'logged');

    const joined = logger.named('joined group');
    assert.equal(joined.length, 1, JSON.stringify(logger.entries));
    assert.equal(joined[0]!.level, 'info');
    const fields = joined[0]!.fields!;
    assert.equal(fields.groupId, 'logged-group');
    assert.equal(typeof fields.memberId, 'string');
    assert.match(fields.memberId as string, /^logger-consumer-/);
    assert.equal(fields.generationId, 1);
    assert.equal(fields.protocol, 'range');
    assert.equal(fields.partitions, 2);
  });
});
