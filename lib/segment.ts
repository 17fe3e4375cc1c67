/**
 * A shared memory object at the OS level: a file in /dev/shm (or another directory) or an anonymous memfd, mapped
 * as a SharedArrayBuffer. It knows nothing about rings; lib/layout.ts and the ring code give the bytes a meaning.
 */
import fs from 'node:fs';
import path from 'node:path';
import { binding } from './binding';
import { closedError, ErrorCode, noSpaceError, ShmringError, type SystemError } from './errors';
import { checkDirectoryMode, checkFilesystem } from './filesystem-guard';
import { FutexWaiter, futexWait, futexWake, type FutexResultValue } from './futex';
import { PAGE_LENGTH } from './layout';

/** Longest name accepted by {@link Segment.resolvePath}, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 200;

/** Longest memfd name the kernel accepts, in UTF-8 bytes. */
export const MAX_MEMFD_NAME_BYTES = 249;

export interface SegmentOptions {
  /** Directory of named segments. Default '/dev/shm'. */
  dir?: string;
  /** Permission bits of a created file, applied exactly (the umask does not change them). Default 0o600. */
  mode?: number;
  /** Fault every page into the page tables when mapping (MAP_POPULATE). Default false. */
  prefault?: boolean;
  /** Lock the pages in RAM (mlock); subject to RLIMIT_MEMLOCK. Default false. */
  mlock?: boolean;
  /** Accept a local disk filesystem (ext4...) instead of tmpfs/hugetlbfs. Network filesystems are always refused. */
  allowAnyFilesystem?: boolean;
  /**
   * Opening an existing file: called with its size before it is mapped (throw to refuse it; the fd is then closed).
   * `label` names the file in messages, `filePath` is its path (null for an fd).
   */
  checkSize?: (size: number, label: string, filePath: string | null) => void;
}

export interface AnonymousSegmentOptions {
  /** Label shown in /proc/PID/fd and /proc/PID/maps. Default 'shmring'. */
  name?: string;
  prefault?: boolean;
  mlock?: boolean;
}

export interface FromFdOptions extends SegmentOptions {
  /**
   * Open a new open file description of the file (via /proc/self/fd) and close the given fd. Default true: a
   * received fd shares the sender's description, and OFD locks are per description.
   */
  reopen?: boolean;
}

/** Where named segments (ring files) live unless a `dir` says otherwise. */
export const DEFAULT_DIR = '/dev/shm';
const DEFAULT_MODE = 0o600;
const MARKER = Buffer.from('shmring');

/** A mapped shared memory file. Close it with {@link Segment.close}; the mapping itself is released at GC. */
export class Segment {
  /** The whole file, mapped MAP_SHARED. After close() it reads as zeros. */
  readonly buffer: SharedArrayBuffer;
  /** Owned by the segment; closed by close(). */
  readonly fd: number;
  /** The file's path, or null for a memfd or an adopted fd. */
  readonly path: string | null;
  /** Mapped length in bytes. */
  readonly size: number;
  private closed = false;
  private aliasBuffer: ArrayBuffer | null = null;

  private constructor(buffer: SharedArrayBuffer, fd: number, filePath: string | null, size: number) {
    this.buffer = buffer;
    this.fd = fd;
    this.path = filePath;
    this.size = size;
  }

