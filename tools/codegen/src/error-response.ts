/**
 * The shape of an API's error response, derived from its request and response specs: what
 * Apache Kafka's `AbstractRequest.getErrorResponse` builds for a request it cannot serve.
 *
 * The rule, applied from the response's top level down:
 *
 * - A struct's error field (`ErrorCode`, or else its one int16 field named `…ErrorCode`) gets the
 *   error, and its `ErrorMessage` (or its one `…ErrorMessage` field) the message.
 * - A response array of structs echoes a request array of the struct it is paired with, one
 *   entry per request entry, when its entries can carry an error (an error field in them or
 *   deeper). It is paired with, in this order: the request array of the same name
 *   (`Topics`/`Topics`); the request array of structs that shares the most identity fields
 *   (`Name`, `PartitionIndex`, `ResourceType` …, or `mapKey` fields) with its entries
 *   (Produce `Responses` ← `TopicData`); or, when a single request array of ids is left
 *   (`[]int32 Partitions`, `[]string GroupIds`), that one (ElectLeaders `PartitionResult` ←
 *   `Partitions`).
 * - An echoed entry copies the identity fields its request entry has (a topic name may be
 *   `Name`, `Topic` or `TopicName`; a partition `PartitionIndex`, `Partition`, `PartitionId` or
 *   `Index`), or the id itself for an array of ids.
 * - Every other field keeps its spec default.
 *
 * Where that rule does not give Kafka's response, `ECHO_OVERRIDES` says what to do instead, and
 * a pairing the rule finds ambiguous is an error until an override settles it.
 */
import type { FieldSpec, MessageSpec, PrimitiveType } from './spec.ts';

/** Fields that name what an entry is about, and so are echoed from the request. */
const IDENTITY_NAMES = new Set([
  'Name',
  'Topic',
  'TopicName',
  'TopicId',
  'PartitionIndex',
  'Partition',
  'PartitionId',
  'Index',
  'ResourceType',
  'ResourceName',
  'GroupId',
  'TransactionalId',
  'ProducerId',
  'Key',
  'EntityType',
  'EntityName',
  'Feature',
  'MemberId',
  'GroupInstanceId',
]);

/** Names one concept has across specs: a response field may echo any of its group. */
const ALIASES: readonly (readonly string[])[] = [
  ['Name', 'Topic', 'TopicName'],
  ['PartitionIndex', 'Partition', 'PartitionId', 'Index'],
];

/**
 * Decisions the rule cannot make, by response path (`ResponseName.Field.Field`): the request
 * arrays to echo (relative to the paired request struct; `A.B` flattens B of every A; several
 * are concatenated, for fields that exist in different versions), with `keys` naming request
 * fields for response fields the rule cannot pair; or null to echo nothing, as Kafka.
 */
export const ECHO_OVERRIDES: Readonly<
  Record<string, { from: readonly string[]; keys?: Record<string, string> } | null>
> = {
  // Kafka echoes the fetched topics; ForgottenTopicsData has the same identity fields.
  'FetchResponse.Responses': { from: ['Topics'] },
  // Entries without keys: one result per creation or filter (Kafka's nCopies).
  'CreateAclsResponse.Results': { from: ['Creations'] },
  'DeleteAclsResponse.FilterResults': { from: ['Filters'] },
  // One result per requested user, its user left empty (as Kafka does).
  'DescribeUserScramCredentialsResponse.Results': { from: ['Users'] },
  // Kafka answers per user of the deletions and upsertions (it also de-duplicates them).
  'AlterUserScramCredentialsResponse.Results': {
    from: ['Deletions', 'Upsertions'],
    keys: { User: 'Name' },
  },
  // v0-5 name topics in TopicNames, v6+ in Topics.
  'DeleteTopicsResponse.Responses': { from: ['TopicNames', 'Topics'] },
  // The results are per topic, across the request's log dirs.
  'AlterReplicaLogDirsResponse.Results': { from: ['Dirs.Topics'] },
  // Kafka echoes the topics and partitions, though their entries carry no error.
  'ListPartitionReassignmentsResponse.Topics': { from: ['Topics'] },
  'ListPartitionReassignmentsResponse.Topics.Partitions': { from: ['PartitionIndexes'] },
  // Kafka echoes each entry's entity, though it carries no error.
  'AlterClientQuotasResponse.Entries.Entity': { from: ['Entity'] },
  // Kafka sets only the top-level error of these.
  'AddPartitionsToTxnResponse.ResultsByTransaction': null,
  'AlterPartitionResponse.Topics': null,
  'AssignReplicasToDirsResponse.Directories': null,
  'BeginQuorumEpochResponse.Topics': null,
  'DescribeQuorumResponse.Topics': null,
  'EndQuorumEpochResponse.Topics': null,
  'FetchSnapshotResponse.Topics': null,
  'LeaveGroupResponse.Members': null,
  // v8+: one entry per group with its error, and no topics.
  'OffsetFetchResponse.Groups.Topics': null,
  'OffsetDeleteResponse.Topics': null,
  'ShareAcknowledgeResponse.Responses': null,
  'ShareFetchResponse.Responses': null,
  'UpdateFeaturesResponse.Results': null,
  'VoteResponse.Topics': null,
  // Kafka flattens the topic states of v1+ into partition errors (ZooKeeper-mode APIs, gone
  // in Kafka 4): Brook sets only the top-level error.
  'LeaderAndIsrResponse.PartitionErrors': null,
  'LeaderAndIsrResponse.Topics': null,
  'StopReplicaResponse.PartitionErrors': null,
};

