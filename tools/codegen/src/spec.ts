/**
 * The model of Kafka's message spec format (the JSON files under clients/.../common/message):
 * parsing the JSON-with-comments, version ranges, fields and structs. Emitters work only on
 * this model, never on raw JSON.
 */

/** A closed range of versions; `max` is Infinity for an open range ("3+"). Empty when min > max. */
export class Versions {
  readonly min: number;
  readonly max: number;

  constructor(min: number, max: number) {
    this.min = min;
    this.max = max;
  }

  static readonly NONE = new Versions(1, 0);
  static readonly ALL = new Versions(0, Number.POSITIVE_INFINITY);

  static parse(text: string | undefined, fallback: Versions = Versions.NONE): Versions {
    if (text === undefined) return fallback;
    const trimmed = text.trim();
    if (trimmed === 'none') return Versions.NONE;
    let match = /^(\d+)\+$/.exec(trimmed);
    if (match) return new Versions(Number(match[1]), Number.POSITIVE_INFINITY);
    match = /^(\d+)-(\d+)$/.exec(trimmed);
    if (match) return new Versions(Number(match[1]), Number(match[2]));
    match = /^(\d+)$/.exec(trimmed);
    if (match) return new Versions(Number(match[1]), Number(match[1]));
    throw new Error(`bad version range ${JSON.stringify(text)}`);
  }

  get empty(): boolean {
    return this.min > this.max;
  }

  contains(version: number): boolean {
    return version >= this.min && version <= this.max;
  }

  /** True when every version of `other` is in this range. */
  covers(other: Versions): boolean {
    return other.empty || (this.min <= other.min && this.max >= other.max);
  }

  intersect(other: Versions): Versions {
    const min = Math.max(this.min, other.min);
    const max = Math.min(this.max, other.max);
    return min > max ? Versions.NONE : new Versions(min, max);
  }

  toString(): string {
    if (this.empty) return 'none';
    if (this.max === Number.POSITIVE_INFINITY) return `${this.min}+`;
    return this.min === this.max ? `${this.min}` : `${this.min}-${this.max}`;
  }
}

export const PRIMITIVE_TYPES = [
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'string',
  'bytes',
  'uuid',
  'records',
] as const;
export type PrimitiveType = (typeof PRIMITIVE_TYPES)[number];

export function isPrimitive(type: string): type is PrimitiveType {
  return (PRIMITIVE_TYPES as readonly string[]).includes(type);
}

/** A field's type: a primitive, a struct, or an array of either. */
export type FieldType =
  | { kind: 'primitive'; name: PrimitiveType }
  | { kind: 'struct'; name: string }
  | {
      kind: 'array';
      element: { kind: 'primitive'; name: PrimitiveType } | { kind: 'struct'; name: string };
    };

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly typeText: string;
  readonly versions: Versions;
  readonly nullableVersions: Versions;
  readonly taggedVersions: Versions;
  readonly tag: number | undefined;
  /** Field-level override of the message's flexible versions (only "none" is used in specs). */
  readonly flexibleVersions: Versions | undefined;
  readonly default: string | number | boolean | null | undefined;
  readonly ignorable: boolean;
  readonly mapKey: boolean;
  readonly zeroCopy: boolean;
  readonly entityType: string | undefined;
  readonly about: string | undefined;
  /** Inline struct fields, for struct and struct-array types that declare them here. */
  readonly fields: readonly FieldSpec[] | undefined;
}

export interface StructSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
}

export type MessageKind = 'request' | 'response' | 'header' | 'data';

export interface MessageSpec {
  readonly file: string;
  readonly name: string;
  readonly kind: MessageKind;
  readonly apiKey: number | undefined;
  readonly validVersions: Versions;
  readonly flexibleVersions: Versions;
  readonly deprecatedVersions: Versions;
  readonly latestVersionUnstable: boolean;
  readonly listeners: readonly string[];
  readonly fields: readonly FieldSpec[];
  readonly commonStructs: readonly StructSpec[];
}

/** Strips `//` comments that are outside string literals. */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      out += char;
      if (char === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (char === '"') {
        inString = false;
      }
    } else if (char === '"') {
      inString = true;
      out += char;
    } else if (char === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += char;
    }
  }
  return out;
}

type Json = Record<string, unknown>;

function parseType(text: string): FieldType {
  const trimmed = text.trim();
  if (trimmed.startsWith('[]')) {
    const element = trimmed.slice(2);
    return {
      kind: 'array',
      element: isPrimitive(element)
        ? { kind: 'primitive', name: element }
        : { kind: 'struct', name: element },
    };
  }
  if (isPrimitive(trimmed)) return { kind: 'primitive', name: trimmed };
  if (!/^[A-Z]\w*$/.test(trimmed)) throw new Error(`unknown field type ${JSON.stringify(text)}`);
  return { kind: 'struct', name: trimmed };
}

function parseField(json: Json, file: string): FieldSpec {
  const name = String(json.name);
  const typeText = String(json.type);
  const type = parseType(typeText);
  const fieldsJson = json.fields as Json[] | undefined;
  const tag = json.tag === undefined ? undefined : Number(json.tag);
  const taggedVersions = Versions.parse(json.taggedVersions as string | undefined);
  // A tagged field without "versions" exists in its tagged versions (as Kafka's FieldSpec).
  const versions = Versions.parse(json.versions as string | undefined, taggedVersions);
  if (versions.empty && json.versions !== 'none') {
    throw new Error(`${file}: field ${name} has no versions`);
  }
  if ((tag === undefined) !== taggedVersions.empty) {
    throw new Error(`${file}: field ${name} needs both tag and taggedVersions`);
  }
  return {
    name,
    type,
    typeText,
    versions,
    nullableVersions: Versions.parse(json.nullableVersions as string | undefined),
    taggedVersions,
    tag,
    flexibleVersions:
      json.flexibleVersions === undefined
        ? undefined
        : Versions.parse(json.flexibleVersions as string),
    default: json.default as FieldSpec['default'],
    ignorable: json.ignorable === true,
    mapKey: json.mapKey === true,
    zeroCopy: json.zeroCopy === true,
    entityType: json.entityType as string | undefined,
    about: json.about as string | undefined,
    fields: fieldsJson?.map((f) => parseField(f, file)),
  };
}

export function parseMessageSpec(file: string, text: string): MessageSpec {
  const json = JSON.parse(stripJsonComments(text)) as Json;
  const kind = String(json.type) as MessageKind;
  if (!['request', 'response', 'header', 'data'].includes(kind)) {
    throw new Error(`${file}: unknown message type ${String(json.type)}`);
  }
  const validVersions = Versions.parse(json.validVersions as string);
  return {
    file,
    name: String(json.name),
    kind,
    apiKey: json.apiKey === undefined ? undefined : Number(json.apiKey),
    validVersions,
    flexibleVersions: Versions.parse(json.flexibleVersions as string | undefined),
    deprecatedVersions: Versions.parse(json.deprecatedVersions as string | undefined),
    latestVersionUnstable: json.latestVersionUnstable === true,
    listeners: (json.listeners as string[] | undefined) ?? [],
    fields: ((json.fields as Json[] | undefined) ?? []).map((f) => parseField(f, file)),
    commonStructs: ((json.commonStructs as Json[] | undefined) ?? []).map((s) => ({
      name: String(s.name),
      fields: ((s.fields as Json[] | undefined) ?? []).map((f) => parseField(f, file)),
    })),
  };
}
