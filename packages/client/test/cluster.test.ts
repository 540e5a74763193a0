/**
 * Connections and cluster metadata against a Brook broker: version negotiation, pipelining,
 * metadata of topics, coordinators, bootstrap failover, request timeouts and close.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import {
  ApiKey,
  ListGroupsRequest,
  ListGroupsResponse,
  MetadataRequest,
  MetadataResponse,
} from '@brook/protocol';
import {
  Cluster,
  Connection,
  KafkaProtocolError,
  RequestTimeoutError,
  silentLogger,
} from '../src/index.ts';
import { startBroker } from './helpers.ts';

describe('connection and cluster', () => {
  it('negotiates versions and pipelines requests in order', async (t) => {
    const { port } = await startBroker(t);
    const connection = await Connection.connect({
      host: '127.0.0.1',
      port,
      clientId: 'test',
      logger: silentLogger,
    });
    t.after(() => connection.close());
    assert.equal(connection.versionFor(MetadataRequest), 12);
    assert.equal(connection.versionFor(MetadataRequest, 9), 9);
    const pending = Array.from({ length: 50 }, (_, i) =>
      connection.request(
        MetadataRequest,
        MetadataResponse,
        { topics: [] },
        { version: i % 2 === 0 ? 12 : 1 },
      ),
    );
    // All 50 are on the wire before the first answer: pipelined, not one at a time.
    assert.equal(connection.inFlight, 50);
    const answers = await Promise.all(pending);
    assert.equal(connection.inFlight, 0);
    assert.equal(answers.length, 50);
    assert.ok(answers.every((a) => a.brokers[0]?.port === port));
    const groups = await connection.request(ListGroupsRequest, ListGroupsResponse, {
      statesFilter: [],
      typesFilter: [],
    });
    assert.equal(groups.errorCode, 0);
    assert.equal(ApiKey.ListGroups, 16);
  });

  it('learns topics, leaders and coordinators, and fails over past a dead bootstrap server', async (t) => {
    const { port, broker } = await startBroker(t);
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as { port: number }).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const cluster = new Cluster({
      bootstrapServers: [`127.0.0.1:${deadPort}`, `127.0.0.1:${port}`],
    });
    t.after(() => cluster.close());
    await broker.context.createTopic({
      name: 'orders',
      partitions: 3,
      replicationFactor: 1,
      configs: {},
      validateOnly: false,
    });
    const topic = await cluster.topic('orders');
    assert.equal(topic.partitions.length, 3);
    assert.equal(await cluster.leaderFor('orders', 2), 1);
    assert.equal(cluster.clusterId, broker.context.metadata.clusterId);
    await assert.rejects(
      cluster.topic('missing'),
      (error: unknown) => error instanceof KafkaProtocolError && error.errorCode === 3,
    );
    await assert.rejects(cluster.leaderFor('orders', 7), KafkaProtocolError);
    const coordinator = await cluster.coordinator('my-group');
    assert.equal(coordinator.port, port);
  });

  it('a request without an answer times out and closes the connection', async (t) => {
    // A server that accepts and never answers.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    const port = (silent.address() as { port: number }).port;
    await assert.rejects(
      Connection.connect({
        host: '127.0.0.1',
        port,
        clientId: 'test',
        logger: silentLogger,
        requestTimeoutMs: 200,
      }),
      RequestTimeoutError,
    );
  });
});
