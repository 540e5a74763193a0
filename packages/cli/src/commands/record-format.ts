/**
 * How `brook consume` prints records (the value alone, a kcat-like `-f` template, or JSON lines)
 * and the output buffer that writes them in large chunks; also the backslash escapes that
 * `brook consume -f` and `brook produce -K` understand.
 */
import type { ConsumerRecord } from '@brook/client';
import { usageError, write } from '../common.ts';

/** What a formatter produces for one record: bytes (kept as they are) and text (UTF-8). */
export type Piece = Buffer | string;

/** Appends the pieces of one record to `out`. */
export type RecordFormatter = (record: ConsumerRecord, out: OutputBuffer) => void;

const ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, '\\': 0x5c, '0': 0x00 };

/**
 * `text` as bytes with its backslash escapes replaced: `\n`, `\r`, `\t`, `\\`, `\0` and `\xHH`
 * (one byte, two hex digits); the rest is UTF-8. Any other backslash sequence is a usage error
 * naming `option`.
 */
export function unescapeBytes(text: string, option: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  const byte = (b: number) => {
    if (run !== '') parts.push(Buffer.from(run, 'utf8'));
    run = '';
    parts.push(Buffer.of(b));
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      run += c;
      continue;
    }
    const next = text[i + 1];
    const simple = next === undefined ? undefined : ESCAPES[next];
    if (simple !== undefined) {
      byte(simple);
      i++;
    } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      byte(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      throw usageError(
        `${option}: unknown escape '\\${next ?? ''}' in '${text}' (use \\n \\r \\t \\\\ \\0 or \\xHH)`,
      );
    }
  }
  if (run !== '') parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from('\n');

/** The default: each value's bytes as they are, then a newline (a null value is an empty line). */
export const valueFormatter: RecordFormatter = (record, out) => {
  if (record.value !== null) out.add(record.value);
  out.add(NEWLINE);
};

/** Headers as `k=v,k=v` (kcat's `%h`); a null value prints as nothing after `=`. */
function headerText(record: ConsumerRecord): string {
  let text = '';
  for (const header of record.headers) {
    if (text !== '') text += ',';
    text += `${header.key}=${header.value === null ? '' : header.value.toString('utf8')}`;
  }
  return text;
}

/** The `-f` template directives (kcat's) and what each prints. */
const TEMPLATE_FIELDS: Record<string, (r: ConsumerRecord) => Piece | null> = {
  t: (r) => r.topic,
  p: (r) => String(r.partition),
  o: (r) => String(r.offset),
  k: (r) => r.key,
  s: (r) => r.value,
  K: (r) => String(r.key?.length ?? -1),
  S: (r) => String(r.value?.length ?? -1),
  T: (r) => String(r.timestamp),
  h: headerText,
};

/** The `-f` template's directives and escapes, for `--help`. */
export const TEMPLATE_HELP = `%t topic  %p partition  %o offset  %T timestamp (ms since the epoch)
                 %k key  %s value (bytes as they are; nothing when null)
                 %K %S key and value length in bytes (-1 when null)
                 %h headers as k=v,k=v  %% a percent sign
                 escapes \\n \\r \\t \\\\ \\0 \\xHH; no newline is added: end with \\n`;

/**
 * A kcat-like `-f` template: `%t %p %o %k %s %K %S %T %h` (see TEMPLATE_HELP) and `%%`, with
 * the escapes of `unescapeBytes`. Nothing is added at the end: put `\n` in the template.
 */
export function templateFormatter(template: string): RecordFormatter {
  const parts: (Buffer | ((r: ConsumerRecord) => Piece | null))[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    const directive = template[i + 1];
    i++;
    if (directive === '%') {
      literal += '%';
      continue;
    }
    const field = directive === undefined ? undefined : TEMPLATE_FIELDS[directive];
    if (field === undefined) {
      throw usageError(
        `--format: unknown directive '%${directive ?? ''}' in '${template}' (use ${Object.keys(
          TEMPLATE_FIELDS,
        )
          .map((k) => `%${k}`)
          .join(' ')} or %%)`,
      );
    }
    if (literal !== '') parts.push(unescapeBytes(literal, '--format'));
    literal = '';
    parts.push(field);
  }
  if (literal !== '') parts.push(unescapeBytes(literal, '--format'));
  return (record, out) => {
    for (const part of parts) {
      if (Buffer.isBuffer(part)) out.add(part);
      else {
        const piece = part(record);
        if (piece !== null) out.add(piece);
      }
    }
  };
}

function text(bytes: Buffer | null): string | null {
  return bytes === null ? null : bytes.toString('utf8');
}

/**
 * JSON lines: `{topic, partition, offset, timestamp, key, value, headers}` with key, value and
 * header values as UTF-8 text (or null) and headers as a list of `{key, value}` (keys repeat).
 */
export const jsonFormatter: RecordFormatter = (record, out) => {
  out.add(
    `${JSON.stringify({
      topic: record.topic,
      partition: record.partition,
      offset: Number(record.offset),
      timestamp: Number(record.timestamp),
      key: text(record.key),
      value: text(record.value),
      headers: record.headers.map((h) => ({ key: h.key, value: text(h.value) })),
    })}\n`,
  );
};

/**
 * Output gathered into chunks: `add` only appends; `full` says a chunk is ready; `flush` writes
 * what is gathered in one write, waiting when the stream asks to (backpressure).
 */
export class OutputBuffer {
  private readonly stream: NodeJS.WritableStream;
  private readonly chunkBytes: number;
  private buffers: Buffer[] = [];
  private pendingText = '';
  private sizeBytes = 0;

  constructor(stream: NodeJS.WritableStream, { chunkBytes = 64 * 1024 } = {}) {
    this.stream = stream;
    this.chunkBytes = chunkBytes;
  }

  add(piece: Piece): void {
    if (typeof piece === 'string') {
      this.pendingText += piece;
    } else {
      if (this.pendingText !== '') this.takeText();
      this.buffers.push(piece);
    }
    this.sizeBytes += piece.length;
  }

  /** At least a chunk is gathered. */
  get full(): boolean {
    return this.sizeBytes >= this.chunkBytes;
  }

  get empty(): boolean {
    return this.sizeBytes === 0;
  }

  /** Writes everything gathered; the promise (when there is one) resolves on 'drain'. */
  flush(): Promise<void> | void {
    if (this.sizeBytes === 0) return;
    if (this.pendingText !== '') this.takeText();
    const data = this.buffers.length === 1 ? this.buffers[0]! : Buffer.concat(this.buffers);
    this.buffers = [];
    this.sizeBytes = 0;
    return write(this.stream, data);
  }

  private takeText(): void {
    this.buffers.push(Buffer.from(this.pendingText, 'utf8'));
    this.pendingText = '';
  }
}
