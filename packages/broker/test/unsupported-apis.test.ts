/**
 * Requests Brook does not serve: an API the protocol has but Brook has no handler for, or a
 * version outside a handler's range. Each is answered with the API's error response at the
 * requested version (UNSUPPORTED_VERSION at the top and on every entry echoed from the request,
 * as Kafka's getErrorResponse builds it), and the connection goes on serving.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponse,
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  apiDescriptor,
  CreateAclsRequest,
  CreateAclsResponse,
  DescribeAclsRequest,
  DescribeAclsResponse,
  DescribeClientQuotasRequest,
  DescribeClientQuotasResponse,
  DescribeTransactionsRequest,
  DescribeTransactionsResponse,
  ElectLeadersRequest,
  ElectLeadersResponse,
  EndTxnRequest,
  EndTxnResponse,
  ErrorCode,
  GetTelemetrySubscriptionsRequest,
  GetTelemetrySubscriptionsResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  PushTelemetryRequest,
  PushTelemetryResponse,
  SaslHandshakeRequest,
  SaslHandshakeResponse,
  Writer,
  writeRequestFrame,
} from '@brook/protocol';
import { RawClient, startTestBroker } from './helpers.ts';

const UNSUPPORTED = ErrorCode.UNSUPPORTED_VERSION;
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

/** A Metadata request on the same connection: it still serves. */
async function metadataStillServed(client: RawClient): Promise<void> {
  const metadata = await client.request(ApiKey.Metadata, 12, MetadataRequest, MetadataResponse, {
    topics: null,
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  assert.equal(metadata.brokers.length, 1);
  assert.equal(client.closed, false);
}

/** Resolves true when the broker closes the connection within a few seconds. */
function closedSoon(client: RawClient): Promise<boolean> {
  return new Promise((resolve) => {
    if (client.closed) return resolve(true);
    const timer = setTimeout(() => resolve(false), 3000);
    client.socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('requests Brook does not serve', () => {
  it('are not advertised by ApiVersions', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const versions = await client.request(
      ApiKey.ApiVersions,
      3,
      ApiVersionsRequest,
      ApiVersionsResponse,
      { clientSoftwareName: 'brook-test', clientSoftwareVersion: '1' },
    );
    const listed = new Set(versions.apiKeys.map((k) => k.apiKey));
    for (const key of [ApiKey.AddPartitionsToTxn, ApiKey.EndTxn, ApiKey.DescribeAcls]) {
      assert.ok(!listed.has(key), `api key ${key} is not served, so not listed`);
    }
  });

  it('get the error response Kafka gives, and the connection goes on', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());

    // Transactions (v3: the client's form, results per topic and partition).
    const addPartitions = await client.request(
      ApiKey.AddPartitionsToTxn,
      3,
      AddPartitionsToTxnRequest,
      AddPartitionsToTxnResponse,
      {
        v3AndBelowTransactionalId: 'tx',
        v3AndBelowProducerId: 7n,
        v3AndBelowProducerEpoch: 0,
        v3AndBelowTopics: [
          { name: 'a', partitions: [0, 1] },
          { name: 'b', partitions: [2] },
        ],
      },
    );
    assert.deepEqual(
      addPartitions.resultsByTopicV3AndBelow.map((topic) => ({
        name: topic.name,
        partitions: topic.resultsByPartition.map((p) => [p.partitionIndex, p.partitionErrorCode]),
      })),
      [
        {
          name: 'a',
          partitions: [
            [0, UNSUPPORTED],
            [1, UNSUPPORTED],
          ],
        },
        { name: 'b', partitions: [[2, UNSUPPORTED]] },
      ],
    );
    // v4+ (the broker-to-coordinator form): Kafka sets only the top-level error.
    const addPartitionsV5 = await client.request(
      ApiKey.AddPartitionsToTxn,
      5,
      AddPartitionsToTxnRequest,
      AddPartitionsToTxnResponse,
      {
        transactions: [
          {
            transactionalId: 'tx',
            producerId: 7n,
            producerEpoch: 0,
            topics: [{ name: 'a', partitions: [0] }],
          },
        ],
      },
    );
    assert.equal(addPartitionsV5.errorCode, UNSUPPORTED);
    assert.deepEqual(addPartitionsV5.resultsByTransaction, []);

    const endTxn = await client.request(ApiKey.EndTxn, 4, EndTxnRequest, EndTxnResponse, {
      transactionalId: 'tx',
      producerId: 7n,
      producerEpoch: 0,
      committed: true,
    });
    assert.equal(endTxn.errorCode, UNSUPPORTED);

    const describeTransactions = await client.request(
      ApiKey.DescribeTransactions,
      0,
      DescribeTransactionsRequest,
      DescribeTransactionsResponse,
      { transactionalIds: ['t1', 't2'] },
    );
    assert.deepEqual(
      describeTransactions.transactionStates.map((s) => [s.transactionalId, s.errorCode]),
      [
        ['t1', UNSUPPORTED],
        ['t2', UNSUPPORTED],
      ],
    );

    // ACLs: a top-level error with its message; one result per creation.
    const describeAcls = await client.request(
      ApiKey.DescribeAcls,
      3,
      DescribeAclsRequest,
      DescribeAclsResponse,
      {
        resourceTypeFilter: 1,
        resourceNameFilter: null,
        patternTypeFilter: 1,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      },
    );
    assert.equal(describeAcls.errorCode, UNSUPPORTED);
    assert.match(describeAcls.errorMessage ?? '', /DescribeAcls/);
    assert.deepEqual(describeAcls.resources, []);

    const acl = {
      resourceType: 2,
      resourceName: 'topic',
      resourcePatternType: 3,
      principal: 'User:alice',
      host: '*',
      operation: 3,
      permissionType: 3,
    };
    const createAcls = await client.request(
      ApiKey.CreateAcls,
      3,
      CreateAclsRequest,
      CreateAclsResponse,
      { creations: [acl, { ...acl, principal: 'User:bob' }] },
    );
    assert.equal(createAcls.results.length, 2);
    for (const result of createAcls.results) {
      assert.equal(result.errorCode, UNSUPPORTED);
      assert.match(result.errorMessage ?? '', /CreateAcls/);
    }

    const handshake = await client.request(
      ApiKey.SaslHandshake,
      1,
      SaslHandshakeRequest,
      SaslHandshakeResponse,
      { mechanism: 'PLAIN' },
    );
    assert.equal(handshake.errorCode, UNSUPPORTED);
    assert.deepEqual(handshake.mechanisms, []);

    // ElectLeaders: the top-level error, and each requested partition with error and message.
    const elect = await client.request(
      ApiKey.ElectLeaders,
      2,
      ElectLeadersRequest,
      ElectLeadersResponse,
      { electionType: 0, topicPartitions: [{ topic: 'a', partitions: [0, 3] }], timeoutMs: 1000 },
    );
    assert.equal(elect.errorCode, UNSUPPORTED);
    assert.deepEqual(
      elect.replicaElectionResults.map((r) => ({
        topic: r.topic,
        partitions: r.partitionResult.map((p) => [p.partitionId, p.errorCode]),
      })),
      [
        {
          topic: 'a',
          partitions: [
            [0, UNSUPPORTED],
            [3, UNSUPPORTED],
          ],
        },
      ],
    );
    assert.match(elect.replicaElectionResults[0]?.partitionResult[0]?.errorMessage ?? '', /Elect/);

    const quotas = await client.request(
      ApiKey.DescribeClientQuotas,
      1,
      DescribeClientQuotasRequest,
      DescribeClientQuotasResponse,
      { components: [{ entityType: 'user', matchType: 1, match: null }], strict: false },
    );
    assert.equal(quotas.errorCode, UNSUPPORTED);
    assert.match(quotas.errorMessage ?? '', /DescribeClientQuotas/);

    // Telemetry (KIP-714): the Java client turns telemetry off on UNSUPPORTED_VERSION.
    const subscriptions = await client.request(
      ApiKey.GetTelemetrySubscriptions,
      0,
      GetTelemetrySubscriptionsRequest,
      GetTelemetrySubscriptionsResponse,
      { clientInstanceId: CLIENT_ID },
    );
    assert.equal(subscriptions.errorCode, UNSUPPORTED);
    const push = await client.request(
      ApiKey.PushTelemetry,
      0,
      PushTelemetryRequest,
      PushTelemetryResponse,
      {
        clientInstanceId: CLIENT_ID,
        subscriptionId: 1,
        terminating: false,
        compressionType: 0,
        metrics: Buffer.alloc(0),
      },
    );
    assert.equal(push.errorCode, UNSUPPORTED);

    await metadataStillServed(client);
  });

  it('answer a served API at a version above Brook’s with UNSUPPORTED_VERSION per partition', async (t) => {
    const { broker, port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const served = broker.context.registry.get(ApiKey.ListOffsets)!.maxVersion;
    const version = served + 1;
    assert.ok(
      version <= apiDescriptor(ApiKey.ListOffsets)!.maxVersion,
      'this test needs a ListOffsets version the protocol has and Brook does not serve',
    );
    const response = await client.request(
      ApiKey.ListOffsets,
      version,
      ListOffsetsRequest,
      ListOffsetsResponse,
      {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: 'a',
            partitions: [
              { partitionIndex: 0, timestamp: -1n },
              { partitionIndex: 1, timestamp: -2n },
            ],
          },
        ],
        timeoutMs: 1000,
      },
    );
    assert.deepEqual(
      response.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => [p.partitionIndex, p.errorCode, p.offset]),
      })),
      [
        {
          name: 'a',
          partitions: [
            [0, UNSUPPORTED, -1n],
            [1, UNSUPPORTED, -1n],
          ],
        },
      ],
    );
    await metadataStillServed(client);
  });

  it('are answered in order when pipelined with served requests', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const metadata = () =>
      client.request(ApiKey.Metadata, 12, MetadataRequest, MetadataResponse, {
        topics: null,
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
    const endTxn = () =>
      client.request(ApiKey.EndTxn, 3, EndTxnRequest, EndTxnResponse, {
        transactionalId: 'tx',
        producerId: 1n,
        producerEpoch: 0,
        committed: false,
      });
    // RawClient checks every response's correlation id against its request's.
    const [first, second, third, fourth] = await Promise.all([
      metadata(),
      endTxn(),
      metadata(),
      endTxn(),
    ]);
    assert.equal(first.brokers.length, 1);
    assert.equal(second.errorCode, UNSUPPORTED);
    assert.equal(third.brokers.length, 1);
    assert.equal(fourth.errorCode, UNSUPPORTED);
  });

  it('still close the connection when the body does not decode', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const writer = new Writer();
    writeRequestFrame(
      writer,
      {
        apiKey: ApiKey.DescribeTransactions,
        apiVersion: 0,
        correlationId: 1,
        clientId: 'garbage',
      },
      // A compact array of 2^31 transactional ids, in a frame of a few bytes.
      (w) => w.writeBytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])),
    );
    client.socket.write(writer.toBuffer());
    assert.equal(await closedSoon(client), true);
  });

  it('still close the connection for an api key the protocol does not have', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const writer = new Writer();
    writeRequestFrame(
      writer,
      { apiKey: ApiKey.Metadata, apiVersion: 1, correlationId: 1, clientId: 'x' },
      (w) => w.writeInt32(-1),
    );
    const frame = writer.toBuffer();
    frame.writeInt16BE(9999, 4);
    client.socket.write(frame);
    assert.equal(await closedSoon(client), true);
  });
});
