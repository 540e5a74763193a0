import { StorageCorruptionError } from '../errors.ts';
import type { FileSystem } from '../fs/file-system.ts';

/**
 * Kafka's checkpoint file format, used for the recovery point, log start offset and leader
 * epoch checkpoints: a version line ("0"), a count line, then one entry per line, fields
 * separated by spaces. Written atomically (temp file, fsync, rename), so a crash leaves the old
 * file or the new one.
 */
export const CHECKPOINT_VERSION = 0;

export async function writeCheckpoint(
  fs: FileSystem,
  path: string,
  entries: readonly (readonly (string | number | bigint)[])[],
): Promise<void> {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length)];
  for (const entry of entries) lines.push(entry.join(' '));
  await fs.writeFileAtomic(path, Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
}

/**
 * Reads a checkpoint's entries as lists of fields, or undefined when the file does not exist.
 * A malformed file throws StorageCorruptionError.
 */
export async function readCheckpoint(
  fs: FileSystem,
  path: string,
  fieldsPerEntry: number,
): Promise<string[][] | undefined> {
  let text: string;
  try {
    text = (await fs.readFile(path)).toString('utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
  const lines = text.split('\n').filter((line) => line.length > 0);
  const [version, count, ...rest] = lines;
  if (version !== String(CHECKPOINT_VERSION)) {
    throw new StorageCorruptionError(`checkpoint ${path} has version ${version}, expected 0`);
  }
  const expected = Number(count);
  if (!Number.isInteger(expected) || expected !== rest.length) {
    throw new StorageCorruptionError(
      `checkpoint ${path} declares ${count} entries, has ${rest.length}`,
    );
  }
  return rest.map((line) => {
    const fields = line.split(' ');
    if (fields.length !== fieldsPerEntry) {
      throw new StorageCorruptionError(`checkpoint ${path} has a malformed line: ${line}`);
    }
    return fields;
  });
}

/** Parses a decimal int64 field of a checkpoint. */
export function parseOffsetField(text: string, path: string): bigint {
  if (!/^-?\d+$/.test(text))
    throw new StorageCorruptionError(`checkpoint ${path}: bad number ${text}`);
  return BigInt(text);
}