/** Where an echoed entry comes from: a request struct entry, or an id of an array of ids. */
export type EchoSource =
  | { readonly kind: 'struct'; readonly path: readonly FieldSpec[]; readonly fields: StructFields }
  | { readonly kind: 'id'; readonly path: readonly FieldSpec[]; readonly type: PrimitiveType };

export interface Echo {
  /** The response array. */
  readonly field: FieldSpec;
  /** One request array per source; concatenated. */
  readonly sources: readonly { readonly source: EchoSource; readonly entry: StructPlan }[];
}

/** What a response struct of the error response holds. */
export interface StructPlan {
  readonly errorCode: FieldSpec | undefined;
  readonly errorMessage: FieldSpec | undefined;
  /** Response fields copied from the request entry: a field of it, or the id itself. */
  readonly keys: ReadonlyMap<FieldSpec, FieldSpec | 'id'>;
  readonly echoes: ReadonlyMap<FieldSpec, Echo>;
}

type StructFields = readonly FieldSpec[];

function structFieldsOf(spec: MessageSpec, field: FieldSpec): StructFields | undefined {
  if (field.fields !== undefined) return field.fields;
  const type = field.type;
  const name =
    type.kind === 'struct'
      ? type.name
      : type.kind === 'array' && type.element.kind === 'struct'
        ? type.element.name
        : undefined;
  if (name === undefined) return undefined;
  const common = spec.commonStructs.find((s) => s.name === name);
  if (common === undefined) throw new Error(`${spec.file}: no struct ${name}`);
  return common.fields;
}

function isStructArray(field: FieldSpec): boolean {
  return field.type.kind === 'array' && field.type.element.kind === 'struct';
}

function primitiveOf(field: FieldSpec): PrimitiveType | undefined {
  return field.type.kind === 'primitive' ? field.type.name : undefined;
}

function idTypeOf(field: FieldSpec): PrimitiveType | undefined {
  return field.type.kind === 'array' && field.type.element.kind === 'primitive'
    ? field.type.element.name
    : undefined;
}

function errorField(
  fields: StructFields,
  suffix: string,
  type: PrimitiveType,
): FieldSpec | undefined {
  const exact = fields.find((f) => f.name === suffix && primitiveOf(f) === type);
  if (exact !== undefined) return exact;
  const others = fields.filter((f) => f.name.endsWith(suffix) && primitiveOf(f) === type);
  return others.length === 1 ? others[0] : undefined;
}

function sameConcept(a: string, b: string): boolean {
  return a === b || ALIASES.some((group) => group.includes(a) && group.includes(b));
}

/** Singular of an array name: `PartitionIndexes` → `PartitionIndex`, `GroupIds` → `GroupId`. */
function singular(name: string): string {
  if (name.endsWith('Indexes')) return name.slice(0, -2);
  return name.endsWith('s') ? name.slice(0, -1) : name;
}

/** Plans the error response of one API (`plan()`), from its request and response specs. */
export class ErrorResponsePlanner {
  private readonly request: MessageSpec;
  private readonly response: MessageSpec;
  /** The ECHO_OVERRIDES entries this API's plan applied (a test checks none is stale). */
  readonly overridesUsed = new Set<string>();

