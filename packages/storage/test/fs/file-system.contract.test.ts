import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FileSystem } from '../../src/fs/file-system.ts';
import { MemoryFileSystem } from '../../src/fs/memory-file-system.ts';
import { NodeFileSystem } from '../../src/fs/node-file-system.ts';

/** One implementation under test, in a fresh empty directory `root`. */
interface Fixture {
  fs: FileSystem;
  root: string;
  path(...names: string[]): string;
  cleanup(): Promise<void>;
}

const implementations: { name: string; create(): Promise<Fixture> }[] = [
  {
    name: 'NodeFileSystem',
    async create() {
      const root = await mkdtemp(join(tmpdir(), 'brook-fs-contract-'));
      return {
        fs: new NodeFileSystem(),
        root,
        path: (...names) => join(root, ...names),
        cleanup: () => rm(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'MemoryFileSystem',
    async create() {
      const fs = new MemoryFileSystem();
      const root = '/contract';
      await fs.mkdir(root);
      return { fs, root, path: (...names) => posix.join(root, ...names), cleanup: async () => {} };
    },
  },
];

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

for (const implementation of implementations) {
  describe(`FileSystem contract: ${implementation.name}`, () => {
    let fixture: Fixture;
    let fs: FileSystem;
    let path: (...names: string[]) => string;

    beforeEach(async () => {
      fixture = await implementation.create();
      fs = fixture.fs;
      path = fixture.path;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('open', () => {
      it('rejects a missing file with ENOENT unless create is set', async () => {
        await assert.rejects(fs.open(path('missing'), { create: false }), { code: 'ENOENT' });
        assert.equal(await fs.exists(path('missing')), false);
      });

      it('creates an empty file with create', async () => {
        const handle = await fs.open(path('new'), { create: true });
        assert.equal(await handle.size(), 0);
        await handle.close();
        assert.equal(await fs.exists(path('new')), true);
        assert.deepEqual(await fs.readdir(fixture.root), ['new']);
      });

      it('neither truncates an existing file nor forces appends', async () => {
        await fs.writeFileAtomic(path('file'), bytes('hello world'));
        const handle = await fs.open(path('file'), { create: true });
        assert.equal(await handle.size(), 11);
        await handle.write([bytes('J')], 0);
        await handle.close();
        assert.equal((await fs.readFile(path('file'))).toString('latin1'), 'Jello world');
      });

      it('rejects a missing parent directory with ENOENT, even with create', async () => {
        await assert.rejects(fs.open(path('nowhere', 'file'), { create: true }), {
          code: 'ENOENT',
        });
      });

      it('rejects a directory with EISDIR', async () => {
        await fs.mkdir(path('dir'));
        await assert.rejects(fs.open(path('dir'), { create: true }), { code: 'EISDIR' });
      });
    });

    describe('file handles', () => {
      it('write and read at positions', async () => {
        const handle = await fs.open(path('file'), { create: true });
        await handle.write([bytes('0123456789')], 0);
        await handle.write([bytes('abc')], 4);
        const buffer = Buffer.alloc(8, '.');
        assert.equal(await handle.read(buffer, 2, 5, 3), 5);
        assert.equal(buffer.toString('latin1'), '..3abc7.');
        assert.equal(await handle.read(buffer, 0, 8, 8), 2, 'a read past the end is short');
        assert.equal(await handle.read(buffer, 0, 8, 10), 0, 'a read at the end reads nothing');
        assert.equal(await handle.read(buffer, 0, 8, 100), 0);
        await handle.close();
      });

      it('writes several chunks in order at one position', async () => {
        const handle = await fs.open(path('file'), { create: true });
        await handle.write([bytes('xxxxxxxxxx')], 0);
        await handle.write([bytes('ab'), Buffer.alloc(0), bytes('cde'), bytes('f')], 2);
        assert.equal(await handle.size(), 10);
        await handle.write([bytes('12'), bytes('34')], 9);
        assert.equal(await handle.size(), 13);
        await handle.write([], 13);
        await handle.sync();
        await handle.close();
        assert.equal((await fs.readFile(path('file'))).toString('latin1'), 'xxabcdefx1234');
      });

      it('fills a gap left by a write past the end with zeros', async () => {
        const handle = await fs.open(path('file'), { create: true });
        await handle.write([bytes('ab')], 0);
        await handle.write([bytes('cd')], 5);
        await handle.close();
        assert.deepEqual(await fs.readFile(path('file')), Buffer.from('ab\0\0\0cd', 'latin1'));
      });

      it('truncates to shrink and to extend with zeros', async () => {
        const handle = await fs.open(path('file'), { create: true });
        await handle.write([bytes('abcdefgh')], 0);
        await handle.truncate(3);
        assert.equal(await handle.size(), 3);
        await handle.truncate(6);
        assert.equal(await handle.size(), 6);
        await handle.sync();
        const buffer = Buffer.alloc(6, '.');
        assert.equal(await handle.read(buffer, 0, 6, 0), 6);
        assert.deepEqual(buffer, Buffer.from('abc\0\0\0', 'latin1'));
        await handle.close();
      });

      it('rejects use after close with EBADF', async () => {
        const handle = await fs.open(path('file'), { create: true });
        await handle.close();
        await assert.rejects(handle.read(Buffer.alloc(1), 0, 1, 0), { code: 'EBADF' });
        await assert.rejects(handle.write([bytes('a')], 0), { code: 'EBADF' });
      });
    });

    describe('readFile', () => {
      it('reads the whole file', async () => {
        const handle = await fs.open(path('file'), { create: true });
        await handle.write([bytes('content')], 0);
        await handle.close();
        assert.equal((await fs.readFile(path('file'))).toString('latin1'), 'content');
      });

      it('rejects a missing file with ENOENT', async () => {
        await assert.rejects(fs.readFile(path('missing')), { code: 'ENOENT' });
      });
    });

    describe('writeFileAtomic', () => {
      it('creates, then replaces the whole content, leaving no temporary file', async () => {
        await fs.writeFileAtomic(path('state'), bytes('a long first version'));
        assert.equal((await fs.readFile(path('state'))).toString('latin1'), 'a long first version');
        await fs.writeFileAtomic(path('state'), bytes('second'));
        assert.equal((await fs.readFile(path('state'))).toString('latin1'), 'second');
        await fs.writeFileAtomic(path('state'), Buffer.alloc(0));
        assert.equal((await fs.readFile(path('state'))).length, 0);
        assert.deepEqual(await fs.readdir(fixture.root), ['state']);
      });

      it('rejects a missing directory with ENOENT', async () => {
        await assert.rejects(fs.writeFileAtomic(path('nowhere', 'state'), bytes('x')), {
          code: 'ENOENT',
        });
      });
    });

    describe('rename', () => {
      it('moves a file, within and across directories', async () => {
        await fs.mkdir(path('other'));
        await fs.writeFileAtomic(path('a'), bytes('A'));
        await fs.rename(path('a'), path('b'));
        assert.equal(await fs.exists(path('a')), false);
        assert.equal((await fs.readFile(path('b'))).toString('latin1'), 'A');
        await fs.rename(path('b'), path('other', 'c'));
        assert.deepEqual((await fs.readdir(fixture.root)).sort(), ['other']);
        assert.deepEqual(await fs.readdir(path('other')), ['c']);
      });

      it('replaces an existing target', async () => {
        await fs.writeFileAtomic(path('a'), bytes('new'));
        await fs.writeFileAtomic(path('b'), bytes('old'));
        await fs.rename(path('a'), path('b'));
        assert.equal((await fs.readFile(path('b'))).toString('latin1'), 'new');
        assert.deepEqual(await fs.readdir(fixture.root), ['b']);
      });

      it('moves a directory with its content', async () => {
        await fs.mkdir(path('dir'));
        await fs.writeFileAtomic(path('dir', 'file'), bytes('x'));
        await fs.rename(path('dir'), path('moved'));
        assert.equal((await fs.readFile(path('moved', 'file'))).toString('latin1'), 'x');
        assert.equal(await fs.exists(path('dir')), false);
      });

      it('rejects a missing source with ENOENT', async () => {
        await assert.rejects(fs.rename(path('missing'), path('b')), { code: 'ENOENT' });
      });

      it('rejects a directory over a non-empty directory with ENOTEMPTY', async () => {
        await fs.mkdir(path('empty'));
        await fs.mkdir(path('full'));
        await fs.writeFileAtomic(path('full', 'file'), bytes('x'));
        await assert.rejects(fs.rename(path('empty'), path('full')), { code: 'ENOTEMPTY' });
      });
    });

    describe('unlink', () => {
      it('removes a file', async () => {
        await fs.writeFileAtomic(path('file'), bytes('x'));
        await fs.unlink(path('file'));
        assert.equal(await fs.exists(path('file')), false);
        assert.deepEqual(await fs.readdir(fixture.root), []);
      });

      it('rejects a missing file with ENOENT', async () => {
        await assert.rejects(fs.unlink(path('missing')), { code: 'ENOENT' });
      });

      it('refuses a directory', async () => {
        await fs.mkdir(path('dir'));
        await assert.rejects(fs.unlink(path('dir')), (error: { code?: unknown }) => {
          assert.ok(error.code === 'EISDIR' || error.code === 'EPERM', String(error.code));
          return true;
        });
      });
    });

    describe('directories', () => {
      it('mkdir creates parents and accepts an existing directory', async () => {
        await fs.mkdir(path('a', 'b', 'c'));
        await fs.mkdir(path('a', 'b', 'c'));
        await fs.mkdir(path('a'));
        assert.equal(await fs.exists(path('a', 'b', 'c')), true);
        assert.deepEqual(await fs.readdir(path('a')), ['b']);
        assert.deepEqual(await fs.readdir(path('a', 'b', 'c')), []);
      });

      it('mkdir over a file rejects with EEXIST, under a file with ENOTDIR', async () => {
        await fs.writeFileAtomic(path('file'), bytes('x'));
        await assert.rejects(fs.mkdir(path('file')), { code: 'EEXIST' });
        await assert.rejects(fs.mkdir(path('file', 'sub')), { code: 'ENOTDIR' });
      });

      it('readdir lists the names of files and directories', async () => {
        await fs.mkdir(path('dir', 'sub'));
        await fs.writeFileAtomic(path('dir', '00000000000000000000.log'), bytes('x'));
        const handle = await fs.open(path('dir', '00000000000000000000.index'), { create: true });
        await handle.close();
        assert.deepEqual((await fs.readdir(path('dir'))).sort(), [
          '00000000000000000000.index',
          '00000000000000000000.log',
          'sub',
        ]);
      });

      it('readdir rejects a missing directory with ENOENT and a file with ENOTDIR', async () => {
        await assert.rejects(fs.readdir(path('missing')), { code: 'ENOENT' });
        await fs.writeFileAtomic(path('file'), bytes('x'));
        await assert.rejects(fs.readdir(path('file')), { code: 'ENOTDIR' });
      });

      it('removeDirectory removes a tree and ignores a missing directory', async () => {
        await fs.mkdir(path('topic-0', 'sub'));
        await fs.writeFileAtomic(path('topic-0', 'a.log'), bytes('x'));
        await fs.writeFileAtomic(path('topic-0', 'sub', 'b.log'), bytes('y'));
        await fs.removeDirectory(path('topic-0'));
        assert.equal(await fs.exists(path('topic-0')), false);
        assert.deepEqual(await fs.readdir(fixture.root), []);
        await fs.removeDirectory(path('topic-0'));
        await fs.removeDirectory(path('missing', 'deeper'));
      });

      it('removeDirectory refuses a file with ENOTDIR', async () => {
        await fs.writeFileAtomic(path('file'), bytes('x'));
        await assert.rejects(fs.removeDirectory(path('file')), { code: 'ENOTDIR' });
        assert.equal(await fs.exists(path('file')), true);
      });

      it('syncDirectory accepts a directory and rejects a missing one with ENOENT', async () => {
        await fs.mkdir(path('dir'));
        await fs.syncDirectory(path('dir'));
        await fs.syncDirectory(fixture.root);
        await assert.rejects(fs.syncDirectory(path('missing')), { code: 'ENOENT' });
      });
    });

    describe('exists', () => {
      it('is true for files and directories, false for missing paths', async () => {
        await fs.mkdir(path('dir'));
        await fs.writeFileAtomic(path('file'), bytes('x'));
        assert.equal(await fs.exists(path('dir')), true);
        assert.equal(await fs.exists(path('file')), true);
        assert.equal(await fs.exists(path('missing')), false);
        assert.equal(await fs.exists(path('missing', 'deeper')), false);
        assert.equal(await fs.exists(path('file', 'under-a-file')), false);
      });
    });
  });
}
