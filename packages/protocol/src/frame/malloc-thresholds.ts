/**
 * Large frames are read into buffers of their own size: a client's Fetch responses by
 * `FrameReader` (megabytes each), a broker's Produce requests by `FrameDecoder` (joined from
 * chunks). The garbage collector frees them in bursts. glibc's malloc gives memory back to the
 * system whenever more than its trim threshold lies free at the top of the heap; that threshold
 * follows the largest buffer freed so far that was mapped on its own (it is twice that size,
 * `M_MMAP_THRESHOLD` up to 32 MiB), so after a few 6 MiB responses it is about 12 MiB, the
 * bursts cross it, and the next frames land on fresh pages: a page fault, a zeroed page and
 * more system time for every 4 KiB received (a third of a consumer's CPU when reading 1 KiB
 * records).
 *
 * `raiseMallocThresholds` does once per process what glibc does on its own after freeing a
 * 32 MiB frame: it maps a buffer just under 32 MiB, never touches it (no page is faulted in),
 * and frees it at once (`ArrayBuffer.prototype.transfer(0)` detaches and frees the memory).
 * glibc then keeps buffers below 32 MiB on its heap and up to 64 MiB of free heap before it
 * trims. Elsewhere (musl, macOS, or glibc with `MALLOC_TRIM_THRESHOLD_` or
 * `MALLOC_MMAP_THRESHOLD_` set, which turns the dynamic thresholds off) it costs one map and
 * unmap of untouched memory and changes nothing.
 */

/** glibc's upper bound for the dynamic mmap threshold on 64-bit (`DEFAULT_MMAP_THRESHOLD_MAX`). */
const MMAP_THRESHOLD_MAX_BYTES = 32 * 1024 * 1024;
/** Below that bound once malloc's chunk header and page rounding are added. */
const PRIMER_BYTES = MMAP_THRESHOLD_MAX_BYTES - 64 * 1024;

let raised = false;

/** Raises glibc's dynamic malloc thresholds once per process (see above); later calls do nothing. */
export function raiseMallocThresholds(): void {
  if (raised) return;
  raised = true;
  new ArrayBuffer(PRIMER_BYTES).transfer(0);
}
