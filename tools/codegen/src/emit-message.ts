/**
 * Emits the TypeScript of one message spec: for every struct (the message itself, inline
 * structs and common structs) a decoded type, an input type, a writer and a reader, and a
 * `MessageCodec` object for the message.
 *
 * Version checks are emitted as comparisons on `version`, simplified against the versions in
 * which the struct can appear at all ("reach"), so a field present in every reachable version
 * costs no check.
 */
import { type EchoSource, ErrorResponsePlanner, type StructPlan } from './error-response.ts';
import type { FieldSpec, FieldType, MessageSpec, PrimitiveType, StructSpec } from './spec.ts';
import { Versions } from './spec.ts';

interface StructInfo {
  readonly spec: StructSpec;
  readonly typeName: string;
  readonly reach: Versions;
  readonly isRoot: boolean;
}

/** A version condition: always, never, or an expression over `version`. */
type Condition = 'true' | 'false' | string;

export function condition(versions: Versions, reach: Versions): Condition {
  const within = versions.intersect(reach);
  if (within.empty) return 'false';
  if (versions.covers(reach)) return 'true';
  const parts: string[] = [];
  if (within.min > reach.min) parts.push(`version >= ${within.min}`);
  if (within.max < reach.max) parts.push(`version <= ${within.max}`);
  return parts.join(' && ');
}

function and(a: Condition, b: Condition): Condition {
  if (a === 'false' || b === 'false') return 'false';
  if (a === 'true') return b;
  if (b === 'true') return a;
  return `${a} && ${b}`;
}

export function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

const NUMBER_TYPES = new Set<PrimitiveType>([
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float64',
]);

