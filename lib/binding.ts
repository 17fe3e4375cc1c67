/**
 * The only place that loads the native addon (`shmring.node`). Everything else calls {@link binding}.
 *
 * The addon is built against Node's V8 API (a real SharedArrayBuffer over an mmap needs it), so a binary only works
 * in the Node ABI it was built for: a candidate whose `abiVersion` differs from `process.versions.modules` is refused
 * before anything in it runs. A packed shmring carries one prebuild per supported Node line
 * (`prebuilds/linux-x64/shmring.abi<ABI>.node`, made by scripts/prebuild.js), so it loads with install scripts
 * blocked; a local build (`build/Release`) goes first. See docs/native.md for what each call does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, ShmringError } from './errors';

/** `fstat` + `fstatfs` of a descriptor. */
export interface FileStat {
  size: number;
  /** `st_mode`: file type and permission bits. */
  mode: number;
  uid: number;
  ino: number;
  dev: number;
  /** `S_ISREG(st_mode)`. */
  isFile: boolean;
  /** `statfs.f_type` as an unsigned 32-bit number (0x01021994 is tmpfs). */
  fsType: number;
}

/** What `recvFds` received: `data.length === 0` means the peer closed the connection. */
export interface ReceivedFds {
  data: Buffer;
  /** Close-on-exec descriptors, now owned by the caller. */
  fds: number[];
}

/** Outcome of a futex wait. */
export const FutexResult = {
  /** Woken by `futexWake` (or spuriously: callers re-check the word). */
  WOKEN: 0,
  /** The word did not hold the expected value when the wait began. */
  NOT_EQUAL: 1,
  TIMED_OUT: 2,
  /** `FutexWaiter#cancel()` or `close()` ended the wait. */
  CANCELLED: 3,
} as const;

export type FutexResultValue = (typeof FutexResult)[keyof typeof FutexResult];

/**
 * Waits on a 32-bit word of a shared mapping from a dedicated native thread, so the event loop keeps running.
 * One pending wait at a time (a second `wait` throws `ERR_SHMRING_WAIT_PENDING`). A pending wait keeps the process
 * alive unless `unref()` was called; an idle waiter never does.
 */
export interface FutexWaiter {
  /** `callback` receives a {@link FutexResult}. `timeoutMs < 0` waits forever. */
  wait(expected: number, timeoutMs: number, callback: (result: FutexResultValue) => void): void;
  /** Completes a pending wait with `CANCELLED` soon; no-op when idle. */
  cancel(): void;
  /** Cancels (the pending callback still gets `CANCELLED`), joins the thread. Idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
}

export interface FutexWaiterConstructor {
  new (buffer: SharedArrayBuffer, byteOffset: number): FutexWaiter;
}

/** The addon's exports. Arguments are validated by the callers in lib/; native code only re-checks memory bounds. */
export interface NativeBinding {
  /** `NODE_MODULE_VERSION` the addon was built for. */
  readonly abiVersion: number;

  /** `open(O_RDWR|O_NOFOLLOW|O_CLOEXEC [|O_CREAT|O_EXCL])`, then `fchmod(mode)` when creating. */
  openFile(path: string, create: boolean, mode: number): number;
  /** A new open file description of the same file, via `/proc/self/fd/N`. */
  reopenFd(fd: number): number;
  closeFd(fd: number): void;
  fstat(fd: number): FileStat;
  /** Reserves every page (`posix_fallocate`) and sets the size, so a full tmpfs fails here with ENOSPC. */
  allocate(fd: number, size: number): void;
  unlinkFile(path: string): void;

  /** `memfd_create(MFD_CLOEXEC|MFD_ALLOW_SEALING)`. */
  memfdCreate(name: string): number;
  /** `F_ADD_SEALS F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL`. */
  sealSize(fd: number): void;

  /** `mmap(MAP_SHARED [|MAP_POPULATE])` [+ `mlock`] as a real SharedArrayBuffer; munmapped after GC. */
  map(fd: number, length: number, populate: boolean, lock: boolean): SharedArrayBuffer;
  /** Swaps the mapping for private zero pages now (idempotent); TypeError for a buffer `map` did not make. */
  unmap(buffer: SharedArrayBuffer): void;
  /**
   * A second shared mapping of the file as a plain ArrayBuffer: payload copies through it run at memcpy speed
   * (V8 copies SharedArrayBuffers with relaxed atomic word copies). Atomics stay on the SharedArrayBuffer.
   */
  mapAlias(fd: number, length: number): ArrayBuffer;
  /** Explicit close of an alias: swaps in zero pages like `unmap`. Idempotent. */
  unmapAlias(buffer: ArrayBuffer): void;

  unixListen(path: string, backlog: number): number;
  /** `ETIMEDOUT` after `timeoutMs` (`< 0`: forever). */
  unixAccept(listenFd: number, timeoutMs: number): number;
  unixConnect(path: string, timeoutMs: number): number;
  /** `sendmsg` + `SCM_RIGHTS`; `data` must not be empty. */
  sendFds(socketFd: number, data: Buffer, fds: number[]): void;
  /** More fds than `maxFds` arrived: all are closed and `ERR_SHMRING_FDS_TRUNCATED` is thrown. */
  recvFds(socketFd: number, maxData: number, maxFds: number, timeoutMs: number): ReceivedFds;

  /** OFD lock on the byte at `offset`; false when another open file description holds a conflicting lock. */
  tryLock(fd: number, offset: number, exclusive: boolean): boolean;
  unlock(fd: number, offset: number): void;
  /** True when another open file description holds any lock on the byte at `offset`. */
  isLocked(fd: number, offset: number): boolean;

