import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileHandle } from '../../src/fs/file-system.ts';
import { MemoryFileSystem, seededRandom } from '../../src/fs/memory-file-system.ts';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

async function text(fs: MemoryFileSystem, path: string): Promise<string> {
  return (await fs.readFile(path)).toString('latin1');
}

/** A file system with a durable directory `/data` holding a durable, empty file `/data/log`. */
async function withDurableFile(): Promise<{ fs: MemoryFileSystem; handle: FileHandle }> {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/data');
  await fs.syncDirectory('/');
  const handle = await fs.open('/data/log', { create: true });
  await fs.syncDirectory('/data');
  return { fs, handle };
}

describe('MemoryFileSystem crash model', () => {
  it('loses unsynced bytes at a crash', async () => {
    const { fs, handle } = await withDurableFile();
    await handle.write([bytes('unsynced')], 0);
    assert.equal(await text(fs, '/data/log'), 'unsynced', 'reads see unsynced bytes');
    fs.crash();
    assert.equal(await text(fs, '/data/log'), '');
  });

  it('keeps synced bytes and loses only what came after the sync', async () => {
    const { fs, handle } = await withDurableFile();
    await handle.write([bytes('durable')], 0);
    await handle.sync();
    await handle.write([bytes('+lost')], 7);
    await handle.truncate(3);
    fs.crash();
    assert.equal(await text(fs, '/data/log'), 'durable');
  });

  it('makes a truncation durable only with a sync', async () => {
    const { fs, handle } = await withDurableFile();
    await handle.write([bytes('abcdef')], 0);
    await handle.sync();
    await handle.truncate(2);
    await handle.sync();
    await handle.truncate(0);
    fs.crash();
    assert.equal(await text(fs, '/data/log'), 'ab');
  });

  it('keeps a torn prefix of unsynced writes, in order, reproducibly from the seed', async () => {
    const writes = ['a'.repeat(100), 'b'.repeat(100), 'c'.repeat(100)];
    const everything = writes.join('');
    const survivorFor = async (seed: number): Promise<string> => {
      const { fs, handle } = await withDurableFile();
      await handle.write([bytes('synced:')], 0);
      await handle.sync();
      let position = 7;
      for (const write of writes) {
        await handle.write([bytes(write)], position);
        position += write.length;
      }
      fs.crash({ tornWrites: true, random: seededRandom(seed) });
      const survivor = await text(fs, '/data/log');
      assert.ok(survivor.startsWith('synced:'), 'synced bytes always survive');
      return survivor.slice(7);
    };
    const lengths = new Set<number>();
    for (let seed = 1; seed <= 40; seed += 1) {
      const survivor = await survivorFor(seed);
      assert.ok(everything.startsWith(survivor), `seed ${seed}: not a prefix: ${survivor}`);
      assert.equal(await survivorFor(seed), survivor, `seed ${seed} replays`);
      lengths.add(survivor.length);
    }
    assert.ok(lengths.has(0), 'sometimes nothing survives');
    assert.ok(
      [...lengths].some((length) => length % 100 !== 0),
      'sometimes a write is torn',
    );
    assert.ok(
      [...lengths].some((length) => length >= 200),
      'sometimes several writes survive',
    );
  });

  it('loses every unsynced byte at a crash without tornWrites, even with a random', async () => {
    const { fs, handle } = await withDurableFile();
    await handle.write([bytes('abc')], 0);
    fs.crash({ random: () => 0 });
    assert.equal(await text(fs, '/data/log'), '');
  });

  it('loses a created file unless its directory was synced', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/data');
    await fs.syncDirectory('/');
    const create = async (name: string): Promise<void> => {
      const handle = await fs.open(`/data/${name}`, { create: true });
      await handle.write([bytes(name)], 0);
      await handle.sync();
      await handle.close();
    };
    await create('not-synced');
    fs.crash();
    assert.deepEqual(await fs.readdir('/data'), []);
    await create('synced');
    await fs.syncDirectory('/data');
    fs.crash();
    assert.deepEqual(await fs.readdir('/data'), ['synced']);
    assert.equal(await text(fs, '/data/synced'), 'synced');
  });

  it('keeps a synced entry but not the unsynced data of its file', async () => {
    const fs = new MemoryFileSystem();
    const handle = await fs.open('/file', { create: true });
    await handle.write([bytes('data')], 0);
    await fs.syncDirectory('/');
    fs.crash();
    assert.equal(await text(fs, '/file'), '');
  });

  it('loses a new directory unless its parent was synced', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/a/b');
    await fs.syncDirectory('/');
    fs.crash();
    assert.deepEqual(await fs.readdir('/a'), []);
    await assert.rejects(fs.readdir('/a/b'), { code: 'ENOENT' });
  });

  it('brings back unlinked, renamed, removed entries until the directory is synced', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/data/segment');
    await fs.writeFileAtomic('/data/doomed', bytes('doomed'));
    await fs.writeFileAtomic('/data/old-name', bytes('moved'));
    await fs.writeFileAtomic('/data/segment/file', bytes('inside'));
    await fs.syncDirectory('/');
    await fs.syncDirectory('/data');
    await fs.unlink('/data/doomed');
    await fs.rename('/data/old-name', '/data/new-name');
    await fs.removeDirectory('/data/segment');
    assert.deepEqual(await fs.readdir('/data'), ['new-name']);
    fs.crash();
    assert.deepEqual(await fs.readdir('/data'), ['doomed', 'old-name', 'segment']);
    assert.equal(await text(fs, '/data/doomed'), 'doomed');
    assert.equal(await text(fs, '/data/segment/file'), 'inside');

    await fs.unlink('/data/doomed');
    await fs.rename('/data/old-name', '/data/new-name');
    await fs.removeDirectory('/data/segment');
    await fs.syncDirectory('/data');
    fs.crash();
    assert.deepEqual(await fs.readdir('/data'), ['new-name']);
    assert.equal(await text(fs, '/data/new-name'), 'moved');
  });

  it('keeps synced writes to an unlinked file whose unlink was not durable', async () => {
    const { fs, handle } = await withDurableFile();
    await fs.unlink('/data/log');
    await handle.write([bytes('late')], 0);
    await handle.sync();
    fs.crash();
    assert.equal(await text(fs, '/data/log'), 'late');
  });

  it('makes every handle unusable after a crash', async () => {
    const { fs, handle } = await withDurableFile();
    fs.crash();
    const dead = { code: 'EBADF' };
    await assert.rejects(handle.read(Buffer.alloc(1), 0, 1, 0), dead);
    await assert.rejects(handle.write([bytes('x')], 0), dead);
    await assert.rejects(handle.sync(), dead);
    await assert.rejects(handle.truncate(0), dead);
    await assert.rejects(handle.size(), dead);
    await assert.rejects(handle.close(), dead);
    const reopened = await fs.open('/data/log', { create: false });
    await reopened.write([bytes('alive')], 0);
    await reopened.close();
    assert.equal(await text(fs, '/data/log'), 'alive');
  });
});

