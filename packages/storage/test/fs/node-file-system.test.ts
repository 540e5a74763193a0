import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PositionalWriter, writeAll } from '../../src/fs/node-file-system.ts';

/** A fake file that accepts at most `maxBytes` per call and records the calls. */
function shortWriter(maxBytes: number): PositionalWriter & { file: Buffer; calls: string[] } {
  const file = Buffer.alloc(64, '.');
  const calls: string[] = [];
  const take = (buffers: Buffer[], position: number): { bytesWritten: number } => {
    let written = 0;
    for (const buffer of buffers) {
      const count = Math.min(buffer.length, maxBytes - written);
      buffer.copy(file, position + written, 0, count);
      written += count;
      if (written === maxBytes) break;
    }
    return { bytesWritten: written };
  };
  return {
    file,
    calls,
    async write(buffer, offset, length, position) {
      calls.push(`write ${length}@${position}`);
      return take([buffer.subarray(offset, offset + length)], position);
    },
    async writev(buffers, position) {
      calls.push(`writev ${buffers.length}@${position}`);
      return take(buffers, position);
    },
  };
}

describe('writeAll', () => {
  it('uses one writev for several chunks', async () => {
    const target = shortWriter(1000);
    await writeAll(target, [Buffer.from('abc'), Buffer.from('de'), Buffer.from('f')], 2);
    assert.deepEqual(target.calls, ['writev 3@2']);
    assert.equal(target.file.subarray(0, 10).toString(), '..abcdef..');
  });

  it('uses write for a single chunk and skips empty chunks', async () => {
    const target = shortWriter(1000);
    await writeAll(target, [Buffer.alloc(0), Buffer.from('xyz'), Buffer.alloc(0)], 0);
    await writeAll(target, [], 5);
    assert.deepEqual(target.calls, ['write 3@0']);
  });

  it('loops on short writes until every byte is written', async () => {
    const target = shortWriter(4);
    await writeAll(target, [Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')], 1);
    assert.equal(target.file.subarray(0, 12).toString(), '.abcdefghij.');
    assert.deepEqual(target.calls, ['writev 3@1', 'writev 2@5', 'write 2@9']);
  });

  it('fails instead of spinning when a write makes no progress', async () => {
    const target = shortWriter(0);
    await assert.rejects(writeAll(target, [Buffer.from('a'), Buffer.from('b')], 0), {
      code: 'EIO',
    });
  });
});
