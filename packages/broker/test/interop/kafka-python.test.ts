/**
 * kafka-python (Debian's python3-kafka, with python3-snappy, -lz4 and -zstandard for the codecs)
 * end to end against Brook: see python-suite.ts for the steps and kafka-python-driver.py for the
 * client calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pythonClientSuite } from './python-suite.ts';
import { clientTestOptions, missingPythonModule } from './support.ts';

const missing =
  missingPythonModule('kafka', 'python3-kafka') ??
  missingPythonModule(
    'snappy, lz4.frame, zstandard',
    'python3-snappy python3-lz4 python3-zstandard',
  );

test('kafka-python against Brook', clientTestOptions(missing), async (t) => {
  assert.equal(missing, undefined, missing);
  await pythonClientSuite(t, {
    name: 'kafka-python',
    prefix: 'kp',
    driver: 'kafka-python-driver.py',
    noIdempotence: 'kafka-python 2.0.2 (Debian) has no idempotent producer',
    noDeleteRecords: 'kafka-python 2.0.2 (Debian) has no DeleteRecords',
  });
});