describe('MemoryFileSystem fault injection', () => {
  it('failNextSync rejects with EIO; the data stays non-durable even if synced again', async () => {
    const { fs, handle } = await withDurableFile();
    await handle.write([bytes('durable|')], 0);
    await handle.sync();
    await handle.write([bytes('lost')], 8);
    fs.failNextSync('/data/log');
    await assert.rejects(handle.sync(), { code: 'EIO' });
    assert.equal(await text(fs, '/data/log'), 'durable|lost', 'reads still see the bytes');
    await handle.sync();
    fs.crash();
    assert.equal(await text(fs, '/data/log'), 'durable|');
  });

  it('makes rewritten data durable after a failed sync', async () => {
    const { fs, handle } = await withDurableFile();
    await handle.write([bytes('first')], 0);
    fs.failNextSync();
    await assert.rejects(handle.sync(), { code: 'EIO' });
    await handle.write([bytes('again')], 0);
    await handle.sync();
    fs.crash();
    assert.equal(await text(fs, '/data/log'), 'again');
  });

  it('failNextSync on a directory leaves its entries non-durable', async () => {
    const fs = new MemoryFileSystem();
    await (await fs.open('/file', { create: true })).close();
    fs.failNextSync('/');
    await assert.rejects(fs.syncDirectory('/'), { code: 'EIO' });
    fs.crash();
    assert.equal(await fs.exists('/file'), false);
  });

  it('matches fault patterns by exact path or RegExp, one fault per call', async () => {
    const { fs, handle } = await withDurableFile();
    const other = await fs.open('/data/other.index', { create: true });
    fs.failNextSync('/data/elsewhere');
    fs.failNextSync(/\.index$/);
    await handle.sync();
    await assert.rejects(other.sync(), { code: 'EIO' });
    await other.sync();
    fs.failNextWrite('data/log');
    await assert.rejects(handle.write([bytes('x')], 0), { code: 'EIO' });
    await handle.write([bytes('x')], 0);
  });

  it('failNextWrite writes only partialBytes, then rejects with EIO', async () => {
    const { fs, handle } = await withDurableFile();
    fs.failNextWrite('/data/log', { partialBytes: 3 });
    await assert.rejects(handle.write([bytes('ab'), bytes('cdef')], 0), { code: 'EIO' });
    assert.equal(await text(fs, '/data/log'), 'abc');
    fs.failNextWrite();
    await assert.rejects(handle.write([bytes('zzz')], 3), { code: 'EIO' });
    assert.equal(await handle.size(), 3);
  });

  it('failNextRename rejects with EIO and changes nothing', async () => {
    const fs = new MemoryFileSystem();
    await fs.writeFileAtomic('/a', bytes('a'));
    fs.failNextRename('/b');
    await assert.rejects(fs.rename('/a', '/b'), { code: 'EIO' });
    assert.deepEqual(await fs.readdir('/'), ['a']);
    await fs.rename('/a', '/b');
    assert.deepEqual(await fs.readdir('/'), ['b']);
  });

  it('diskFullAfterBytes writes what fits, then rejects with ENOSPC', async () => {
    const { fs, handle } = await withDurableFile();
    fs.diskFullAfterBytes(10);
    await handle.write([bytes('12345678')], 0);
    await assert.rejects(handle.write([bytes('abcd')], 8), { code: 'ENOSPC' });
    assert.equal(await text(fs, '/data/log'), '12345678ab');
    await handle.write([bytes('xy')], 0);
    await assert.rejects(fs.writeFileAtomic('/data/state', bytes('too big')), { code: 'ENOSPC' });
    assert.deepEqual(await fs.readdir('/data'), ['log'], 'the temporary file is removed');
    await handle.truncate(4);
    await fs.writeFileAtomic('/data/state', bytes('fits!!'));
    assert.equal(await text(fs, '/data/state'), 'fits!!');
    fs.diskFullAfterBytes(Number.POSITIVE_INFINITY);
    await handle.write([Buffer.alloc(1000)], 4);
  });

  it('counts syncs, directory syncs, writes and written bytes', async () => {
    const { fs, handle } = await withDurableFile();
    fs.resetStats();
    await handle.write([bytes('abc'), bytes('de')], 0);
    await handle.sync();
    fs.failNextSync();
    await assert.rejects(handle.sync());
    await fs.writeFileAtomic('/data/state', bytes('1234'));
    assert.deepEqual(fs.stats, {
      syncCount: 3,
      directorySyncCount: 1,
      writeCount: 2,
      writtenBytes: 9,
    });
    fs.resetStats();
    assert.equal(fs.stats.writtenBytes, 0);
  });
});