  /** Blocks the calling thread. */
  futexWait(buffer: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): FutexResultValue;
  /** Returns how many waiters were woken. */
  futexWake(buffer: SharedArrayBuffer, byteOffset: number, count: number): number;
  readonly FutexWaiter: FutexWaiterConstructor;
  /** sched_yield(): lets another runnable thread have the core (idle strategies). */
  yieldThread(this: void): void;
  /** nanosleep for `ns` nanoseconds (finer than Atomics.wait's ~60 us floor). */
  sleepNanos(this: void, ns: number): void;
  /** CLOCK_MONOTONIC in ms modulo 2^30 (mask differences with 2^30 - 1): a small integer, so it allocates nothing. */
  monotonicMs(this: void): number;
}

/** Walks up from `from` to the directory whose package.json is named "shmring". */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'shmring') return dir;
    } catch {
      // no (readable) package.json here: keep walking
    }
    if (path.dirname(dir) === dir) {
      throw new ShmringError(ErrorCode.ADDON_NOT_LOADED, `shmring: no package.json named "shmring" above ${from}`);
    }
  }
}

/** The prebuilt addon for Node ABI `abi` in a package rooted at `root` (what scripts/prebuild.js makes). */
export function prebuiltPath(root: string, abi: string | number = process.versions.modules): string {
  return path.join(root, 'prebuilds', `linux-${process.arch}`, `shmring.abi${abi}.node`);
}

/** Where the addon may be, in the order they are tried: a local build first, then the prebuild for this ABI. */
export function candidatePaths(root: string = packageRoot()): string[] {
  return [path.join(root, 'build', 'Release', 'shmring.node'), prebuiltPath(root)];
}

/** glibc's RTLD_NODELETE; `os.constants.dlopen` does not export it. */
const RTLD_NODELETE = 0x1000;

/**
 * Loads an addon file so that it is never unloaded. Node dlclose()s an addon when the worker_thread that loaded it
 * ends, but V8 drops that worker's last SharedArrayBuffer references only later, at isolate teardown, through a
 * shared_ptr control block whose vtable lives in the addon: a process that used shmring from a worker only (the
 * main thread never loaded it) died with SIGSEGV when the worker ended (test/recovery/waiting.test.ts).
 */
function loadAddon(file: string): unknown {
  const module = { exports: {} };
  // require.resolve first: a missing file fails as require() would ("Cannot find module ...").
  process.dlopen(module, require.resolve(file), os.constants.dlopen.RTLD_LAZY | RTLD_NODELETE);
  return module.exports;
}

/**
 * Loads the first candidate that loads and matches this Node's ABI. Throws UNSUPPORTED_PLATFORM off Linux, else
 * ADDON_NOT_LOADED listing every path with its error and what to run. `load` is injectable for tests.
 */
export function loadBinding(
  candidates: string[],
  root: string,
  platform: string = process.platform,
  load: (file: string) => unknown = loadAddon,
): NativeBinding {
  if (platform !== 'linux') {
    throw new ShmringError(
      ErrorCode.UNSUPPORTED_PLATFORM,
      `shmring supports Linux only (it needs memfd, futex and OFD locks); this is ${platform}`,
    );
  }
  const failures: string[] = [];
  for (const file of candidates) {
    let mod: unknown;
    try {
      mod = load(file);
    } catch (err) {
      failures.push(`  ${file}: ${firstLine(err)}`);
      continue;
    }
    const abi = (mod as { abiVersion?: unknown } | null)?.abiVersion;
    if (abi !== Number(process.versions.modules)) {
      failures.push(
        `  ${file}: built for Node ABI ${String(abi)}, this is Node ${process.version} (ABI ${process.versions.modules})`,
      );
      continue;
    }
    return mod as NativeBinding;
  }
  throw new ShmringError(
    ErrorCode.ADDON_NOT_LOADED,
    `shmring: could not load its native addon for Node ${process.version} (ABI ${process.versions.modules}, ` +
      `linux-${process.arch}). Tried:\n${failures.join('\n')}\n` +
      `${prebuiltSummary(root)}\n` +
      `To build it: run \`npm rebuild shmring\` in your project, or \`npx cmake-js compile --out build\` in ${root} ` +
      '(needs cmake >= 3.15, make or ninja, a C++20 compiler such as g++ >= 12, and the headers of the Node that ' +
      'runs it).\n' +
      `npm 11 blocks the install scripts of dependencies by default: run \`npm install-scripts approve shmring\` ` +
      `(it records shmring in the "allowScripts" field of your package.json), then \`npm rebuild shmring\`.`,
  );
}

/** Which prebuilt addons this copy of shmring holds, for the load error: the ABIs it can run in without a build. */
function prebuiltSummary(root: string): string {
  const dir = path.join(root, 'prebuilds', `linux-${process.arch}`);
  let abis: string[] = [];
  try {
    abis = fs
      .readdirSync(dir)
      .map((f) => /^shmring\.abi(\d+)\.node$/.exec(f)?.[1])
      .filter((a) => a !== undefined);
  } catch {
    // no prebuilds/ (a git checkout, or another architecture)
  }
  if (abis.length === 0) return `No prebuilt addon for linux-${process.arch} in ${root}.`;
  const sorted = abis.map(Number).sort((a, b) => a - b);
  return (
    `Prebuilt addons for linux-${process.arch} here are for Node ABIs ${sorted.join(', ')} ` +
    '(Node 20 = 115, 22 = 127, 24 = 137, 26 = 147); other Node versions need a build.'
  );
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

let cached: NativeBinding | undefined;

/** The native addon, loaded on first use. */
export function binding(): NativeBinding {
  if (cached === undefined) {
    if (process.platform !== 'linux') return loadBinding([], ''); // throws UNSUPPORTED_PLATFORM
    const root = packageRoot();
    cached = loadBinding(candidatePaths(root), root);
  }
  return cached;
}
