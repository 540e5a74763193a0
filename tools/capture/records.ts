/**
 * The records the capture clients produce (records.json) and the log each client driver writes
 * of what it actually sent (sent.json), which build-fixtures.ts turns into the manifests.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bytes in JSON: UTF-8 text, hex, or null. */
export type JsonBytes = null | { text: string } | { hex: string };

export interface JsonHeader {
  key: string;
  value: JsonBytes;
}

export interface JsonRecord {
  key: JsonBytes;
  value: JsonBytes;
  headers: JsonHeader[];
  /** The timestamp the client set (ms since the epoch), or null when the client chose it. */
  timestamp: number | null;
}

export const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Codec = (typeof CODECS)[number];

/** One produce call of a driver: records sent to one partition with one codec. */
export interface SentBatch {
  topic: string;
  partition: number;
  compression: Codec;
  records: JsonRecord[];
}

/** What a client driver writes to sent.json. */
export interface SentLog {
  client: string;
  /** Client library and version, e.g. `kafkajs 2.2.4`. */
  software: string;
  /** Codecs the client could not produce with, and why; other remarks. */
  notes: string[];
  produced: SentBatch[];
}

export const CAPTURE_DIRECTORY: string = dirname(fileURLToPath(import.meta.url));
export const RECORDS_FILE: string = join(CAPTURE_DIRECTORY, 'records.json');

export function loadRecords(path: string = RECORDS_FILE): JsonRecord[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { records: JsonRecord[] };
  return parsed.records;
}

export function bytesOf(value: JsonBytes): Buffer | null {
  if (value === null) return null;
  return 'text' in value ? Buffer.from(value.text, 'utf8') : Buffer.from(value.hex, 'hex');
}

export function topicFor(codec: Codec): string {
  return `golden-${codec}`;
}