const INT_RANGES: Partial<Record<PrimitiveType, [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

export class MessageEmitter {
  private readonly spec: MessageSpec;
  private readonly structs = new Map<string, StructInfo>();
  private readonly commonStructs = new Map<string, StructSpec>();
  /** Structs whose default value is needed (absent struct fields, tagged struct fields). */
  private readonly needsDefault = new Set<string>();
  private readonly needsIsDefault = new Set<string>();
  private readonly out: string[] = [];
  readonly imports = new Set<string>();

  constructor(spec: MessageSpec) {
    this.spec = spec;
    for (const common of spec.commonStructs) this.commonStructs.set(common.name, common);
    const root: StructSpec = { name: spec.name, fields: spec.fields };
    this.collect(root, spec.name, spec.validVersions, true);
  }

  private collect(spec: StructSpec, typeName: string, reach: Versions, isRoot: boolean): void {
    if (this.structs.has(typeName)) {
      throw new Error(`${this.spec.file}: struct ${spec.name} is defined twice`);
    }
    this.structs.set(typeName, { spec, typeName, reach, isRoot });
    for (const field of spec.fields) {
      const struct = structName(field.type);
      if (struct === undefined) continue;
      const fieldReach = reach.intersect(field.versions);
      if (field.fields !== undefined) {
        this.collect(
          { name: struct, fields: field.fields },
          this.typeNameOf(struct),
          fieldReach,
          false,
        );
      } else if (!this.structs.has(this.typeNameOf(struct))) {
        const common = this.commonStructs.get(struct);
        if (common === undefined) {
          throw new Error(`${this.spec.file}: field ${field.name} uses unknown struct ${struct}`);
        }
        // Common structs can be used from several places: check them against every version.
        this.collect(common, this.typeNameOf(struct), this.spec.validVersions, false);
      }
    }
  }

  /** Struct types are prefixed with the message name, unless theirs already starts with it. */
  private typeNameOf(struct: string): string {
    return struct.startsWith(this.spec.name) ? struct : `${this.spec.name}${struct}`;
  }

  private get flexibleVersions(): Versions {
    return this.spec.flexibleVersions;
  }

  // ---- types ---------------------------------------------------------------------------------

  private tsElementType(type: FieldType, input: boolean): string {
    const element = type.kind === 'array' ? type.element : type;
    if (element.kind === 'struct') return this.typeNameOf(element.name) + (input ? 'Input' : '');
    switch (element.name) {
      case 'bool':
        return 'boolean';
      case 'int64':
        return 'bigint';
      case 'string':
      case 'uuid':
        return 'string';
      case 'bytes':
      case 'records':
        return input ? 'Uint8Array' : 'Buffer';
      default:
        return 'number';
    }
  }

  private isNullable(field: FieldSpec, reach: Versions): boolean {
    return !field.nullableVersions.intersect(field.versions).intersect(reach).empty;
  }

  private tsType(field: FieldSpec, reach: Versions, input: boolean): string {
    const element = this.tsElementType(field.type, input);
    const base = field.type.kind === 'array' ? `${input ? 'readonly ' : ''}${element}[]` : element;
    return this.isNullable(field, reach) || this.defaultIsNull(field) ? `${base} | null` : base;
  }

  private defaultIsNull(field: FieldSpec): boolean {
    return field.default === null || field.default === 'null';
  }

  /** Optional in the input type: absent in some version, tagged, or with a spec default. */
  private isOptionalInput(field: FieldSpec, reach: Versions): boolean {
    if (!field.taggedVersions.empty || field.default !== undefined) return true;
    if (field.type.kind === 'primitive' && field.type.name === 'records') return true;
    return !field.versions.covers(reach);
  }

  private emitTypes(info: StructInfo): void {
    const { spec, typeName, reach } = info;
    const flexible = !this.flexibleVersions.intersect(reach).empty;
    for (const input of [false, true]) {
      const name = typeName + (input ? 'Input' : '');
      this.out.push(
        info.isRoot
          ? `/** ${this.spec.name}, versions ${this.spec.validVersions}${input ? ' (to encode: fields with a default may be left out)' : ''}. */`
          : `/** ${spec.name} of ${this.spec.name}${input ? ' (to encode)' : ''}. */`,
      );
      this.out.push(`export interface ${name} {`);
      for (const field of spec.fields) {
        const notes = [`versions ${field.versions}`];
        if (!field.nullableVersions.empty) notes.push(`nullable ${field.nullableVersions}`);
        if (field.tag !== undefined) notes.push(`tag ${field.tag} in ${field.taggedVersions}`);
        if (field.mapKey) notes.push('map key');
        if (field.zeroCopy) notes.push('zero-copy');
        if (field.ignorable) notes.push('ignorable');
        if (field.default !== undefined) notes.push(`default ${String(field.default)}`);
        const about = field.about ? `${field.about.replaceAll('*/', '* /')} ` : '';
        this.out.push(`  /** ${about}(${notes.join('; ')}) */`);
        const optional = input && this.isOptionalInput(field, reach) ? '?' : '';
        this.out.push(
          `  ${camelCase(field.name)}${optional}: ${this.tsType(field, reach, input)};`,
        );
      }
      if (flexible) {
        this.out.push(
          '  /** Tagged fields this code does not know, kept for a faithful re-encode. */',
        );
        this.out.push('  _unknownTaggedFields?: TaggedField[];');
        this.imports.add('TaggedField');
      }
      this.out.push('}', '');
    }
  }

  // ---- defaults ------------------------------------------------------------------------------

  /** An expression for the field's default value (a fresh value for arrays and structs). */
  private defaultExpr(field: FieldSpec): string {
    if (this.defaultIsNull(field)) {
      if (field.nullableVersions.empty) {
        throw new Error(`${this.spec.file}: ${field.name} defaults to null but is never nullable`);
      }
      return 'null';
    }
    const type = field.type;
    if (type.kind === 'array') return '[]';
    if (type.kind === 'struct') {
      this.needsDefault.add(this.typeNameOf(type.name));
      return `default${this.typeNameOf(type.name)}()`;
    }
    const given = field.default;
    switch (type.name) {
      case 'bool':
        return String(given === true || given === 'true');
      case 'int64': {
        const text = given === undefined ? '0' : String(given);
        return `${BigInt(text)}n`;
      }
      case 'float64':
        return given === undefined ? '0' : String(Number(given));
      case 'string':
        return JSON.stringify(given === undefined ? '' : String(given));
      case 'uuid':
        if (given !== undefined) throw new Error(`${this.spec.file}: uuid default unsupported`);
        this.imports.add('ZERO_UUID');
        return 'ZERO_UUID';
      case 'bytes':
        this.imports.add('EMPTY_BUFFER');
        return 'EMPTY_BUFFER';
      case 'records':
        return 'null';
      default: {
        const text = given === undefined ? '0' : String(given).trim();
        const value = /^-?0x/i.test(text)
          ? (text.startsWith('-') ? -1 : 1) * Number.parseInt(text.replace(/^-?0x/i, ''), 16)
          : Number(text);
        const range = INT_RANGES[type.name];
        if (!Number.isInteger(value) || (range && (value < range[0] || value > range[1]))) {
          throw new Error(`${this.spec.file}: bad default ${text} for ${field.name}`);
        }
        return String(value);
      }
    }
  }

  /** An expression that is true when `value` equals the field's default. */
  private isDefaultExpr(field: FieldSpec, value: string): string {
    if (this.defaultIsNull(field)) return `${value} === null`;
    const type = field.type;
    if (type.kind === 'array') return `${value} !== null && ${value}.length === 0`;
    if (type.kind === 'struct') {
      this.needsIsDefault.add(this.typeNameOf(type.name));
      return `${value} !== null && isDefault${this.typeNameOf(type.name)}(${value})`;
    }
    if (type.name === 'bytes') return `${value} !== null && ${value}.length === 0`;
    return `${value} === ${this.defaultExpr(field)}`;
  }

  /** The input value of a field with its default filled in, as an expression. */
  private inputValue(field: FieldSpec, reach: Versions): string {
    const access = `value.${camelCase(field.name)}`;
    if (!this.isOptionalInput(field, reach)) return access;
    const fallback = this.defaultExpr(field);
    // `??` would turn an explicit null into a non-null default, so compare with undefined then.
    if (fallback !== 'null' && this.isNullable(field, reach)) {
      return `(${access} === undefined ? ${fallback} : ${access})`;
    }
    return `(${access} ?? ${fallback})`;
  }

  // ---- writers -------------------------------------------------------------------------------

  private compactCondition(field: FieldSpec, presentIn: Versions): Condition {
    return condition(field.flexibleVersions ?? this.flexibleVersions, presentIn);
  }

  /** Statements that write `value` (an expression of the field's decoded or input type). */
  private writeValue(
    field: FieldSpec,
    value: string,
    presentIn: Versions,
    path: string,
    indent: string,
  ): string[] {
    const compact = this.compactCondition(field, presentIn);
    const tsNullable = this.isNullable(field, presentIn) || this.defaultIsNull(field);
    const nullable = condition(field.nullableVersions, presentIn);
    const checked =
      tsNullable && nullable !== 'true'
        ? this.use('notNull', `notNull(${value}, '${path}')`, nullable, value)
        : value;
    const type = field.type;
    if (type.kind === 'array') {
      const element = type.element;
      const writeElement =
        element.kind === 'struct'
          ? `write${this.typeNameOf(element.name)}(writer, item, version);`
          : `${this.writePrimitive(element.name, 'item', compact, false, 'writer')};`;
      const lines = [`${indent}{`, `${indent}  const items = ${checked};`];
      if (tsNullable) {
        lines.push(`${indent}  if (items === null) writer.writeArrayLength(null, ${compact});`);
        lines.push(`${indent}  else {`);
      } else {
        lines.push(`${indent}  {`);
      }
      lines.push(
        `${indent}    writer.writeArrayLength(items.length, ${compact});`,
        `${indent}    for (const item of items) ${writeElement}`,
        `${indent}  }`,
        `${indent}}`,
      );
      return lines;
    }
    if (type.kind === 'struct') {
      const writeStruct = `write${this.typeNameOf(type.name)}`;
      if (!tsNullable) return [`${indent}${writeStruct}(writer, ${value}, version);`];
      if (nullable === 'true') {
        return [
          `${indent}if (${value} === null) writer.writeInt8(-1);`,
          `${indent}else { writer.writeInt8(1); ${writeStruct}(writer, ${value}, version); }`,
        ];
      }
      const checkedStruct = this.use('notNull', `notNull(${value}, '${path}')`);
      if (nullable === 'false')
        return [`${indent}${writeStruct}(writer, ${checkedStruct}, version);`];
      return [
        `${indent}if (${nullable}) {`,
        `${indent}  if (${value} === null) writer.writeInt8(-1);`,
        `${indent}  else { writer.writeInt8(1); ${writeStruct}(writer, ${value}, version); }`,
        `${indent}} else {`,
        `${indent}  ${writeStruct}(writer, ${checkedStruct}, version);`,
        `${indent}}`,
      ];
    }
    return [`${indent}${this.writePrimitive(type.name, checked, compact, tsNullable, 'writer')};`];
  }

  /** Returns `expression`, importing `name`; when `condition` is given, applies it only then. */
  private use(name: string, expression: string, when?: Condition, otherwise?: string): string {
    if (when === 'true' && otherwise !== undefined) return otherwise;
    this.imports.add(name);
    if (when === undefined || when === 'false' || otherwise === undefined) return expression;
    return `(${when} ? ${otherwise} : ${expression})`;
  }

  private writePrimitive(
    type: PrimitiveType,
    value: string,
    compact: Condition,
    nullable: boolean,
    writer: string,
  ): string {
    switch (type) {
      case 'bool':
        return `${writer}.writeBool(${value})`;
      case 'int8':
        return `${writer}.writeInt8(${value})`;
      case 'int16':
        return `${writer}.writeInt16(${value})`;
      case 'uint16':
        return `${writer}.writeUInt16(${value})`;
      case 'int32':
        return `${writer}.writeInt32(${value})`;
      case 'uint32':
        return `${writer}.writeUInt32(${value})`;
      case 'int64':
        return `${writer}.writeInt64(${value})`;
      case 'float64':
        return `${writer}.writeFloat64(${value})`;
      case 'uuid':
        return `${writer}.writeUuid(${value})`;
      case 'string':
        this.imports.add(nullable ? 'writeNullableString' : 'writeString');
        return `${nullable ? 'writeNullableString' : 'writeString'}(${writer}, ${value}, ${compact})`;
      case 'bytes':
      case 'records':
        this.imports.add('writeBytes');
        return `writeBytes(${writer}, ${value}, ${compact})`;
    }
  }

  private emitWriter(info: StructInfo): void {
    const { spec, typeName, reach } = info;
    const flexible = condition(this.flexibleVersions, reach);
    const body: string[] = [];
    const tagged: string[] = [];
    for (const field of spec.fields) {
      const name = camelCase(field.name);
      const path = `${typeName}.${name}`;
      const presentIn = field.versions.intersect(reach);
      const present = condition(field.versions, reach);
      const local = `$${name}`;
      body.push(`  const ${local} = ${this.inputValue(field, reach)};`);
      if (present !== 'true' && !field.ignorable) {
        const absent = present === 'false' ? 'true' : `!(${present})`;
        body.push(
          `  if (${absent} && !(${this.isDefaultExpr(field, local)})) ${this.use('unsupportedField', `unsupportedField('${path}', version)`)};`,
        );
      }
      if (present === 'false') continue;
      const taggedIn = field.taggedVersions.intersect(presentIn);
      const regular = condition(
        field.taggedVersions.empty ? Versions.ALL : new Versions(0, field.taggedVersions.min - 1),
        presentIn,
      );
      const regularAll = and(present, regular);
      if (regularAll !== 'false') {
        const lines = this.writeValue(
          field,
          local,
          presentIn.intersect(regularVersions(field)),
          path,
          regularAll === 'true' ? '  ' : '    ',
        );
        if (regularAll === 'true') body.push(...lines);
        else body.push(`  if (${regularAll}) {`, ...lines, '  }');
      }
      if (!taggedIn.empty) {
        const when = and(present, condition(field.taggedVersions, presentIn));
        const lines = this.writeValue(field, local, taggedIn, path, '');
        tagged.push(
          `    if (${when === 'true' ? '' : `${when} && `}!(${this.isDefaultExpr(field, local)})) {`,
          `      (tags ??= []).push([${field.tag}, (writer) => { ${lines.join(' ')} }]);`,
          '    }',
        );
      }
    }
    if (flexible !== 'false') {
      const tagLines =
        tagged.length === 0
          ? ['    writeTaggedFields(writer, undefined, value._unknownTaggedFields);']
          : [
              '    let tags: TaggedWrite[] | undefined;',
              ...tagged,
              '    writeTaggedFields(writer, tags, value._unknownTaggedFields);',
            ];
      this.imports.add('writeTaggedFields');
      if (tagged.length > 0) this.imports.add('TaggedWrite');
      body.push(flexible === 'true' ? '  {' : `  if (${flexible}) {`, ...tagLines, '  }');
    }
    const usesVersion = body.some(mentionsVersion);
    this.out.push(
      `function write${typeName}(writer: Writer, value: ${typeName}Input, ${usesVersion ? '' : '_'}version: number): void {`,
      ...body,
      '}',
      '',
    );
  }

  // ---- readers -------------------------------------------------------------------------------

  private readPrimitive(
    type: PrimitiveType,
    compact: Condition,
    nullable: Condition,
    zeroCopy: boolean,
    reader: string,
  ): string {
    switch (type) {
      case 'bool':
        return `${reader}.readBool()`;
      case 'int8':
        return `${reader}.readInt8()`;
      case 'int16':
        return `${reader}.readInt16()`;
      case 'uint16':
        return `${reader}.readUInt16()`;
      case 'int32':
        return `${reader}.readInt32()`;
      case 'uint32':
        return `${reader}.readUInt32()`;
      case 'int64':
        return `${reader}.readInt64()`;
      case 'float64':
        return `${reader}.readFloat64()`;
      case 'uuid':
        return `${reader}.readUuid()`;
      case 'string':
        if (nullable === 'false') {
          this.imports.add('readString');
          return `readString(${reader}, ${compact})`;
        }
        if (nullable === 'true') {
          this.imports.add('readNullableString');
          return `readNullableString(${reader}, ${compact})`;
        }
        this.imports.add('readString');
        this.imports.add('readNullableString');
        return `(${nullable} ? readNullableString(${reader}, ${compact}) : readString(${reader}, ${compact}))`;
      case 'bytes':
      case 'records':
        this.imports.add('readBytes');
        // Records are always zero-copy: a Produce request's batches are sliced, never copied.
        return nullable === 'true'
          ? `readBytes(${reader}, ${compact}, true, ${zeroCopy || type === 'records'})`
          : `readBytes(${reader}, ${compact}, ${nullable}, ${zeroCopy || type === 'records'})${nullable === 'false' ? '!' : ''}`;
    }
  }

  /** An expression that reads the field's value at the reader's position. */
  private readValue(field: FieldSpec, presentIn: Versions): string {
    const compact = this.compactCondition(field, presentIn);
    const nullable = condition(field.nullableVersions, presentIn);
    const type = field.type;
    if (type.kind === 'array') throw new Error('arrays are read by readArrayInto');
    if (type.kind === 'struct') {
      const read = `read${this.typeNameOf(type.name)}(reader, version)`;
      if (nullable === 'false') return read;
      this.imports.add('readNullMarker');
      const marker = 'readNullMarker(reader)';
      if (nullable === 'true') return `(${marker} ? null : ${read})`;
      return `(${nullable} && ${marker} ? null : ${read})`;
    }
    return this.readPrimitive(type.name, compact, nullable, field.zeroCopy, 'reader');
  }

  /** Statements that read the field at the reader's position into `local`. */
  private readInto(field: FieldSpec, presentIn: Versions, local: string, indent: string): string[] {
    const type = field.type;
    if (type.kind !== 'array') return [`${indent}${local} = ${this.readValue(field, presentIn)};`];
    const compact = this.compactCondition(field, presentIn);
    const nullable = condition(field.nullableVersions, presentIn);
    const element = type.element;
    const readElement =
      element.kind === 'struct'
        ? `read${this.typeNameOf(element.name)}(reader, version)`
        : this.readPrimitive(element.name, compact, 'false', false, 'reader');
    const elementType = this.tsElementType(type, false);
    const lines = [
      `${indent}{`,
      `${indent}  const n = reader.readArrayLength(${compact}, ${nullable});`,
    ];
    if (nullable !== 'false')
      lines.push(`${indent}  if (n < 0) ${local} = null;`, `${indent}  else {`);
    else lines.push(`${indent}  {`);
    lines.push(
      `${indent}    const items: ${elementType}[] = [];`,
      `${indent}    for (let i = 0; i < n; i++) items.push(${readElement});`,
      `${indent}    ${local} = items;`,
      `${indent}  }`,
      `${indent}}`,
    );
    return lines;
  }

  private emitReader(info: StructInfo): void {
    const { spec, typeName, reach } = info;
    const flexible = condition(this.flexibleVersions, reach);
    const body: string[] = [];
    const tagCases: string[] = [];
    for (const field of spec.fields) {
      const name = camelCase(field.name);
      const local = `$${name}`;
      const presentIn = field.versions.intersect(reach);
      const present = condition(field.versions, reach);
      const type = this.tsType(field, reach, false);
      if (present === 'false') {
        body.push(`  const ${local}: ${type} = ${this.defaultExpr(field)};`);
        continue;
      }
      const regularVs = presentIn.intersect(regularVersions(field));
      const regular = condition(regularVersions(field), presentIn);
      const taggedIn = field.taggedVersions.intersect(presentIn);
      if (taggedIn.empty && field.type.kind !== 'array') {
        const read = this.readValue(field, regularVs);
        body.push(
          present === 'true'
            ? `  const ${local}: ${type} = ${read};`
            : `  const ${local}: ${type} = ${present} ? ${read} : ${this.defaultExpr(field)};`,
        );
        continue;
      }
      const regularAll = and(present, regular);
      if (field.type.kind === 'array') {
        const initial = regularAll === 'true' ? '' : ` = ${this.defaultExpr(field)}`;
        body.push(`  let ${local}: ${type}${initial};`);
        if (regularAll === 'true') body.push(...this.readInto(field, regularVs, local, '  '));
        else if (regularAll !== 'false') {
          body.push(
            `  if (${regularAll}) {`,
            ...this.readInto(field, regularVs, local, '    '),
            '  }',
          );
        }
      }
      if (taggedIn.empty) continue;
      // Tagged (in some versions): start from the default, set when the tag is read.
      if (field.type.kind !== 'array') {
        body.push(
          regularAll === 'false'
            ? `  let ${local}: ${type} = ${this.defaultExpr(field)};`
            : `  let ${local}: ${type} = ${regularAll} ? ${this.readValue(field, regularVs)} : ${this.defaultExpr(field)};`,
        );
      }
      const when = and(present, condition(field.taggedVersions, presentIn));
      tagCases.push(
        `      ${tagCases.length === 0 ? '' : 'else '}if (tag === ${field.tag}${when === 'true' ? '' : ` && ${when}`}) {`,
        ...this.readInto(field, taggedIn, local, '        '),
        `        finishTaggedField(reader, end, tag);`,
        '      }',
      );
    }
    const fieldNames = spec.fields.map((f) => camelCase(f.name));
    if (flexible !== 'false') {
      const lines =
        tagCases.length === 0
          ? ['    unknownTaggedFields = readUnknownTaggedFields(reader);']
          : [
              '    const count = reader.readUVarint();',
              '    for (let i = 0; i < count; i++) {',
              '      const tag = reader.readUVarint();',
              '      const end = taggedFieldEnd(reader);',
              ...tagCases,
              '      else (unknownTaggedFields ??= []).push({ tag, data: reader.readCopy(end - reader.offset) });',
              '    }',
            ];
      if (tagCases.length === 0) this.imports.add('readUnknownTaggedFields');
      else {
        this.imports.add('taggedFieldEnd');
        this.imports.add('finishTaggedField');
      }
      body.push(
        '  let unknownTaggedFields: TaggedField[] | undefined;',
        flexible === 'true' ? '  {' : `  if (${flexible}) {`,
        ...lines,
        '  }',
      );
    }
    body.push(
      `  const result: ${typeName} = {${fieldNames.length ? ' ' : ''}${fieldNames.map((n) => `${n}: $${n}`).join(', ')}${fieldNames.length ? ' ' : ''}};`,
    );
    if (flexible !== 'false') {
      body.push(
        '  if (unknownTaggedFields !== undefined) result._unknownTaggedFields = unknownTaggedFields;',
      );
    }
    body.push('  return result;');
    const usesVersion = body.some(mentionsVersion);
    const usesReader = body.some((line) => /\breader\b/.test(line));
    this.out.push(
      `function read${typeName}(${usesReader ? '' : '_'}reader: Reader, ${usesVersion ? '' : '_'}version: number): ${typeName} {`,
      ...body,
      '}',
      '',
    );
  }

  // ---- error response --------------------------------------------------------------------------

  /** The name of the error response builder of an API, from its request's name. */
  static errorResponseName(request: MessageSpec): string {
    return `${camelCase(request.name.replace(/Request$/, ''))}ErrorResponse`;
  }

  /**
   * Emits `fooErrorResponse(request, version, errorCode, errorMessage)`: the response Kafka's
   * `getErrorResponse` gives for a request (error-response.ts has the rule).
   */
  private emitErrorResponse(request: MessageSpec): void {
    const plan = new ErrorResponsePlanner(request, this.spec).plan();
    const used = new Set<string>();
    const literal = this.errorStruct(
      plan,
      this.spec.fields,
      this.spec.name,
      this.spec.validVersions,
      'request',
      1,
      used,
    );
    const param = (name: string) => (used.has(name) ? name : `_${name}`);
    this.out.push(
      `/** ${this.spec.name} to a ${request.name} answered with an error (Kafka's getErrorResponse). */`,
      `export function ${MessageEmitter.errorResponseName(request)}(${param('request')}: ${request.name}, ${param('version')}: number, ${param('errorCode')}: number, ${param('errorMessage')}: string): ${this.spec.name}Input {`,
      `  return ${literal};`,
      '}',
      '',
    );
  }

  /** An object literal of one struct of the error response. */
  private errorStruct(
    plan: StructPlan,
    fields: readonly FieldSpec[],
    typeName: string,
    reach: Versions,
    source: string,
    depth: number,
    used: Set<string>,
  ): string {
    const typeReach = this.structs.get(typeName)!.reach;
    const entries: string[] = [];
    for (const field of fields) {
      const present = condition(field.versions, reach);
      const required = !this.isOptionalInput(field, typeReach);
      let value: string | undefined;
      if (present === 'false') value = undefined;
      else if (field === plan.errorCode) value = 'errorCode';
      else if (field === plan.errorMessage) value = 'errorMessage';
      else if (plan.keys.has(field)) {
        const from = plan.keys.get(field)!;
        value = from === 'id' ? source : `${source}.${camelCase(from.name)}`;
        used.add('request');
        const fromNullable =
          from !== 'id' && (!from.nullableVersions.empty || this.defaultIsNull(from));
        const presentIn = field.versions.intersect(reach);
        if (fromNullable && !field.nullableVersions.covers(presentIn)) {
          value = `(${value} ?? ${this.nonNullZero(field)})`;
        }
      } else if (plan.echoes.has(field)) {
        const echo = plan.echoes.get(field)!;
        const inner = reach.intersect(field.versions);
        const element = field.type.kind === 'array' ? field.type.element : undefined;
        if (element?.kind !== 'struct') throw new Error(`${field.name} echoes into no struct`);
        const entryType = this.typeNameOf(element.name);
        const entryFields = this.structs.get(entryType)!.spec.fields;
        const parts = echo.sources.map(({ source: from, entry }) => {
          const items = this.echoItems(from, source, depth);
          const literal = this.errorStruct(
            entry,
            entryFields,
            entryType,
            inner,
            `e${depth}`,
            depth + 1,
            used,
          );
          const param = new RegExp(`\\be${depth}\\b`).test(literal) ? `e${depth}` : '';
          return `${items}.map((${param}) => (${literal}))`;
        });
        used.add('request');
        value = parts.length === 1 ? parts[0]! : `[${parts.map((p) => `...${p}`).join(', ')}]`;
      }
      if (value === 'errorCode' || value === 'errorMessage') used.add(value);
      if (value === undefined) {
        if (required) entries.push(`${camelCase(field.name)}: ${this.defaultExpr(field)}`);
        continue;
      }
      if (present !== 'true') {
        used.add('version');
        value = `${present} ? ${value} : ${this.defaultExpr(field)}`;
      }
      const name = camelCase(field.name);
      entries.push(name === value ? name : `${name}: ${value}`);
    }
    if (entries.length === 0) return '{}';
    const indent = '  '.repeat(depth + 1);
    return `{\n${entries.map((e) => `${indent}${e},\n`).join('')}${'  '.repeat(depth)}}`;
  }

  /** The request array (flattened through a path of arrays) an echo maps over. */
  private echoItems(from: EchoSource, source: string, depth: number): string {
    const orEmpty = (field: FieldSpec, access: string) =>
      !field.nullableVersions.empty || this.defaultIsNull(field) ? `(${access} ?? [])` : access;
    const [first, ...rest] = from.path;
    let items = orEmpty(first!, `${source}.${camelCase(first!.name)}`);
    for (const field of rest) {
      items = `${items}.flatMap((d${depth}) => ${orEmpty(field, `d${depth}.${camelCase(field.name)}`)})`;
    }
    return items;
  }

  /** The value a non-null field gets for a null request value (Kafka: an empty name). */
  private nonNullZero(field: FieldSpec): string {
    const type = field.type;
    if (type.kind !== 'primitive') throw new Error(`${this.spec.file}: ${field.name} is no key`);
    switch (type.name) {
      case 'string':
        return '""';
      case 'uuid':
        this.imports.add('ZERO_UUID');
        return 'ZERO_UUID';
      case 'bytes':
        this.imports.add('EMPTY_BUFFER');
        return 'EMPTY_BUFFER';
      default:
        throw new Error(`${this.spec.file}: no zero for a null ${type.name} ${field.name}`);
    }
  }

  // ---- struct defaults -------------------------------------------------------------------------

  private emitDefaults(): void {
    // Defaults can pull in further structs; loop until nothing new is needed.
    const doneDefault = new Set<string>();
    const doneIsDefault = new Set<string>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const typeName of [...this.needsDefault]) {
        if (doneDefault.has(typeName)) continue;
        doneDefault.add(typeName);
        progress = true;
        const info = this.structs.get(typeName)!;
        const fields = info.spec.fields.map((f) => `${camelCase(f.name)}: ${this.defaultExpr(f)}`);
        this.out.push(
          `function default${typeName}(): ${typeName} {`,
          `  return { ${fields.join(', ')} };`,
          '}',
          '',
        );
      }
      for (const typeName of [...this.needsIsDefault]) {
        if (doneIsDefault.has(typeName)) continue;
        doneIsDefault.add(typeName);
        progress = true;
        const info = this.structs.get(typeName)!;
        const checks = info.spec.fields.map((f) => {
          const access = `value.${camelCase(f.name)}`;
          return `(${access} === undefined || (${this.isDefaultExpr(f, access)}))`;
        });
        this.out.push(
          `function isDefault${typeName}(value: ${typeName}Input): boolean {`,
          `  return ${checks.length ? checks.join(' &&\n    ') : 'true'};`,
          '}',
          '',
        );
      }
    }
  }

  // ---- the message ------------------------------------------------------------------------------

  /**
   * The body of the message's part of a generated file (without imports). For a response,
   * `request` is its request, and the body also has the API's error response builder.
   */
  emit(request?: MessageSpec): string {
    for (const info of this.structs.values()) this.emitTypes(info);
    for (const info of this.structs.values()) {
      this.emitWriter(info);
      this.emitReader(info);
    }
    if (request !== undefined) this.emitErrorResponse(request);
    this.emitDefaults();
    const spec = this.spec;
    const name = spec.name;
    const flexibleMin = spec.flexibleVersions.empty
      ? 'undefined'
      : String(spec.flexibleVersions.min);
    this.imports.add('MessageCodec');
    this.imports.add('checkVersion');
    this.out.push(
      `/** Encoder and decoder of ${name}, versions ${spec.validVersions}. */`,
      `export const ${name}: MessageCodec<${name}, ${name}Input> = {`,
      `  name: '${name}',`,
      `  apiKey: ${spec.apiKey ?? 'undefined'},`,
      `  minVersion: ${spec.validVersions.min},`,
      `  maxVersion: ${spec.validVersions.max},`,
      `  firstFlexibleVersion: ${flexibleMin},`,
      `  write(writer: Writer, value: ${name}Input, version: number): void {`,
      `    checkVersion('${name}', version, ${spec.validVersions.min}, ${spec.validVersions.max});`,
      `    write${name}(writer, value, version);`,
      '  },',
      `  encode(value: ${name}Input, version: number): Buffer {`,
      '    const writer = new Writer();',
      '    this.write(writer, value, version);',
      '    return writer.toBuffer();',
      '  },',
      `  decode(reader: Reader, version: number): ${name} {`,
      `    checkVersion('${name}', version, ${spec.validVersions.min}, ${spec.validVersions.max});`,
      `    return read${name}(reader, version);`,
      '  },',
      '};',
      '',
    );
    return this.out.join('\n');
  }
}

/** Whether generated code mentions the `version` parameter (not a `$local` or a string). */
function mentionsVersion(line: string): boolean {
  const code = line
    .replace(/'[^']*'/g, '')
    .replace(/\bvalue\.\w+/g, '')
    .replace(/\w*: ?\$\w+/g, '')
    .replace(/\$\w+/g, '');
  return /\bversion\b/.test(code);
}

/** The versions in which a field is a regular (not tagged) field. */
function regularVersions(field: FieldSpec): Versions {
  if (field.taggedVersions.empty) return Versions.ALL;
  return field.taggedVersions.min === 0
    ? Versions.NONE
    : new Versions(0, field.taggedVersions.min - 1);
}

function structName(type: FieldType): string | undefined {
  if (type.kind === 'struct') return type.name;
  if (type.kind === 'array' && type.element.kind === 'struct') return type.element.name;
  return undefined;
}

export { NUMBER_TYPES };
