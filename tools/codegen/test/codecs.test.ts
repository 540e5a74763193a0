/**
 * Every generated codec, at every version it has: fast-check round trips (decode of encode is
 * the value, and consumes every byte) and a fuzz of the decoder with random and mutated bytes
 * (it may only fail with ProtocolDecodeError).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as protocol from '../../../packages/protocol/src/index.ts';
import { ProtocolDecodeError, Reader } from '../../../packages/protocol/src/index.ts';
import type { MessageCodec } from '../../../packages/protocol/src/primitives/codec-support.ts';
import { readSpecs } from '../src/generate.ts';
import { SPEC_DIRECTORY } from '../src/main.ts';
import type { MessageSpec } from '../src/spec.ts';
import { SpecValues } from './spec-values.ts';

const specs: MessageSpec[] = [
  ...readSpecs(join(SPEC_DIRECTORY, 'message')),
  ...readSpecs(join(SPEC_DIRECTORY, 'internal')),
];

// biome-ignore lint/suspicious/noExplicitAny: the codecs of every message, looked up by name
const codecs = protocol as unknown as Record<string, MessageCodec<any, any>>;

function versionsOf(spec: MessageSpec): number[] {
  const versions: number[] = [];
  for (let v = spec.validVersions.min; v <= spec.validVersions.max; v++) versions.push(v);
  return versions;
}

const RUNS_PER_VERSION = Number(process.env.BROOK_PROPERTY_RUNS ?? 15);

describe('generated codecs round-trip every message at every version', () => {
  for (const spec of specs) {
    it(`${spec.name} v${spec.validVersions}`, () => {
      const codec = codecs[spec.name];
      assert.ok(codec, `no codec exported for ${spec.name}`);
      const values = new SpecValues(spec);
      for (const version of versionsOf(spec)) {
        fc.assert(
          fc.property(values.message(version), (value) => {
            const bytes = codec.encode(value, version);
            const reader = new Reader(bytes);
            const decoded = codec.decode(reader, version);
            assert.equal(reader.remaining, 0, 'the decoder reads every byte');
            assert.deepStrictEqual(decoded, value);
            assert.deepStrictEqual(codec.encode(decoded, version), bytes);
          }),
          { numRuns: RUNS_PER_VERSION },
        );
      }
    });
  }
});

function decodeOnlyFailsCleanly(codec: MessageCodec<unknown>, bytes: Buffer, version: number) {
  try {
    codec.decode(new Reader(bytes), version);
  } catch (error) {
    if (!(error instanceof ProtocolDecodeError)) {
      throw new Error(
        `${codec.name} v${version} threw ${String(error)} on ${bytes.toString('hex')}`,
      );
    }
  }
}

describe('generated decoders fail only with ProtocolDecodeError', () => {
  for (const spec of specs) {
    it(`${spec.name}`, () => {
      const codec = codecs[spec.name]!;
      const values = new SpecValues(spec);
      for (const version of versionsOf(spec)) {
        // Random bytes.
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
            decodeOnlyFailsCleanly(codec, Buffer.from(bytes), version);
          }),
          { numRuns: 10 },
        );
        // A valid encoding, truncated or with bytes overwritten.
        fc.assert(
          fc.property(
            values.message(version),
            fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
            fc.nat(),
            (value, edits, cut) => {
              const bytes = Buffer.from(codec.encode(value, version));
              for (const [at, byte] of edits) if (bytes.length > 0) bytes[at % bytes.length] = byte;
              decodeOnlyFailsCleanly(codec, bytes, version);
              decodeOnlyFailsCleanly(codec, bytes.subarray(0, cut % (bytes.length + 1)), version);
            },
          ),
          { numRuns: 5 },
        );
      }
    });
  }
});

describe('versions outside the spec', () => {
  it('are refused by encode and decode', () => {
    const codec = codecs.ProduceRequest!;
    assert.throws(() => codec.encode({}, 12), protocol.UnsupportedVersionError);
    assert.throws(
      () => codec.decode(new Reader(Buffer.alloc(0)), -1),
      protocol.UnsupportedVersionError,
    );
  });
});
