/**
 * File-system errors that look like Node's: an `Error` with a string `code` ('ENOENT', 'EIO', ...),
 * the `syscall` and the `path`. `NodeFileSystem` lets Node's own errors through and
 * `MemoryFileSystem` throws these, so callers handle both implementations with the same checks.
 */

export class FileSystemError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly path: string;

  constructor(code: string, syscall: string, path: string, detail?: string) {
    super(`${code}: ${detail ?? describe(code)}, ${syscall} '${path}'`);
    this.name = 'Error';
    this.code = code;
    this.syscall = syscall;
    this.path = path;
  }
}

/** The `code` of a Node-like error ('ENOENT', ...), or undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function describe(code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EEXIST':
      return 'file already exists';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EISDIR':
      return 'illegal operation on a directory';
    case 'ENOTEMPTY':
      return 'directory not empty';
    case 'EINVAL':
      return 'invalid argument';
    case 'EBADF':
      return 'bad file descriptor';
    case 'EBUSY':
      return 'resource busy or locked';
    case 'EIO':
      return 'i/o error';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return 'file system error';
  }
}
