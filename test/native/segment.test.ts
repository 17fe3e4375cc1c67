import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { ErrorCode } from '../../lib/errors';
import { TMPFS_MAGIC } from '../../lib/filesystem-guard';
import { PAGE_LENGTH } from '../../lib/layout';
import { Segment } from '../../lib/segment';
import { openFdCount, removeAfterTest, uniqueName } from './helpers';

const native = binding();
const ROOT = path.resolve(__dirname, '..', '..');

function thrown(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

/** A directory on a local disk filesystem (not tmpfs), for the guard's opt-in; null if every candidate is tmpfs. */
const diskDir = [os.tmpdir(), ROOT].find((dir) => fs.statfsSync(dir).type !== TMPFS_MAGIC) ?? null;

/** A 64 KiB tmpfs to fill up. Needs root (CI and this machine run as root). */
const tiny = ((): { dir: string | null; reason: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-tiny-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'shmring-test', dir], { stdio: 'pipe' });
    return { dir, reason: '' };
  } catch (err) {
    fs.rmdirSync(dir);
    return { dir: null, reason: `mount -t tmpfs is not permitted here: ${(err as Error).message.split('\n')[0]}` };
  }
})();

afterAll(() => {
  if (tiny.dir !== null) {
    execFileSync('umount', [tiny.dir]);
    fs.rmdirSync(tiny.dir);
  }
});

describe('Segment.resolvePath', () => {
  it('joins the directory (default /dev/shm) and the name', () => {
    expect(Segment.resolvePath('ring')).toBe('/dev/shm/ring');
    expect(Segment.resolvePath('ring', '/run/app/')).toBe('/run/app/ring');
  });

  it('rejects names that are empty, too long, contain / or NUL, or are . or ..', () => {
    expect(() => Segment.resolvePath('')).toThrow(new RangeError('name must not be empty: name=""'));
    expect(() => Segment.resolvePath('x'.repeat(200))).not.toThrow();
    expect(() => Segment.resolvePath('x'.repeat(201))).toThrow(
      new RangeError(`name must be at most 200 bytes: name="${'x'.repeat(201)}"`),
    );
    expect(() => Segment.resolvePath('é'.repeat(101))).toThrow(RangeError); // 202 bytes in UTF-8
    expect(() => Segment.resolvePath('a/b')).toThrow(new RangeError(`name must not contain '/': name="a/b"`));
    expect(() => Segment.resolvePath('.')).toThrow(new RangeError(`name must not be '.' or '..': name="."`));
    expect(() => Segment.resolvePath('..')).toThrow(new RangeError(`name must not be '.' or '..': name=".."`));
    expect(() => Segment.resolvePath('a\0b')).toThrow(new RangeError('name must not contain NUL: name="a\\u0000b"'));
    expect(() => Segment.resolvePath(42 as unknown as string)).toThrow(new TypeError('name must be a string: name=42'));
    expect(() => Segment.resolvePath('ring', '')).toThrow(
      new TypeError('dir must be a non-empty string without NUL: dir=""'),
    );
  });
});