  constructor(request: MessageSpec, response: MessageSpec) {
    this.request = request;
    this.response = response;
  }

  plan(): StructPlan {
    return this.struct(
      this.response.name,
      this.response.fields,
      {
        kind: 'struct',
        path: [],
        fields: this.request.fields,
      },
      true,
    );
  }

  /** True when the struct or a struct under it has an error field. */
  private carriesError(fields: StructFields): boolean {
    if (errorField(fields, 'ErrorCode', 'int16') !== undefined) return true;
    return fields.some((f) => {
      const inner = structFieldsOf(this.response, f);
      return inner !== undefined && this.carriesError(inner);
    });
  }

  private isIdentity(field: FieldSpec): boolean {
    return primitiveOf(field) !== undefined && (field.mapKey || IDENTITY_NAMES.has(field.name));
  }

  /** The request field a response identity field echoes, in a request struct entry. */
  private keyFor(field: FieldSpec, requestFields: StructFields): FieldSpec | undefined {
    const type = primitiveOf(field);
    const candidates = requestFields.filter((f) => primitiveOf(f) === type);
    return (
      candidates.find((f) => f.name === field.name) ??
      candidates.find((f) => sameConcept(f.name, field.name))
    );
  }

  /** The response field that holds the id, for an entry echoed from an array of ids. */
  private idKey(
    path: string,
    fields: StructFields,
    arrayName: string,
    type: PrimitiveType,
  ): FieldSpec | undefined {
    const errors = new Set([
      errorField(fields, 'ErrorCode', 'int16'),
      errorField(fields, 'ErrorMessage', 'string'),
    ]);
    const candidates = fields.filter((f) => primitiveOf(f) === type && !errors.has(f));
    if (candidates.length === 1) return candidates[0];
    const one = singular(arrayName);
    const found =
      candidates.find((f) => f.name === one) ??
      candidates.find((f) => f.name === `${one}Id`) ??
      candidates.find((f) => one.endsWith(f.name));
    if (found === undefined && candidates.length > 0) {
      throw new Error(`${path}: which field holds an id of ${arrayName} is ambiguous`);
    }
    return found;
  }

  private resolveSource(path: string, from: string, requestFields: StructFields): EchoSource {
    const chain: FieldSpec[] = [];
    let fields = requestFields;
    const parts = from.split('.');
    for (const [i, part] of parts.entries()) {
      const field = fields.find((f) => f.name === part);
      if (field === undefined) throw new Error(`${path}: the request has no array ${from}`);
      chain.push(field);
      const inner = structFieldsOf(this.request, field);
      const last = i === parts.length - 1;
      if (!last) {
        if (inner === undefined || field.type.kind !== 'array') {
          throw new Error(`${path}: ${from} does not go through arrays of structs`);
        }
        fields = inner;
      } else if (inner !== undefined && isStructArray(field)) {
        return { kind: 'struct', path: chain, fields: inner };
      } else {
        const type = idTypeOf(field);
        if (type === undefined) throw new Error(`${path}: ${from} is not an array`);
        return { kind: 'id', path: chain, type };
      }
    }
    throw new Error(`${path}: empty source`);
  }

