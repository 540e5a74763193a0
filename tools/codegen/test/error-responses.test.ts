/**
 * The generated error responses (`fooErrorResponse`, `ApiDescriptor.errorResponse`): each
 * encodes at every version of its API for any request, carries the error on every entry it
 * echoes (one per request entry, with its keys), and has the shape Kafka's `getErrorResponse` gives (checked for a sample of APIs).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { API_TABLE, Reader } from '../../../packages/protocol/src/index.ts';
import {
  describePlan,
  ECHO_OVERRIDES,
  ErrorResponsePlanner,
  type StructPlan,
} from '../src/error-response.ts';
import { readSpecs } from '../src/generate.ts';
import { SPEC_DIRECTORY } from '../src/main.ts';
import type { FieldSpec, MessageSpec } from '../src/spec.ts';
import { SpecValues } from './spec-values.ts';

const specs = readSpecs(join(SPEC_DIRECTORY, 'message'));

function specPair(apiKey: number): { request: MessageSpec; response: MessageSpec } {
  const request = specs.find((s) => s.kind === 'request' && s.apiKey === apiKey);
  const response = specs.find((s) => s.kind === 'response' && s.apiKey === apiKey);
  assert.ok(request && response, `specs of api key ${apiKey}`);
  return { request, response };
}

const ERROR = 35;
const MESSAGE = 'not here';

function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

type Value = Record<string, unknown>;

/** The request entries an echo maps over, at `version` (flattened through its path). */
function sourceEntries(request: Value, path: readonly FieldSpec[], version: number): unknown[] {
  let items: unknown[] = [request];
  for (const field of path) {
    if (!field.versions.contains(version)) return [];
    items = items.flatMap((item) => ((item as Value)[camelCase(field.name)] ?? []) as unknown[]);
  }
  return items;
}

/**
 * Checks a decoded error response against its plan: every error field its version has holds the
 * error and message, and every echoed array has one entry per request entry, with its keys.
 */
function check(plan: StructPlan, response: Value, request: Value, version: number): void {
  if (plan.errorCode?.versions.contains(version)) {
    assert.equal(response[camelCase(plan.errorCode.name)], ERROR);
  }
  if (plan.errorMessage?.versions.contains(version)) {
    assert.equal(response[camelCase(plan.errorMessage.name)], MESSAGE);
  }
  for (const [field, from] of plan.keys) {
    if (!field.versions.contains(version) || from === 'id') continue;
    const value = request[camelCase(from.name)];
    if (value !== null) assert.deepEqual(response[camelCase(field.name)], value, field.name);
  }
  for (const echo of plan.echoes.values()) {
    if (!echo.field.versions.contains(version)) continue;
    const entries = response[camelCase(echo.field.name)] as Value[];
    let at = 0;
    for (const { source, entry } of echo.sources) {
      for (const item of sourceEntries(request, source.path, version)) {
        const echoed = entries[at++];
        assert.ok(echoed, `${echo.field.name}: one entry per request entry`);
        if (source.kind === 'struct') check(entry, echoed, item as Value, version);
        else check(entry, echoed, {}, version);
      }
    }
    assert.equal(entries.length, at, `${echo.field.name}: one entry per request entry`);
  }
}

