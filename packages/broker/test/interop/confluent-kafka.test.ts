/**
 * confluent-kafka (Debian's python3-confluent-kafka on librdkafka) end to end against Brook:
 * see python-suite.ts for the steps and confluent-kafka-driver.py for the client calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pythonClientSuite } from './python-suite.ts';
import { clientTestOptions, missingPythonModule } from './support.ts';

const missing = missingPythonModule('confluent_kafka', 'python3-confluent-kafka');

test('confluent-kafka against Brook', clientTestOptions(missing), async (t) => {
  assert.equal(missing, undefined, missing);
  await pythonClientSuite(t, {
    name: 'confluent-kafka',
    prefix: 'ck',
    driver: 'confluent-kafka-driver.py',
    noDeleteRecords: 'confluent-kafka 1.7 (Debian) has no delete_records (it came in 2.4)',
  });
});
