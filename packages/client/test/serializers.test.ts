/**
 * Typed keys and values end to end: a producer typed for string keys and JSON objects writes, a
 * consumer with the matching deserializers reads the same objects back, typed. The
 * `@ts-expect-error` lines are checked by `tsc --noEmit` (part of `npm test`): were the types
 * to stop flowing from the serializers to `send()` and `record.value`, they would fail it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Consumer,
  type Deserializer,
  jsonDeserializer,
  jsonSerializer,
  Producer,
  silentLogger,
  stringDeserializer,
  stringSerializer,
} from '../src/index.ts';
import { startBroker } from './helpers.ts';

interface Order {
  id: number;
  items: string[];
  note: string | null;
}

describe('serializers', () => {
  it('round-trips JSON values and string keys through a broker, typed', async (t) => {
    const { bootstrap } = await startBroker(t);
    const producer = new Producer<string | null, Order | null>({
      bootstrapServers: [bootstrap],
      logger: silentLogger,
      keySerializer: stringSerializer,
      valueSerializer: jsonSerializer,
    });
    t.after(() => producer.close());
    const orders: Order[] = [
      { id: 1, items: ['tea'], note: null },
      { id: 2, items: ['bread', 'jam', 'ünïcödé'], note: 'ring twice' },
    ];
    for (const order of orders) {
      await producer.send({
        topic: 'orders',
        partition: 0,
        key: `order-${order.id}`,
        value: order,
      });
    }
    await producer.send({ topic: 'orders', partition: 0, key: 'deleted', value: null });
    // @ts-expect-error a number is not an Order
    void producer.send.bind(producer, { topic: 'orders', key: 'x', value: 42 });

    const consumer = new Consumer<string | null, Order | null>({
      bootstrapServers: [bootstrap],
      logger: silentLogger,
      autoOffsetReset: 'earliest',
      keyDeserializer: stringDeserializer,
      valueDeserializer: jsonDeserializer as Deserializer<Order | null>,
    });
    t.after(() => consumer.close());
    consumer.assign([{ topic: 'orders', partition: 0 }]);
    const read: { key: string | null; value: Order | null }[] = [];
    for await (const record of consumer) {
      const items: string[] | undefined = record.value?.items;
      assert.ok(record.value === null || Array.isArray(items));
      // @ts-expect-error record.value is an Order (or null), not a string
      const wrong: string = record.value;
      void wrong;
      read.push({ key: record.key, value: record.value });
      if (read.length === 3) break;
    }
    assert.deepEqual(read, [
      { key: 'order-1', value: orders[0] },
      { key: 'order-2', value: orders[1] },
      { key: 'deleted', value: null },
    ]);
  });

  it('JSON: null and undefined are a null record; bytes parse back to the value', () => {
    assert.equal(jsonSerializer(null), null);
    assert.equal(jsonSerializer(undefined), null);
    const bytes = jsonSerializer({ a: [1, 'b', null] });
    assert.equal(bytes?.toString('utf8'), '{"a":[1,"b",null]}');
    assert.deepEqual(jsonDeserializer(bytes ?? null), { a: [1, 'b', null] });
    assert.equal(jsonDeserializer(null), null);
    assert.throws(() => jsonDeserializer(Buffer.from('{not json')), SyntaxError);
  });
});