  private struct(
    path: string,
    fields: StructFields,
    source: EchoSource,
    isRoot: boolean,
    keyOverrides: Record<string, string> = {},
  ): StructPlan {
    const errorCode = errorField(fields, 'ErrorCode', 'int16');
    const errorMessage =
      errorCode === undefined ? undefined : errorField(fields, 'ErrorMessage', 'string');
    const keys = new Map<FieldSpec, FieldSpec | 'id'>();
    if (!isRoot) {
      if (source.kind === 'id') {
        const last = source.path[source.path.length - 1]!;
        const key = this.idKey(path, fields, last.name, source.type);
        if (key !== undefined) keys.set(key, 'id');
      } else {
        for (const field of fields) {
          const named = keyOverrides[field.name];
          const from =
            named !== undefined
              ? source.fields.find((f) => f.name === named)
              : this.isIdentity(field)
                ? this.keyFor(field, source.fields)
                : undefined;
          if (named !== undefined && (from === undefined || from.typeText !== field.typeText)) {
            throw new Error(`${path}: the request entry has no ${field.typeText} ${named}`);
          }
          if (from !== undefined && field !== errorCode && field !== errorMessage) {
            keys.set(field, from);
          }
        }
      }
    }
    const echoes = new Map<FieldSpec, Echo>();
    const requestFields = source.kind === 'struct' ? source.fields : [];
    const requestArrays = requestFields.filter((f) => f.type.kind === 'array');
    const used = new Set<FieldSpec>();
    const pairs = new Map<FieldSpec, { sources: EchoSource[]; keys?: Record<string, string> }>();
    const responseArrays = fields.filter(isStructArray);
    // Overrides first, then arrays of the same name, then shared identity fields.
    const open: FieldSpec[] = [];
    for (const field of responseArrays) {
      const fieldPath = `${path}.${field.name}`;
      if (fieldPath in ECHO_OVERRIDES) {
        this.overridesUsed.add(fieldPath);
        const override = ECHO_OVERRIDES[fieldPath];
        if (override === null || override === undefined) continue;
        const sources = override.from.map((from) =>
          this.resolveSource(fieldPath, from, requestFields),
        );
        for (const s of sources) used.add(s.path[0]!);
        pairs.set(field, { sources, ...(override.keys ? { keys: override.keys } : {}) });
        continue;
      }
      const entryFields = structFieldsOf(this.response, field)!;
      if (!this.carriesError(entryFields)) continue;
      const same = requestArrays.find((f) => f.name === field.name && !used.has(f));
      if (same !== undefined) {
        used.add(same);
        pairs.set(field, { sources: [this.resolveSource(fieldPath, same.name, requestFields)] });
      } else {
        open.push(field);
      }
    }
    const ids: FieldSpec[] = [];
    for (const field of open) {
      const fieldPath = `${path}.${field.name}`;
      const identities = structFieldsOf(this.response, field)!.filter((f) => this.isIdentity(f));
      let best: FieldSpec[] = [];
      let bestScore = 0;
      for (const candidate of requestArrays) {
        if (used.has(candidate) || !isStructArray(candidate)) continue;
        const candidateFields = structFieldsOf(this.request, candidate)!;
        const score = identities.filter((f) => this.keyFor(f, candidateFields)).length;
        if (score > bestScore) {
          best = [candidate];
          bestScore = score;
        } else if (score === bestScore && score > 0) {
          best.push(candidate);
        }
      }
      if (best.length > 1) {
        throw new Error(
          `${fieldPath}: echo ${best.map((f) => f.name).join(' or ')}? Settle it in ECHO_OVERRIDES`,
        );
      }
      if (best.length === 1) {
        used.add(best[0]!);
        pairs.set(field, {
          sources: [this.resolveSource(fieldPath, best[0]!.name, requestFields)],
        });
      } else {
        ids.push(field);
      }
    }
    const idArrays = requestArrays.filter((f) => !used.has(f) && idTypeOf(f) !== undefined);
    if (ids.length === 1 && idArrays.length === 1) {
      const field = ids[0]!;
      pairs.set(field, {
        sources: [this.resolveSource(`${path}.${field.name}`, idArrays[0]!.name, requestFields)],
      });
    }
    for (const field of responseArrays) {
      const pair = pairs.get(field);
      if (pair === undefined) continue;
      const entryFields = structFieldsOf(this.response, field)!;
      echoes.set(field, {
        field,
        sources: pair.sources.map((s) => ({
          source: s,
          entry: this.struct(`${path}.${field.name}`, entryFields, s, false, pair.keys),
        })),
      });
    }
    return { errorCode, errorMessage, keys, echoes };
  }
}

/** A one-line summary of a plan (for tests and for reading what the rule decided). */
export function describePlan(plan: StructPlan): string {
  const parts: string[] = [];
  if (plan.errorCode) parts.push(`${plan.errorCode.name}=error`);
  if (plan.errorMessage) parts.push(`${plan.errorMessage.name}=message`);
  for (const [field, from] of plan.keys) {
    parts.push(`${field.name}=${from === 'id' ? 'id' : from.name}`);
  }
  for (const echo of plan.echoes.values()) {
    const sources = echo.sources.map(
      (s) => `${s.source.path.map((f) => f.name).join('.')}{${describePlan(s.entry)}}`,
    );
    parts.push(`${echo.field.name}<-${sources.join('+')}`);
  }
  return parts.join(' ');
}
