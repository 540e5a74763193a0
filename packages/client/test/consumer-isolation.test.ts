/**
 * `isolationLevel` on the wire: the consumer's Fetch requests carry isolation_level 1 with
 * 'read_committed' and 0 by default, seen by a proxy that decodes every request between the
 * consumer and a Brook broker. (Which records a level returns is the broker's part; the client's
 * own filtering of aborted transactions is tested on log bytes in fetched-records.test.ts.)
 */
import assert from 'node:assert/strict';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { ApiKey, FrameDecoder, readRequestFrame } from '@brook/protocol';
import { Consumer, type IsolationLevelName, Producer, silentLogger } from '../src/index.ts';
import { startBroker } from './helpers.ts';

/** A pass-through proxy that records the isolation_level of every Fetch request it forwards. */
async function startFetchRecorder(t: TestContext) {
  const sockets = new Set<Socket>();
  const recorder = { port: 0, upstreamPort: 0, isolationLevels: [] as number[] };
  const server = createServer((client) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port: recorder.upstreamPort });
    sockets.add(client).add(upstream);
    const requests = new FrameDecoder({ maxFrameBytes: 1 << 26 });
    client.on('data', (chunk: Buffer) => {
      for (const frame of requests.push(chunk)) {
        const { header, api, body } = readRequestFrame(frame);
        if (header.requestApiKey === ApiKey.Fetch && api !== undefined) {
          const request = api.request.decode(body, header.requestApiVersion) as {
            isolationLevel: number;
          };
          recorder.isolationLevels.push(request.isolationLevel);
        }
        const size = Buffer.alloc(4);
        size.writeInt32BE(frame.length);
        upstream.write(Buffer.concat([size, frame]));
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  recorder.port = (server.address() as { port: number }).port;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return recorder;
}

describe('consumer isolation level', () => {
  for (const [name, expected] of [
    ['read_committed', 1],
    ['read_uncommitted', 0],
    [undefined, 0],
  ] as const) {
    it(`sends isolation_level ${expected} in its fetches with ${name ?? 'the default'}`, async (t) => {
      const recorder = await startFetchRecorder(t);
      // The broker advertises the proxy, so every connection of the consumer goes through it.
      const { port } = await startBroker(t, {
        'advertised.listeners': `PLAINTEXT://127.0.0.1:${recorder.port}`,
      });
      recorder.upstreamPort = port;
      const bootstrap = `127.0.0.1:${recorder.port}`;
      const producer = new Producer({ bootstrapServers: [bootstrap], logger: silentLogger });
      t.after(() => producer.close());
      await producer.send({ topic: 'isolation', partition: 0, key: null, value: Buffer.from('v') });

      const consumer = new Consumer({
        bootstrapServers: [bootstrap],
        logger: silentLogger,
        autoOffsetReset: 'earliest',
        ...(name === undefined ? {} : { isolationLevel: name as IsolationLevelName }),
      });
      t.after(() => consumer.close());
      consumer.assign([{ topic: 'isolation', partition: 0 }]);
      for await (const record of consumer) {
        assert.equal(record.value?.toString(), 'v');
        break;
      }
      assert.ok(recorder.isolationLevels.length > 0, 'the consumer fetched through the proxy');
      assert.deepEqual(new Set(recorder.isolationLevels), new Set([expected]));
    });
  }
});
