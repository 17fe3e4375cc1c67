import fs from 'fs';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding';
import { TMPFS_MAGIC } from '../../lib/filesystem-guard';
import { thrown, uniqueName } from '../helpers/ring-env';

const native = binding();
const openFds: number[] = [];

function track(fd: number): number {
  openFds.push(fd);
  return fd;
}

afterEach(() => {
  for (const fd of openFds.splice(0)) {
    try {
      native.closeFd(fd);
    } catch {
      // closed by the test itself
    }
  }
});

describe('native errors', () => {
  it('look like Node system errors: code, negative errno, syscall, path and the message format', () => {
    const file = path.join('/dev/shm', uniqueName('missing'));
    const err = thrown(() => native.openFile(file, false, 0));
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      message: `ENOENT: no such file or directory, open '${file}'`,
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
      path: file,
    });
  });

  it('leave out path for calls without one', () => {
    const err = thrown(() => native.closeFd(1_000_000));
    expect(err).toMatchObject({
      message: 'EBADF: bad file descriptor, close',
      code: 'EBADF',
      errno: -9,
      syscall: 'close',
    });
    expect(err).not.toHaveProperty('path');
  });
});

describe('openFile', () => {
  it('creates exclusively with exactly the mode asked for, whatever the umask', () => {
    const previous = process.umask(0o000);
    try {
      const loose = path.join('/dev/shm', uniqueName('umask0'));
      track(native.openFile(loose, true, 0o600));
      expect(fs.statSync(loose).mode & 0o7777).toBe(0o600);
      process.umask(0o077);
      const custom = path.join('/dev/shm', uniqueName('umask77'));
      track(native.openFile(custom, true, 0o644));
      expect(fs.statSync(custom).mode & 0o7777).toBe(0o644);
      expect(thrown(() => native.openFile(custom, true, 0o600))).toMatchObject({
        code: 'EEXIST',
        syscall: 'open',
        message: `EEXIST: file exists, open '${custom}'`,
      });
    } finally {
      process.umask(previous);
    }
  });

  it('refuses to follow a symlink (ELOOP), and refuses to create over one (EEXIST)', () => {
    const target = path.join('/dev/shm', uniqueName('target'));
    const link = path.join('/dev/shm', uniqueName('link'));
    fs.writeFileSync(target, 'x');
    fs.symlinkSync(target, link);
    expect(thrown(() => native.openFile(link, false, 0))).toMatchObject({
      code: 'ELOOP',
      errno: -40,
      syscall: 'open',
      path: link,
      message: `ELOOP: too many levels of symbolic links, open '${link}'`,
    });
    fs.rmSync(target);
    expect(thrown(() => native.openFile(link, true, 0o600))).toMatchObject({ code: 'EEXIST' }); // dangling: not followed
    expect(fs.existsSync(target)).toBe(false);
  });

  it('gives close-on-exec descriptors', () => {
    const file = path.join('/dev/shm', uniqueName('cloexec'));
    const fd = track(native.openFile(file, true, 0o600));
    const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0';
    expect(parseInt(flags, 8) & 0o2000000).toBe(0o2000000); // O_CLOEXEC
  });
});

describe('fstat / allocate / unlinkFile', () => {
  it('report size, mode, owner, inode, regular-file-ness and the tmpfs magic', () => {
    const file = path.join('/dev/shm', uniqueName('stat'));
    const fd = track(native.openFile(file, true, 0o640));
    native.allocate(fd, 8192);
    const st = native.fstat(fd);
    const ref = fs.statSync(file);
    expect(st).toEqual({
      size: 8192,
      mode: ref.mode,
      uid: ref.uid,
      ino: ref.ino,
      dev: ref.dev,
      isFile: true,
      fsType: TMPFS_MAGIC,
    });
    expect(fs.statSync(file).blocks * 512).toBeGreaterThanOrEqual(8192); // reserved, not sparse
    fs.ftruncateSync(fd, 4096);
    expect(native.fstat(fd).size).toBe(4096);
    native.unlinkFile(file);
    expect(fs.existsSync(file)).toBe(false);
    expect(thrown(() => native.unlinkFile(file))).toMatchObject({ code: 'ENOENT', syscall: 'unlink', path: file });
  });

  it('allocate sets the exact size even when the file was larger', () => {
    const file = path.join('/dev/shm', uniqueName('shrink'));
    const fd = track(native.openFile(file, true, 0o600));
    fs.ftruncateSync(fd, 3 * 4096);
    native.allocate(fd, 4096);
    expect(native.fstat(fd).size).toBe(4096);
  });

  it('reopenFd gives a new open file description of the same file', () => {
    const file = path.join('/dev/shm', uniqueName('reopen'));
    const fd = track(native.openFile(file, true, 0o600));
    const again = track(native.reopenFd(fd));
    expect(again).not.toBe(fd);
    expect(native.fstat(again).ino).toBe(native.fstat(fd).ino);
    expect(native.tryLock(fd, 0, true)).toBe(true);
    expect(native.tryLock(again, 0, true)).toBe(false); // distinct descriptions: the locks conflict
    expect(thrown(() => native.reopenFd(1_000_000))).toMatchObject({
      code: 'ENOENT',
      syscall: 'open',
      path: '/proc/self/fd/1000000',
    });
  });
});

describe('memfd', () => {
  it('a sealed memfd refuses to change size (EPERM) and to take or lose seals', () => {
    const fd = track(native.memfdCreate('shmring-test'));
    native.allocate(fd, 4096);
    fs.ftruncateSync(fd, 8192); // unsealed: any size
    fs.ftruncateSync(fd, 4096);
    native.sealSize(fd);
    expect(thrown(() => fs.ftruncateSync(fd, 0))).toMatchObject({
      code: 'EPERM',
      syscall: 'ftruncate',
      message: 'EPERM: operation not permitted, ftruncate',
    });
    expect(thrown(() => fs.ftruncateSync(fd, 8192))).toMatchObject({ code: 'EPERM' });
    expect(thrown(() => native.sealSize(fd))).toMatchObject({ code: 'EPERM', syscall: 'fcntl' }); // F_SEAL_SEAL
    const st = native.fstat(fd);
    expect(st).toMatchObject({ size: 4096, isFile: true, fsType: TMPFS_MAGIC });
    expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toBe('/memfd:shmring-test (deleted)');
  });

  it('memfd_create errors carry the errno', () => {
    expect(thrown(() => native.memfdCreate('x'.repeat(250)))).toMatchObject({
      code: 'EINVAL',
      syscall: 'memfd_create',
    });
  });
});