describe('error responses', () => {
  for (const api of API_TABLE) {
    it(`${api.name} encodes at every version with the error on every entry`, () => {
      const { request, response } = specPair(api.apiKey);
      const plan = new ErrorResponsePlanner(request, response).plan();
      const values = new SpecValues(request);
      for (let version = api.minVersion; version <= api.maxVersion; version++) {
        fc.assert(
          fc.property(values.message(version), (input) => {
            // Decode what was encoded, so the request is what a broker sees.
            const decoded = api.request.decode(
              new Reader(api.request.encode(input, version)),
              version,
            );
            const body = api.errorResponse(decoded, version, ERROR, MESSAGE);
            const bytes = api.response.encode(body, version);
            check(plan, api.response.decode(new Reader(bytes), version), decoded, version);
          }),
          { numRuns: 10 },
        );
      }
    });
  }

  it('carry the error to the client at every version, given entries to echo', () => {
    /** Whether a plan sets an error at `version`: at its top, or on an echoed entry. */
    const reaches = (plan: StructPlan, version: number): boolean =>
      (plan.errorCode?.versions.contains(version) ?? false) ||
      [...plan.echoes.values()].some(
        (echo) =>
          echo.field.versions.contains(version) &&
          echo.sources.some(
            ({ source, entry }) =>
              source.path.every((f) => f.versions.contains(version)) && reaches(entry, version),
          ),
      );
    const silent: string[] = [];
    for (const api of API_TABLE) {
      const { request, response } = specPair(api.apiKey);
      const plan = new ErrorResponsePlanner(request, response).plan();
      for (let version = api.minVersion; version <= api.maxVersion; version++) {
        if (!reaches(plan, version)) silent.push(`${api.name} v${version}`);
      }
    }
    // DescribeLogDirs has no top-level error before v3, and results only per log dir: Kafka's
    // error response to v0-2 is empty too.
    assert.deepEqual(silent, ['DescribeLogDirs v0', 'DescribeLogDirs v1', 'DescribeLogDirs v2']);
  });

  it('use every override (none is left from an older spec)', () => {
    const used = new Set<string>();
    for (const api of API_TABLE) {
      const { request, response } = specPair(api.apiKey);
      const planner = new ErrorResponsePlanner(request, response);
      planner.plan();
      for (const path of planner.overridesUsed) used.add(path);
    }
    assert.deepEqual([...used].sort(), Object.keys(ECHO_OVERRIDES).sort());
  });

  it('have the shape of Kafka’s getErrorResponse', () => {
    // What each XxxRequest.getErrorResponse in Kafka's clients builds, as the planner says it.
    const expected: Record<number, string> = {
      0: 'Responses<-TopicData{Name=Name PartitionResponses<-PartitionData{ErrorCode=error ErrorMessage=message Index=Index}}',
      1: 'ErrorCode=error Responses<-Topics{Topic=Topic TopicId=TopicId Partitions<-Partitions{ErrorCode=error PartitionIndex=Partition}}',
      3: 'Topics<-Topics{ErrorCode=error Name=Name TopicId=TopicId}',
      20: 'Responses<-TopicNames{ErrorCode=error ErrorMessage=message Name=id}+Topics{ErrorCode=error ErrorMessage=message Name=Name TopicId=TopicId}',
      24: 'ErrorCode=error ResultsByTopicV3AndBelow<-V3AndBelowTopics{Name=Name ResultsByPartition<-Partitions{PartitionErrorCode=error PartitionIndex=id}}',
      26: 'ErrorCode=error',
      27: 'Markers<-Markers{ProducerId=ProducerId Topics<-Topics{Name=Name Partitions<-PartitionIndexes{ErrorCode=error PartitionIndex=id}}}',
      29: 'ErrorCode=error ErrorMessage=message',
      30: 'Results<-Creations{ErrorCode=error ErrorMessage=message}',
      32: 'Results<-Resources{ErrorCode=error ErrorMessage=message ResourceType=ResourceType ResourceName=ResourceName}',
      34: 'Results<-Dirs.Topics{TopicName=Name Partitions<-Partitions{ErrorCode=error PartitionIndex=id}}',
      43: 'ErrorCode=error ReplicaElectionResults<-TopicPartitions{Topic=Topic PartitionResult<-Partitions{ErrorCode=error ErrorMessage=message PartitionId=id}}',
      46: 'ErrorCode=error ErrorMessage=message Topics<-Topics{Name=Name Partitions<-PartitionIndexes{PartitionIndex=id}}',
      48: 'ErrorCode=error ErrorMessage=message',
      49: 'Entries<-Entries{ErrorCode=error ErrorMessage=message Entity<-Entity{EntityType=EntityType EntityName=EntityName}}',
      51: 'Results<-Deletions{ErrorCode=error ErrorMessage=message User=Name}+Upsertions{ErrorCode=error ErrorMessage=message User=Name}',
      55: 'ErrorCode=error ErrorMessage=message',
      65: 'TransactionStates<-TransactionalIds{ErrorCode=error TransactionalId=id}',
      69: 'Groups<-GroupIds{ErrorCode=error ErrorMessage=message GroupId=id}',
      72: 'ErrorCode=error',
      78: 'ErrorCode=error ErrorMessage=message',
      84: 'Results<-Topics{TopicId=TopicId Partitions<-Partitions{ErrorCode=error ErrorMessage=message Partition=Partition}}',
    };
    for (const [apiKey, shape] of Object.entries(expected)) {
      const { request, response } = specPair(Number(apiKey));
      const plan = new ErrorResponsePlanner(request, response).plan();
      assert.equal(describePlan(plan), shape, request.name);
    }
  });
});