describe('MemoryFileSystem writeFileAtomic under crashes', () => {
  /** A file system whose '/state' durably holds `old`, if given. */
  async function prepared(old: string | undefined): Promise<MemoryFileSystem> {
    const fs = new MemoryFileSystem();
    if (old !== undefined) await fs.writeFileAtomic('/state', bytes(old));
    return fs;
  }

  async function contentAfterCrash(fs: MemoryFileSystem, seed: number): Promise<string | null> {
    fs.crash({ tornWrites: true, random: seededRandom(seed) });
    return (await fs.exists('/state')) ? text(fs, '/state') : null;
  }

  for (const old of ['the old content, longer than the new', undefined]) {
    const label = old === undefined ? 'a new file' : 'an existing file';

    it(`leaves the old or the new content at every crash point (${label})`, async () => {
      const seen = new Set<string | null>();
      for (let tick = 0; ; tick += 1) {
        const fs = await prepared(old);
        let settled = false;
        const writing = fs.writeFileAtomic('/state', bytes('new')).then(
          () => {
            settled = true;
          },
          () => {
            settled = true;
          },
        );
        for (let step = 0; step < tick; step += 1) await Promise.resolve();
        const finishedBeforeCrash = settled;
        const content = await contentAfterCrash(fs, tick + 1);
        await writing;
        assert.ok(content === (old ?? null) || content === 'new', `tick ${tick}: ${content}`);
        seen.add(content);
        if (finishedBeforeCrash) {
          assert.equal(content, 'new', 'a completed writeFileAtomic is durable');
          break;
        }
        assert.ok(tick < 1000, 'writeFileAtomic never finished');
      }
      assert.deepEqual(seen, new Set([old ?? null, 'new']));
    });
  }

  const faults: [string, (fs: MemoryFileSystem) => void][] = [
    ['the write fails', (fs) => fs.failNextWrite('/state.tmp', { partialBytes: 2 })],
    ['the file sync fails', (fs) => fs.failNextSync('/state.tmp')],
    ['the rename fails', (fs) => fs.failNextRename('/state')],
    ['the directory sync fails', (fs) => fs.failNextSync('/')],
  ];
  for (const [when, inject] of faults) {
    it(`keeps the old content through a crash when ${when}`, async () => {
      const fs = await prepared('old');
      inject(fs);
      await assert.rejects(fs.writeFileAtomic('/state', bytes('new')), { code: 'EIO' });
      for (const seed of [1, 2, 3]) {
        const content = await contentAfterCrash(fs, seed);
        assert.equal(content, 'old');
      }
      assert.deepEqual(await fs.readdir('/'), ['state']);
    });
  }
});

describe('seededRandom', () => {
  it('replays the same numbers in [0, 1) from the same seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const first = Array.from({ length: 100 }, a);
    assert.deepEqual(Array.from({ length: 100 }, b), first);
    assert.notDeepEqual(Array.from({ length: 100 }, c), first);
    assert.ok(first.every((value) => value >= 0 && value < 1));
  });
});
