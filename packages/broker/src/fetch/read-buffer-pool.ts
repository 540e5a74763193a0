/**
 * Buffers for the records a Fetch reads from the logs, recycled once the response that carries
 * them has been written to the socket (the connection says when: `RequestContext.afterResponse`).
 *
 * A fresh buffer per read was most of a fetch's cost: the read faults in every page of it (a
 * 1 MiB read into a fresh buffer took 2.5× as long as into a used one, 10 MiB 3×), and each is
 * external memory to V8, whose growth triggers full garbage collections (a third to a half of
 * the broker's time while a consumer read 100 B records; bench/README.md, Broker).
 *
 * Buffers come in size classes from 64 KiB to `maxBufferBytes`, four per power of two (a read
 * wastes under a quarter of its buffer); smaller requests come from Node's own pool, larger ones
 * are allocated each time. At most `maxIdleBytes` of buffers wait for reuse, and those unused for
 * `idleMs` are dropped, so an idle broker gives the memory back. The pool bounds nothing else:
 * what is leased is what responses in flight hold, as before (each read is bounded by
 * `fetch.max.bytes`).
 */

/** Requests below this come from Node's buffer pool (they are copied into the response anyway). */
const MIN_POOLED_BYTES = 4096;
const MIN_CLASS_BYTES = 64 * 1024;

/** The size class of a request: the next multiple of a quarter of the power of two below it. */
export function sizeClass(size: number): number {
  if (size <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  const base = 2 ** Math.floor(Math.log2(size));
  const step = base / 4;
  return base + Math.ceil((size - base) / step) * step;
}

interface IdleBuffer {
  readonly buffer: ArrayBuffer;
  readonly since: number;
}

export class ReadBufferPool {
  private readonly maxIdleBytes: number;
  private readonly maxBufferBytes: number;
  private readonly idleMs: number;
  /** Idle buffers by class size, the most recently returned last. */
  private readonly idle = new Map<number, IdleBuffer[]>();
  private readonly leased = new Set<ArrayBuffer>();
  private idleTotal = 0;
  private trimTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: { maxIdleBytes: number; maxBufferBytes: number; idleMs: number }) {
    this.maxIdleBytes = options.maxIdleBytes;
    this.maxBufferBytes = options.maxBufferBytes;
    this.idleMs = options.idleMs;
  }

  /** Bytes of buffers waiting for reuse. */
  get idleBytes(): number {
    return this.idleTotal;
  }

  /** Buffers handed out and not yet returned. */
  get leasedCount(): number {
    return this.leased.size;
  }

  /** A collector of the buffers one response's reads use, to return them all at once. */
  lease(): ReadLease {
    return new ReadLease(this);
  }

  /**
   * A buffer of `size` bytes with arbitrary content. Pooled ones are a view of a class buffer,
   * which `release` takes back; others are not the pool's, and `release` ignores them.
   */
  acquire(size: number): Buffer {
    if (size < MIN_POOLED_BYTES || size > this.maxBufferBytes) return Buffer.allocUnsafe(size);
    const classBytes = sizeClass(size);
    const reused = this.idle.get(classBytes)?.pop();
    let buffer: ArrayBuffer;
    if (reused === undefined) {
      buffer = Buffer.allocUnsafeSlow(classBytes).buffer as ArrayBuffer;
    } else {
      buffer = reused.buffer;
      this.idleTotal -= classBytes;
    }
    this.leased.add(buffer);
    return Buffer.from(buffer, 0, size);
  }

  /**
   * Takes back a buffer from `acquire` once nothing refers to it any more (its response is
   * written). A buffer the pool did not lease, or already took back, is ignored.
   */
  release(view: Buffer): void {
    const buffer = view.buffer as ArrayBuffer;
    if (!this.leased.delete(buffer)) return;
    const classBytes = buffer.byteLength;
    if (this.idleTotal + classBytes > this.maxIdleBytes) return;
    let list = this.idle.get(classBytes);
    if (list === undefined) {
      list = [];
      this.idle.set(classBytes, list);
    }
    list.push({ buffer, since: Date.now() });
    this.idleTotal += classBytes;
    this.armTrim();
  }

  /** Drops every idle buffer (the broker stops). Leased ones are left to the garbage collector. */
  clear(): void {
    clearTimeout(this.trimTimer);
    this.trimTimer = undefined;
    this.idle.clear();
    this.idleTotal = 0;
  }

  private armTrim(): void {
    if (this.trimTimer !== undefined) return;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      this.trim(Date.now());
      if (this.idleTotal > 0) this.armTrim();
    }, this.idleMs);
    this.trimTimer.unref();
  }

  /** Drops the buffers idle for `idleMs` or more (the oldest are first in each list). */
  trim(now: number): void {
    for (const [classBytes, list] of this.idle) {
      let stale = 0;
      while (stale < list.length && now - list[stale]!.since >= this.idleMs) stale++;
      if (stale === 0) continue;
      list.splice(0, stale);
      this.idleTotal -= stale * classBytes;
      if (list.length === 0) this.idle.delete(classBytes);
    }
  }
}

/** The buffers of one response: `allocate` for each read, `release` once it is written. */
export class ReadLease {
  private readonly pool: ReadBufferPool;
  private readonly buffers: Buffer[] = [];

  constructor(pool: ReadBufferPool) {
    this.pool = pool;
  }

  readonly allocate = (size: number): Buffer => {
    const buffer = this.pool.acquire(size);
    this.buffers.push(buffer);
    return buffer;
  };

  /** Returns every buffer allocated so far; the lease can allocate again afterwards. */
  release(): void {
    for (const buffer of this.buffers) this.pool.release(buffer);
    this.buffers.length = 0;
  }
}
