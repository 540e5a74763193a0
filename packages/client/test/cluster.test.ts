/**
 * Connections and cluster metadata against a Brook broker: version negotiation, pipelining,
 * metadata of topics, coordinators, bootstrap failover, request timeouts and close.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  type ApiVersionsResponseInput,
  ErrorCode,
  ListGroupsRequest,
  ListGroupsResponse,
  MetadataRequest,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
  Writer,
  writeResponseFrame,
} from '@brook/protocol';
import {
  Cluster,
  Connection,
  ConnectionError,
  KafkaProtocolError,
  RequestTimeoutError,
  silentLogger,
  UnsupportedApiError,
} from '../src/index.ts';
import { startBroker, startBrokerBehindRecorder } from './helpers.ts';

/** An ApiVersions response frame at `version` (size prefix included). */
function apiVersionsFrame(
  correlationId: number,
  version: number,
  body: ApiVersionsResponseInput,
): Buffer {
  const writer = new Writer();
  writeResponseFrame(
    writer,
    { apiKey: ApiKey.ApiVersions, apiVersion: version, correlationId },
    (w) => ApiVersionsResponse.write(w, body, version),
  );
  return writer.toBuffer();
}

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

  it('an older broker: asks again at its ApiVersions version, and refuses an API with no version in common', async (t) => {
    // What Kafka 2.3 does (ApiVersions v0-v2): a newer ApiVersions gets a v0 answer with
    // UNSUPPORTED_VERSION and the broker's range for it. The answers here play that broker;
    // every other request reaches a real one.
    const older = [
      { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 },
      { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 7 },
      // Versions this client does not have (none in common).
      { apiKey: ApiKey.Produce, minVersion: 90, maxVersion: 91 },
    ];
    const { port, requests } = await startBrokerBehindRecorder(
      t,
      {},
      {
        answer: ({ apiKey, version, correlationId }) => {
          if (apiKey !== ApiKey.ApiVersions) return undefined;
          if (version > 2) {
            return apiVersionsFrame(correlationId, 0, {
              errorCode: ErrorCode.UNSUPPORTED_VERSION,
              apiKeys: older.slice(0, 1),
            });
          }
          return apiVersionsFrame(correlationId, version, { errorCode: 0, apiKeys: older });
        },
      },
    );
    const connection = await Connection.connect({
      host: '127.0.0.1',
      port,
      clientId: 'test',
      logger: silentLogger,
    });
    t.after(() => connection.close());
    assert.deepEqual(
      requests.map((r) => [r.apiKey, r.version]),
      [
        [ApiKey.ApiVersions, ApiVersionsRequest.maxVersion],
        [ApiKey.ApiVersions, 2],
      ],
    );
    assert.deepEqual(
      connection.apiVersionsResponse?.apiKeys.map((a) => [a.apiKey, a.minVersion, a.maxVersion]),
      older.map((a) => [a.apiKey, a.minVersion, a.maxVersion]),
    );
    // Metadata goes out at the broker's highest version, not ours (12), and is answered.
    assert.equal(connection.versionFor(MetadataRequest), 7);
    const metadata = await connection.request(MetadataRequest, MetadataResponse, { topics: [] });
    assert.equal(metadata.brokers.length, 1);
    assert.deepEqual(requests.at(-1)?.version, 7);
    // No version in common, and an API the broker does not list: refused before the wire.
    assert.equal(connection.versionFor(ProduceRequest), undefined);
    await assert.rejects(
      connection.request(ProduceRequest, ProduceResponse, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 1000,
        topicData: [],
      }),
      UnsupportedApiError,
    );
    assert.equal(connection.versionFor(ListGroupsRequest), undefined);
    assert.equal(requests.length, 3);
  });

  it('fails to connect when the broker refuses every ApiVersions', async (t) => {
    const { port } = await startBrokerBehindRecorder(
      t,
      {},
      {
        answer: ({ apiKey, correlationId }) =>
          apiKey === ApiKey.ApiVersions
            ? apiVersionsFrame(correlationId, 0, {
                errorCode: ErrorCode.UNSUPPORTED_VERSION,
                apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 0 }],
              })
            : undefined,
      },
    );
    await assert.rejects(
      Connection.connect({
        host: '127.0.0.1',
        port,
        clientId: 'test',
        logger: silentLogger,
      }),
      (error: Error) =>
        error instanceof ConnectionError && /ApiVersions failed with error 35/.test(error.message),
    );
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
