/**
 * `acks` on the wire: with one broker, acks 1 and all answer alike, so only the Produce requests
 * themselves tell them apart. A proxy that decodes every request between the producer and a
 * Brook broker checks the field for 0, 1 and 'all', and that each record arrived.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiKey } from '@brook/protocol';
import { Admin, Producer, silentLogger } from '../src/index.ts';
import { startBrokerBehindRecorder } from './helpers.ts';

describe('producer acks', () => {
  for (const [acks, expected] of [
    [0, 0],
    [1, 1],
    ['all', -1],
    [-1, -1],
  ] as const) {
    it(`sends acks ${expected} in its Produce requests with acks ${acks}`, async (t) => {
      const { bootstrap, requests } = await startBrokerBehindRecorder(t);
      const producer = new Producer({
        bootstrapServers: [bootstrap],
        logger: silentLogger,
        acks,
        // Idempotence needs acks=all.
        idempotent: expected === -1,
      });
      t.after(() => producer.close());
      for (let i = 0; i < 3; i++) {
        await producer.send({ topic: 'acks', partition: 0, key: null, value: Buffer.from(`${i}`) });
      }
      await producer.flush();
      const produced = requests.filter((request) => request.apiKey === ApiKey.Produce);
      assert.ok(produced.length > 0);
      assert.deepEqual(
        new Set(produced.map((request) => (request.body as { acks: number }).acks)),
        new Set([expected]),
      );
      const admin = new Admin({ bootstrapServers: [bootstrap], logger: silentLogger });
      t.after(() => admin.close());
      // acks=0 gets no answer: wait until the broker has the three records.
      for (let tries = 0; ; tries++) {
        const [end] = await admin.listOffsets([{ topic: 'acks', partition: 0, spec: 'latest' }]);
        if (end?.offset === 3n) break;
        assert.ok(tries < 50, `the broker has ${end?.offset} records, not 3`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  }
});