describe('Segment.create', () => {
  it('rejects sizes that are not positive multiples of the page size', () => {
    for (const size of [0, -4096, 1000, 4096.5, NaN, 2 ** 53]) {
      expect(() => Segment.create(uniqueName('size'), size)).toThrow(
        new RangeError(`size must be a positive multiple of the page size (4096): size=${size}`),
      );
    }
  });

  it('rejects bad options', () => {
    const name = uniqueName('opts');
    expect(() => Segment.create(name, PAGE_LENGTH, { mode: 0o10000 })).toThrow(
      new RangeError('mode must be an integer from 0 to 0o7777: mode=4096'),
    );
    expect(() => Segment.create(name, PAGE_LENGTH, { prefault: 'yes' as unknown as boolean })).toThrow(
      new TypeError('prefault must be a boolean: prefault=yes'),
    );
    expect(() => Segment.create(name, PAGE_LENGTH, null as unknown as object)).toThrow(
      new TypeError('options must be an object: options=null'),
    );
    expect(fs.existsSync(Segment.resolvePath(name))).toBe(false);
  });

  it('creates a zero-filled file of exactly the size, mode 0600 by default, mapped as a SharedArrayBuffer', () => {
    const name = uniqueName('create');
    const segment = Segment.create(name, 3 * PAGE_LENGTH);
    try {
      const file = Segment.resolvePath(name);
      expect(segment.path).toBe(file);
      expect(segment.size).toBe(3 * PAGE_LENGTH);
      expect(segment.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(segment.buffer.byteLength).toBe(3 * PAGE_LENGTH);
      expect(new Uint8Array(segment.buffer).every((b) => b === 0)).toBe(true);
      const st = fs.statSync(file);
      expect(st.size).toBe(3 * PAGE_LENGTH);
      expect(st.mode & 0o7777).toBe(0o600);
      new Uint8Array(segment.buffer).set([1, 2, 3], PAGE_LENGTH);
      expect([...fs.readFileSync(file).subarray(PAGE_LENGTH, PAGE_LENGTH + 3)]).toEqual([1, 2, 3]);
    } finally {
      segment.close();
    }
  });

  it('honours a custom mode whatever the umask', () => {
    const previous = process.umask(0o077);
    try {
      const name = uniqueName('mode');
      Segment.create(name, PAGE_LENGTH, { mode: 0o660 }).close();
      expect(fs.statSync(Segment.resolvePath(name)).mode & 0o7777).toBe(0o660);
    } finally {
      process.umask(previous);
    }
  });

  it('fails with EEXIST when the file exists, leaving it alone', () => {
    const name = uniqueName('exists');
    const first = Segment.create(name, PAGE_LENGTH);
    try {
      new Int32Array(first.buffer)[0] = 7;
      expect(thrown(() => Segment.create(name, 2 * PAGE_LENGTH))).toMatchObject({ code: 'EEXIST', syscall: 'open' });
      expect(fs.statSync(Segment.resolvePath(name)).size).toBe(PAGE_LENGTH);
      expect(new Int32Array(first.buffer)[0]).toBe(7);
    } finally {
      first.close();
    }
  });

  it('can prefault and mlock the pages', () => {
    const segment = Segment.create(uniqueName('mlock'), 4 * PAGE_LENGTH, { prefault: true, mlock: true });
    try {
      expect(segment.size).toBe(4 * PAGE_LENGTH);
      const address = fs
        .readFileSync('/proc/self/smaps', 'utf8')
        .split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
        .find((block) => block.includes(segment.path as string));
      expect(address).toMatch(/^Locked:\s+16 kB$/m);
    } finally {
      segment.close();
    }
  });

  it.skipIf(tiny.dir === null)(
    `reports a full tmpfs as ENOSPC at create time and removes the file ${tiny.reason}`,
    () => {
      const dir = tiny.dir as string;
      const fds = openFdCount();
      const err = thrown(() => Segment.create('big', 32 * PAGE_LENGTH, { dir }));
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({
        code: 'ENOSPC',
        errno: -28,
        syscall: 'posix_fallocate',
        path: path.join(dir, 'big'),
        dir,
        bytesRequested: 131072,
        bytesFree: 65536,
        message:
          `ENOSPC: no space left on device, posix_fallocate '${path.join(dir, 'big')}': the ring needs 131072 bytes ` +
          `and ${dir} has 65536 bytes free (a container's /dev/shm is 64 MB unless raised with docker run --shm-size; ` +
          'remove stale rings with removeStaleRings)',
      });
      expect((err.cause as Record<string, unknown>).message).toBe('ENOSPC: no space left on device, posix_fallocate');
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(openFdCount()).toBe(fds);
      const fits = Segment.create('fits', 8 * PAGE_LENGTH, { dir });
      fits.close();
      Segment.unlink('fits', { dir });
    },
  );

  it.skipIf(tiny.dir === null)(`counts the bytes other files already hold as not free ${tiny.reason}`, () => {
    const dir = tiny.dir as string;
    const held = Segment.create('held', 12 * PAGE_LENGTH, { dir });
    try {
      expect(thrown(() => Segment.create('second', 8 * PAGE_LENGTH, { dir }))).toMatchObject({
        code: 'ENOSPC',
        bytesRequested: 8 * PAGE_LENGTH,
        bytesFree: 4 * PAGE_LENGTH,
        message: expect.stringContaining(`the ring needs 32768 bytes and ${dir} has 16384 bytes free`),
      });
      expect(fs.readdirSync(dir)).toEqual(['held']);
    } finally {
      held.close();
      Segment.unlink('held', { dir });
    }
  });

  it.skipIf(diskDir === null)('refuses a disk filesystem unless allowAnyFilesystem, removing the file', () => {
    const dir = diskDir as string;
    const name = uniqueName('disk', dir);
    const file = path.join(dir, name);
    expect(thrown(() => Segment.create(name, PAGE_LENGTH, { dir }))).toMatchObject({
      code: ErrorCode.UNSUPPORTED_FILESYSTEM,
      path: file,
    });
    expect(fs.existsSync(file)).toBe(false);
    const segment = Segment.create(name, PAGE_LENGTH, { dir, allowAnyFilesystem: true });
    segment.close();
    expect(fs.statSync(file).size).toBe(PAGE_LENGTH);
    expect(thrown(() => Segment.open(name, { dir }))).toMatchObject({ code: ErrorCode.UNSUPPORTED_FILESYSTEM });
    Segment.open(name, { dir, allowAnyFilesystem: true }).close();
  });
});

describe('Segment.open', () => {
  it('maps the same memory as the creator', () => {
    const name = uniqueName('open');
    const created = Segment.create(name, 2 * PAGE_LENGTH);
    const opened = Segment.open(name);
    try {
      expect(opened.size).toBe(2 * PAGE_LENGTH);
      expect(opened.fd).not.toBe(created.fd);
      Atomics.store(new Int32Array(created.buffer), 1024, 99);
      expect(Atomics.load(new Int32Array(opened.buffer), 1024)).toBe(99);
    } finally {
      opened.close();
      created.close();
    }
  });

  it('refuses a symlink with ELOOP', () => {
    const target = uniqueName('target');
    const link = uniqueName('link');
    Segment.create(target, PAGE_LENGTH).close();
    fs.symlinkSync(Segment.resolvePath(target), Segment.resolvePath(link));
    expect(thrown(() => Segment.open(link))).toMatchObject({
      code: 'ELOOP',
      syscall: 'open',
      path: Segment.resolvePath(link),
      message: `ELOOP: too many levels of symbolic links, open '${Segment.resolvePath(link)}'`,
    });
  });

  it('refuses something that is not a regular file, without leaking the fd', () => {
    const name = uniqueName('fifo');
    const file = Segment.resolvePath(name);
    execFileSync('mkfifo', [file]);
    const fds = openFdCount();
    expect(thrown(() => Segment.open(name))).toMatchObject({
      name: 'ShmringError',
      code: ErrorCode.NOT_REGULAR_FILE,
      path: file,
      message: `${file} is not a regular file but a FIFO`,
    });
    expect(openFdCount()).toBe(fds);
    const dir = uniqueName('dir');
    fs.mkdirSync(Segment.resolvePath(dir));
    try {
      expect(thrown(() => Segment.open(dir))).toMatchObject({ code: 'EISDIR' });
    } finally {
      fs.rmdirSync(Segment.resolvePath(dir));
    }
  });

  it('reports an empty file as not ready (its creator has not sized it yet)', () => {
    const name = uniqueName('empty');
    const file = Segment.resolvePath(name);
    fs.writeFileSync(file, '', { mode: 0o600 });
    const fds = openFdCount();
    expect(thrown(() => Segment.open(name))).toMatchObject({
      name: 'ShmringError',
      code: ErrorCode.NOT_READY,
      path: file,
      message: `${file} has size 0: its creator has not sized it yet (retry)`,
    });
    expect(openFdCount()).toBe(fds);
  });

  it('reports a missing file as ENOENT', () => {
    const name = uniqueName('missing');
    expect(thrown(() => Segment.open(name))).toMatchObject({ code: 'ENOENT', path: Segment.resolvePath(name) });
  });
});

describe('Segment.createAnonymous', () => {
  it('makes a sealed memfd with no path', () => {
    const segment = Segment.createAnonymous(2 * PAGE_LENGTH, { name: 'ring-a' });
    try {
      expect(segment.path).toBeNull();
      expect(segment.size).toBe(2 * PAGE_LENGTH);
      expect(native.seals(segment.fd)).toBe(0x7);
      expect(fs.readlinkSync(`/proc/self/fd/${segment.fd}`)).toBe('/memfd:ring-a (deleted)');
      expect(thrown(() => native.truncate(segment.fd, PAGE_LENGTH))).toMatchObject({ code: 'EPERM' });
    } finally {
      segment.close();
    }
  });

  it('validates its name and size', () => {
    expect(() => Segment.createAnonymous(PAGE_LENGTH, { name: 'x'.repeat(250) })).toThrow(
      new RangeError(`memfd name must be at most 249 bytes without NUL: name="${'x'.repeat(250)}"`),
    );
    expect(() => Segment.createAnonymous(PAGE_LENGTH, { name: 7 as unknown as string })).toThrow(
      new TypeError('name must be a string: name=7'),
    );
    expect(() => Segment.createAnonymous(100)).toThrow(RangeError);
    expect(() => Segment.createAnonymous(PAGE_LENGTH, { mlock: 1 as unknown as boolean })).toThrow(
      new TypeError('mlock must be a boolean: mlock=1'),
    );
  });
});

describe('Segment.fromFd', () => {
  it('reopens the fd as its own open file description and closes the original', () => {
    const source = Segment.createAnonymous(PAGE_LENGTH);
    const dup = native.reopenFd(source.fd);
    const adopted = Segment.fromFd(dup);
    try {
      expect(adopted.fd).not.toBe(dup);
      expect(fs.existsSync(`/proc/self/fd/${dup}`)).toBe(false);
      expect(adopted.path).toBeNull();
      Atomics.store(new Int32Array(source.buffer), 0, 5);
      expect(Atomics.load(new Int32Array(adopted.buffer), 0)).toBe(5);
      expect(source.tryLock(0, true)).toBe(true);
      expect(adopted.isLocked(0)).toBe(true);
    } finally {
      adopted.close();
      source.close();
    }
  });

  it('with reopen: false keeps the given fd (and so its open file description)', () => {
    const source = Segment.createAnonymous(PAGE_LENGTH);
    const dup = native.reopenFd(source.fd);
    const adopted = Segment.fromFd(dup, { reopen: false });
    try {
      expect(adopted.fd).toBe(dup);
    } finally {
      adopted.close();
      source.close();
    }
  });

  it('refuses a socket, an empty memfd and a disk file, closing the fd each time', () => {
    const [a, b] = native.socketPair();
    native.closeFd(b);
    const fds = openFdCount();
    expect(thrown(() => Segment.fromFd(a, { reopen: false }))).toMatchObject({
      code: ErrorCode.NOT_REGULAR_FILE,
      message: `fd ${a} is not a regular file but a socket`,
    });
    expect(openFdCount()).toBe(fds - 1);

    const empty = native.memfdCreate('empty');
    expect(thrown(() => Segment.fromFd(empty))).toMatchObject({
      code: ErrorCode.NOT_READY,
      message: `fd ${empty} has size 0: its creator has not sized it yet (retry)`,
    });
    expect(openFdCount()).toBe(fds - 1);

    if (diskDir !== null) {
      const file = removeAfterTest(path.join(diskDir, uniqueName('diskfd', diskDir)));
      const fd = native.openFile(file, true, 0o600);
      native.allocate(fd, PAGE_LENGTH);
      expect(thrown(() => Segment.fromFd(fd))).toMatchObject({ code: ErrorCode.UNSUPPORTED_FILESYSTEM });
      expect((thrown(() => Segment.fromFd(native.openFile(file, false, 0))) as { message: string }).message).toMatch(
        /^fd \d+ is on .+ \(f_type=0x[0-9a-f]{8}\), not tmpfs or hugetlbfs/,
      );
      expect(openFdCount()).toBe(fds - 1);
    }
    expect(() => Segment.fromFd(-1)).toThrow(
      new RangeError('fd must be a file descriptor (a non-negative integer): fd=-1'),
    );
  });
});

describe('Segment#close', () => {
  it('swaps this mapping for zeros without touching the file, closes the fd, and is idempotent', () => {
    const name = uniqueName('close');
    const segment = Segment.create(name, PAGE_LENGTH);
    const other = Segment.open(name);
    try {
      const words = new Int32Array(segment.buffer);
      words[10] = 1234;
      segment.close();
      segment.close();
      expect(words[10]).toBe(0); // a late access reads zeros instead of faulting
      words[10] = 1; // and a late write lands in private memory
      expect(Atomics.load(new Int32Array(other.buffer), 10)).toBe(1234);
      const fdLink = `/proc/self/fd/${segment.fd}`;
      expect(fs.existsSync(fdLink) ? fs.readlinkSync(fdLink) : null).not.toBe(Segment.resolvePath(name));
    } finally {
      other.close();
    }
  });

  it('makes every other method throw ERR_SHMRING_CLOSED', () => {
    const name = uniqueName('closed');
    const segment = Segment.create(name, PAGE_LENGTH);
    segment.close();
    const closed = { name: 'ShmringError', code: ErrorCode.CLOSED, message: `segment ${segment.path} is closed` };
    expect(thrown(() => segment.tryLock(0, true))).toMatchObject(closed);
    expect(thrown(() => segment.unlock(0))).toMatchObject(closed);
    expect(thrown(() => segment.isLocked(0))).toMatchObject(closed);
    expect(thrown(() => segment.sendTo(0))).toMatchObject(closed);
    expect(thrown(() => segment.wake(0))).toMatchObject(closed);
    expect(thrown(() => segment.waitSync(0, 0, 0))).toMatchObject(closed);
    expect(thrown(() => segment.createWaiter(0))).toMatchObject(closed);
    const anonymous = Segment.createAnonymous(PAGE_LENGTH);
    anonymous.close();
    expect(thrown(() => anonymous.isLocked(0))).toMatchObject({ message: `segment fd ${anonymous.fd} is closed` });
  });
});

describe('Segment.unlink', () => {
  it('removes the file; mappings stay valid', () => {
    const name = uniqueName('unlink');
    const segment = Segment.create(name, PAGE_LENGTH);
    try {
      Segment.unlink(name);
      expect(fs.existsSync(Segment.resolvePath(name))).toBe(false);
      new Int32Array(segment.buffer)[0] = 3;
      expect(new Int32Array(segment.buffer)[0]).toBe(3);
      expect(thrown(() => Segment.unlink(name))).toMatchObject({ code: 'ENOENT', syscall: 'unlink' });
    } finally {
      segment.close();
    }
  });
});
