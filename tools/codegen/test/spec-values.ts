/**
 * Test-side knowledge of spec values: fast-check arbitraries that produce a valid value of a
 * message at a version, and the default a decoder must fill in for an absent field. Written
 * apart from the emitter on purpose, so the tests do not share the generator's mistakes.
 */
import fc from 'fast-check';
import type { FieldSpec, MessageSpec, PrimitiveType, StructSpec } from '../src/spec.ts';

type Value = unknown;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export class SpecValues {
  private readonly spec: MessageSpec;
  private readonly common = new Map<string, StructSpec>();

  constructor(spec: MessageSpec) {
    this.spec = spec;
    for (const struct of spec.commonStructs) this.common.set(struct.name, struct);
  }

  private structFields(field: FieldSpec, name: string): readonly FieldSpec[] {
    const fields = field.fields ?? this.common.get(name)?.fields;
    if (fields === undefined) throw new Error(`${this.spec.name}: no struct ${name}`);
    return fields;
  }

  /** The value a decoder gives a field its version does not carry. */
  defaultValue(field: FieldSpec): Value {
    const given = field.default;
    if (given === null || given === 'null') return null;
    const type = field.type;
    if (type.kind === 'array') return [];
    if (type.kind === 'struct') {
      return this.defaultStruct(this.structFields(field, type.name));
    }
    const text = given === undefined ? undefined : String(given).trim();
    switch (type.name) {
      case 'bool':
        return text === 'true';
      case 'int64':
        return BigInt(text ?? '0');
      case 'string':
        return text ?? '';
      case 'uuid':
        return ZERO_UUID;
      case 'bytes':
        return Buffer.alloc(0);
      case 'records':
        return null;
      default:
        if (text === undefined) return 0;
        return text.toLowerCase().includes('0x') ? Number.parseInt(text, 16) : Number(text);
    }
  }

  private defaultStruct(fields: readonly FieldSpec[]): Record<string, Value> {
    const result: Record<string, Value> = {};
    for (const field of fields) result[camelCase(field.name)] = this.defaultValue(field);
    return result;
  }

  /** Any valid value of the message at `version`: random where present, defaults elsewhere. */
  message(version: number): fc.Arbitrary<Record<string, Value>> {
    return this.struct(this.spec.fields, version, 0);
  }

  private struct(
    fields: readonly FieldSpec[],
    version: number,
    depth: number,
  ): fc.Arbitrary<Record<string, Value>> {
    const model: Record<string, fc.Arbitrary<Value>> = {};
    for (const field of fields) {
      model[camelCase(field.name)] = field.versions.contains(version)
        ? this.field(field, version, depth)
        : fc.constant(this.defaultValue(field));
    }
    return fc.record(model, { noNullPrototype: true });
  }

  private field(field: FieldSpec, version: number, depth: number): fc.Arbitrary<Value> {
    const type = field.type;
    let arbitrary: fc.Arbitrary<Value>;
    if (type.kind === 'array') {
      const element = type.element;
      const elementArbitrary =
        element.kind === 'struct'
          ? this.struct(this.structFields(field, element.name), version, depth + 1)
          : primitive(element.name);
      arbitrary = fc.array(elementArbitrary, { maxLength: depth > 2 ? 1 : 3 });
    } else if (type.kind === 'struct') {
      arbitrary = this.struct(this.structFields(field, type.name), version, depth + 1);
    } else {
      arbitrary = primitive(type.name);
    }
    const nullable = field.nullableVersions.contains(version);
    return nullable ? fc.option(arbitrary, { nil: null, freq: 4 }) : arbitrary;
  }
}

function primitive(type: PrimitiveType): fc.Arbitrary<Value> {
  switch (type) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'uint32':
      return fc.integer({ min: 0, max: 4294967295 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64':
      return fc.double();
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 12 });
    case 'uuid':
      return fc.uuid();
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes));
  }
}
