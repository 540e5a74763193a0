import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BrookError } from '../../src/errors/brook-error.ts';
import {
  ErrorCode,
  type ErrorName,
  isRetriable,
  KAFKA_ERRORS,
  KafkaProtocolError,
  kafkaErrorForCode,
} from '../../src/errors/error-codes.ts';

describe('Kafka error codes', () => {
  it('knows the well-known codes, names and retriability', () => {
    const cases: [number, ErrorName, boolean][] = [
      [-1, 'UNKNOWN_SERVER_ERROR', false],
      [0, 'NONE', false],
      [3, 'UNKNOWN_TOPIC_OR_PARTITION', true],
      [6, 'NOT_LEADER_OR_FOLLOWER', true],
      [7, 'REQUEST_TIMED_OUT', true],
      [14, 'COORDINATOR_LOAD_IN_PROGRESS', true],
      [15, 'COORDINATOR_NOT_AVAILABLE', true],
      [16, 'NOT_COORDINATOR', true],
      [22, 'ILLEGAL_GENERATION', false],
      [25, 'UNKNOWN_MEMBER_ID', false],
      [27, 'REBALANCE_IN_PROGRESS', false],
      [35, 'UNSUPPORTED_VERSION', false],
      [36, 'TOPIC_ALREADY_EXISTS', false],
      [79, 'MEMBER_ID_REQUIRED', false],
      [82, 'FENCED_INSTANCE_ID', false],
    ];
    for (const [code, name, retriable] of cases) {
      assert.equal(ErrorCode[name], code, name);
      const error = kafkaErrorForCode(code);
      assert.equal(error.name, name);
      assert.equal(error.code, code);
      assert.equal(error.retriable, retriable, name);
      assert.equal(isRetriable(code), retriable, name);
    }
    assert.equal(
      kafkaErrorForCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).message,
      'This server does not host this topic-partition.',
    );
  });

  it('types each code as its literal', () => {
    const none: 0 = ErrorCode.NONE;
    const unknown: -1 = ErrorCode.UNKNOWN_SERVER_ERROR;
    const topic: 3 = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    assert.deepEqual([none, unknown, topic], [0, -1, 3]);
  });

  it('lists every code once, in order, with no gaps from -1', () => {
    const codes = KAFKA_ERRORS.map((e) => e.code);
    assert.equal(new Set(codes).size, codes.length);
    assert.deepEqual(
      codes,
      codes.map((_, i) => i - 1),
    );
    assert.ok(codes.length >= 130, `only ${codes.length} codes`);
  });

  it('has unique UPPER_SNAKE names and a message for every error but NONE', () => {
    const names = KAFKA_ERRORS.map((e) => e.name);
    assert.equal(new Set(names).size, names.length);
    for (const e of KAFKA_ERRORS) {
      assert.match(e.name, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      if (e.code === 0) assert.equal(e.message, '');
      else assert.ok(e.message.length > 0, e.name);
    }
  });

  it('agrees with ErrorCode in both directions', () => {
    assert.equal(Object.keys(ErrorCode).length, KAFKA_ERRORS.length);
    for (const e of KAFKA_ERRORS) {
      assert.equal(ErrorCode[e.name as ErrorName], e.code);
      assert.equal(kafkaErrorForCode(e.code), e);
    }
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(ErrorCode));
    assert.ok(Object.isFrozen(KAFKA_ERRORS));
    assert.ok(KAFKA_ERRORS.every((e) => Object.isFrozen(e)));
  });

  it('maps unknown codes to a non-retriable fallback', () => {
    assert.deepEqual(kafkaErrorForCode(32767), {
      code: 32767,
      name: 'UNKNOWN',
      retriable: false,
      message: 'Unknown error code 32767',
    });
    assert.equal(isRetriable(-2), false);
  });

  it('answers for any int16', () => {
    const known = new Set(KAFKA_ERRORS.map((e) => e.code));
    fc.assert(
      fc.property(fc.integer({ min: -32768, max: 32767 }), (code) => {
        const error = kafkaErrorForCode(code);
        assert.equal(error.code, code);
        assert.equal(error.name === 'UNKNOWN', !known.has(code));
        assert.equal(isRetriable(code), error.retriable);
      }),
    );
  });
});

describe('KafkaProtocolError', () => {
  it('carries the Kafka code, name and retriability', () => {
    const error = new KafkaProtocolError(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.ok(error instanceof BrookError);
    assert.equal(error.code, 'BROOK_ERR_KAFKA');
    assert.equal(error.name, 'KafkaProtocolError');
    assert.equal(error.errorCode, 6);
    assert.equal(error.errorName, 'NOT_LEADER_OR_FOLLOWER');
    assert.equal(error.retriable, true);
    assert.match(error.message, /^NOT_LEADER_OR_FOLLOWER \(6\): For requests intended only/);
  });

  it('prefers the server message and keeps a cause', () => {
    const cause = new Error('underlying');
    const error = new KafkaProtocolError(ErrorCode.TOPIC_ALREADY_EXISTS, "Topic 'a' exists.", {
      cause,
    });
    assert.equal(error.message, "TOPIC_ALREADY_EXISTS (36): Topic 'a' exists.");
    assert.equal(error.retriable, false);
    assert.equal(error.cause, cause);
    assert.match(new KafkaProtocolError(36, null).message, /Topic with this name already exists/);
  });

  it('accepts codes it does not know', () => {
    const error = new KafkaProtocolError(999);
    assert.equal(error.errorCode, 999);
    assert.equal(error.errorName, 'UNKNOWN');
    assert.equal(error.retriable, false);
    assert.equal(error.message, 'UNKNOWN (999): Unknown error code 999');
  });
});
