/**
 * raiseMallocThresholds: afterwards glibc keeps large buffers on its heap and does not give
 * freed ones back at once (the fetch responses' memory is used again instead of faulted in
 * afresh). Each case runs in a fresh process, whose allocator has seen nothing large yet; the
 * heap's size is read from /proc/self/maps.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../src/frame/malloc-thresholds.ts', import.meta.url));
const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
const glibc = process.platform === 'linux' && report.header?.glibcVersionRuntime !== undefined;

/** The [heap] region's size in MiB before, with three 16 MiB buffers, and after freeing them. */
function heapMiB(raise: boolean): number[] {
  const script = `
    import { readFileSync } from 'node:fs';
    import { raiseMallocThresholds } from ${JSON.stringify(MODULE)};
    const heap = () => {
      const line = readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => l.endsWith('[heap]'));
      const [start, end] = (line ?? '0-0').split(' ')[0].split('-');
      return Math.round((parseInt(end, 16) - parseInt(start, 16)) / 2 ** 20);
    };
    if (${raise}) raiseMallocThresholds();
    const before = heap();
    const buffers = [0, 1, 2].map(() => new ArrayBuffer(16 * 2 ** 20));
    const holding = heap();
    for (const buffer of buffers) buffer.transfer(0);
    console.log(JSON.stringify([before, holding, heap()]));`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return JSON.parse(output) as number[];
}

describe('raiseMallocThresholds', { skip: !glibc && 'glibc only' }, () => {
  it('keeps 16 MiB buffers on the heap, and the heap after they are freed', () => {
    const [before, holding, after] = heapMiB(true);
    assert.ok(holding! - before! >= 47, `heap ${before} → ${holding} MiB with 48 MiB allocated`);
    assert.equal(after, holding, 'the heap is not trimmed when 48 MiB of it is freed');
  });

  it('without it, glibc maps such buffers apart from the heap (the case it changes)', () => {
    const [before, holding, after] = heapMiB(false);
    assert.ok(holding! < before! + 16, `heap ${before} → ${holding} MiB`);
    assert.ok(after! <= holding!);
  });
});