  /** `dir/name` after validating the name: non-empty, at most 200 bytes, no '/', not '.' or '..', no NUL. */
  static resolvePath(name: string, dir: string = DEFAULT_DIR): string {
    if (typeof name !== 'string') throw new TypeError(`name must be a string: name=${String(name)}`);
    const shown = `name=${JSON.stringify(name)}`;
    if (name.length === 0) throw new RangeError(`name must not be empty: ${shown}`);
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
      throw new RangeError(`name must be at most ${MAX_NAME_BYTES} bytes: ${shown}`);
    }
    if (name.includes('/')) throw new RangeError(`name must not contain '/': ${shown}`);
    if (name === '.' || name === '..') throw new RangeError(`name must not be '.' or '..': ${shown}`);
    if (name.includes('\0')) throw new RangeError(`name must not contain NUL: ${shown}`);
    if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
      throw new TypeError(`dir must be a non-empty string without NUL: dir=${JSON.stringify(dir)}`);
    }
    return path.join(dir, name);
  }

  /**
   * Creates `dir/name` exclusively (EEXIST if it exists), checks its filesystem, reserves `size` bytes (a full tmpfs
   * is ENOSPC here, not a SIGBUS later, naming the directory, the bytes asked for and the bytes free) and maps it. On
   * any failure after the file was created, the file is removed.
   */
  static create(name: string, size: number, opts: SegmentOptions = {}): Segment {
    const o = segmentOptions(opts);
    const filePath = Segment.resolvePath(name, o.dir);
    checkSize(size);
    Segment.checkDirectory(o.dir);
    const native = binding();
    const fd = native.openFile(filePath, true, o.mode);
    try {
      checkFilesystem(native.fstat(fd).fsType, filePath, o.allowAnyFilesystem);
      native.allocate(fd, size);
      return new Segment(native.map(fd, size, o.prefault, o.mlock), fd, filePath, size);
    } catch (err) {
      native.closeFd(fd);
      try {
        native.unlinkFile(filePath);
      } catch {
        // already gone: nothing to clean up
      }
      const failure = err as SystemError;
      // Measured after the failure: tmpfs undoes a partial reservation, so this is what the next attempt would have.
      if (failure.code === 'ENOSPC') throw noSpaceError(failure, filePath, o.dir, size, bytesFree(o.dir));
      throw err;
    }
  }

  /**
   * Opens an existing `dir/name` (never through a symlink: ELOOP) and maps its current size. A file of size 0 is
   * ERR_SHMRING_NOT_READY: its creator has not sized it yet, retry.
   */
  static open(name: string, opts: SegmentOptions = {}): Segment {
    const o = segmentOptions(opts);
    const filePath = Segment.resolvePath(name, o.dir);
    Segment.checkDirectory(o.dir);
    const fd = binding().openFile(filePath, false, 0);
    return Segment.adopt(fd, filePath, filePath, o);
  }

  /** An anonymous segment: a memfd of `size` bytes whose size is sealed, so no process can shrink or grow it. */
  static createAnonymous(size: number, opts: AnonymousSegmentOptions = {}): Segment {
    if (opts === null || typeof opts !== 'object') throw new TypeError(`options must be an object: options=${opts}`);
    const name = opts.name ?? 'shmring';
    if (typeof name !== 'string') throw new TypeError(`name must be a string: name=${String(name)}`);
    if (Buffer.byteLength(name) > MAX_MEMFD_NAME_BYTES || name.includes('\0')) {
      throw new RangeError(
        `memfd name must be at most ${MAX_MEMFD_NAME_BYTES} bytes without NUL: name=${JSON.stringify(name)}`,
      );
    }
    const prefault = flag(opts.prefault, 'prefault');
    const mlock = flag(opts.mlock, 'mlock');
    checkSize(size);
    const native = binding();
    const fd = native.memfdCreate(name);
    try {
      native.allocate(fd, size);
      native.sealSize(fd);
      return new Segment(native.map(fd, size, prefault, mlock), fd, null, size);
    } catch (err) {
      native.closeFd(fd);
      throw err;
    }
  }

  /**
   * Adopts a descriptor (typically received over a unix socket): it must be a regular file of non-zero size on an
   * accepted filesystem. Takes ownership of `fd`: with `reopen` (default) it is closed at once, otherwise by close();
   * on failure it is closed too.
   */
  static fromFd(fd: number, opts: FromFdOptions = {}): Segment {
    const o = segmentOptions(opts);
    const reopen = opts.reopen === undefined ? true : flag(opts.reopen, 'reopen');
    checkFd(fd, 'fd');
    const native = binding();
    let own = fd;
    if (reopen) {
      try {
        own = native.reopenFd(fd);
      } finally {
        native.closeFd(fd);
      }
    }
    return Segment.adopt(own, null, `fd ${fd}`, o);
  }

  /**
   * Refuses (ERR_SHMRING_UNSAFE_DIRECTORY) a directory every user may write without the sticky bit: another user
   * could replace a file in it between two opens. A directory that cannot be stat'ed is left to the open to report.
   */
  static checkDirectory(dir: string): void {
    let mode: number;
    try {
      mode = fs.statSync(dir).mode;
    } catch {
      return;
    }
    checkDirectoryMode(mode, dir);
  }

  /** Removes `dir/name`. Processes that mapped it keep their mapping; the memory is freed when the last unmaps. */
  static unlink(name: string, opts: { dir?: string } = {}): void {
    binding().unlinkFile(Segment.resolvePath(name, segmentOptions(opts).dir));
  }

  // Validates and maps an open descriptor; closes it on failure.
  private static adopt(fd: number, filePath: string | null, label: string, o: Required<SegmentOptions>): Segment {
    const native = binding();
    try {
      const st = native.fstat(fd);
      if (!st.isFile) {
        throw new ShmringError(
          ErrorCode.NOT_REGULAR_FILE,
          `${label} is not a regular file but ${fileType(st.mode)}`,
          filePath ?? undefined,
        );
      }
      checkFilesystem(st.fsType, label, o.allowAnyFilesystem);
      if (st.size === 0) {
        throw new ShmringError(
          ErrorCode.NOT_READY,
          `${label} has size 0: its creator has not sized it yet (retry)`,
          filePath ?? undefined,
        );
      }
      o.checkSize(st.size, label, filePath);
      return new Segment(native.map(fd, st.size, o.prefault, o.mlock), fd, filePath, st.size);
    } catch (err) {
      native.closeFd(fd);
      throw err;
    }
  }

  /** Takes an OFD lock on the byte at `offset`; false when another open file description holds it. */
  tryLock(offset: number, exclusive: boolean): boolean {
    checkOffset(offset);
    if (typeof exclusive !== 'boolean') {
      throw new TypeError(`exclusive must be a boolean: exclusive=${String(exclusive)}`);
    }
    this.ensureOpen();
    return binding().tryLock(this.fd, offset, exclusive);
  }

  unlock(offset: number): void {
    checkOffset(offset);
    this.ensureOpen();
    binding().unlock(this.fd, offset);
  }

  /** True when another open file description (another process, or another open of the file) locks that byte. */
  isLocked(offset: number): boolean {
    checkOffset(offset);
    this.ensureOpen();
    return binding().isLocked(this.fd, offset);
  }

  /** Wakes every thread or process sleeping on the 32-bit word at `byteOffset` (FUTEX_WAKE, shared). */
  wake(byteOffset: number): number {
    this.ensureOpen();
    return futexWake(this.buffer, byteOffset);
  }

  /** Blocks this thread while the word at `byteOffset` equals `expected`, at most `timeoutMs` (negative: forever). */
  waitSync(byteOffset: number, expected: number, timeoutMs: number): FutexResultValue {
    this.ensureOpen();
    return futexWait(this.buffer, byteOffset, expected, timeoutMs);
  }

  /** A waiter on the word at `byteOffset` that does not block the event loop; close it before the segment. */
  createWaiter(byteOffset: number): FutexWaiter {
    this.ensureOpen();
    return new FutexWaiter(this.buffer, byteOffset);
  }

  /** Sends this segment's fd over a connected unix socket; the peer adopts it with {@link Segment.fromFd}. */
  sendTo(socketFd: number): void {
    checkFd(socketFd, 'socketFd');
    this.ensureOpen();
    binding().sendFds(socketFd, MARKER, [this.fd]);
  }

  /**
   * The same file mapped a second time, as a plain ArrayBuffer (made on first use). Bulk copies through it run at
   * memcpy speed; V8 copies SharedArrayBuffers with relaxed atomic word copies. Keep atomics on `buffer`.
   */
  get alias(): ArrayBuffer {
    if (this.aliasBuffer === null) {
      this.ensureOpen();
      this.aliasBuffer = binding().mapAlias(this.fd, this.size);
    }
    return this.aliasBuffer;
  }

  /**
   * Releases the shared pages now (the buffers then read zeros, they never fault) and closes the fd, dropping this
   * description's locks. Idempotent; other methods then throw ERR_SHMRING_CLOSED.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const native = binding();
    try {
      native.unmap(this.buffer);
      if (this.aliasBuffer !== null) native.unmapAlias(this.aliasBuffer);
    } finally {
      native.closeFd(this.fd);
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw closedError(`segment ${this.path ?? `fd ${this.fd}`}`);
  }
}

function segmentOptions(opts: SegmentOptions): Required<SegmentOptions> {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`options must be an object: options=${opts}`);
  const mode = opts.mode ?? DEFAULT_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`mode must be an integer from 0 to 0o7777: mode=${mode}`);
  }
  if (opts.checkSize !== undefined && typeof opts.checkSize !== 'function') {
    throw new TypeError(`checkSize must be a function: checkSize=${String(opts.checkSize)}`);
  }
  return {
    dir: opts.dir ?? DEFAULT_DIR,
    mode,
    prefault: flag(opts.prefault, 'prefault'),
    mlock: flag(opts.mlock, 'mlock'),
    allowAnyFilesystem: flag(opts.allowAnyFilesystem, 'allowAnyFilesystem'),
    checkSize: opts.checkSize ?? acceptAnySize,
  };
}

/** Bytes an unprivileged write could still allocate in `dir` (`statfs` `f_bavail * f_bsize`); null if unknown. */
function bytesFree(dir: string): number | null {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return null;
  }
}

function acceptAnySize(): void {
  // Segments of any size may be opened unless the caller says otherwise.
}

function flag(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean: ${what}=${String(value)}`);
  return value;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_LENGTH !== 0) {
    throw new RangeError(`size must be a positive multiple of the page size (${PAGE_LENGTH}): size=${size}`);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer: offset=${offset}`);
  }
}

function checkFd(fd: number, what: string): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(`${what} must be a file descriptor (a non-negative integer): ${what}=${fd}`);
  }
}

function fileType(mode: number): string {
  switch (mode & 0o170000) {
    case 0o010000:
      return 'a FIFO';
    case 0o020000:
      return 'a character device';
    case 0o040000:
      return 'a directory';
    case 0o060000:
      return 'a block device';
    case 0o140000:
      return 'a socket';
    default:
      return `a file of type 0o${(mode & 0o170000).toString(8)}`;
  }
}
