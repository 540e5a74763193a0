/**
 * `isolationLevel` on the wire: the consumer's Fetch requests carry isolation_level 1 with
 * 'read_committed' and 0 by default, seen by a proxy that decodes every request between the
 * consumer and a Brook broker. (Which records a level returns is the broker's part; the client's
 * own filtering of aborted transactions is tested on log bytes in fetched-records.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiKey } from '@brook/protocol';
import { Consumer, type IsolationLevelName, Producer, silentLogger } from '../src/index.ts';
import { startBrokerBehindRecorder } from './helpers.ts';

describe('consumer isolation level', () => {
  for (const [name, expected] of [
    ['read_committed', 1],
    ['read_uncommitted', 0],
    [undefined, 0],
  ] as const) {
    it(`sends isolation_level ${expected} in its fetches with ${name ?? 'the default'}`, async (t) => {
      const { bootstrap, requests } = await startBrokerBehindRecorder(t);
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
      const levels = requests
        .filter((request) => request.apiKey === ApiKey.Fetch)
        .map((request) => (request.body as { isolationLevel: number }).isolationLevel);
      assert.ok(levels.length > 0, 'the consumer fetched through the proxy');
      assert.deepEqual(new Set(levels), new Set([expected]));
    });
  }
});
