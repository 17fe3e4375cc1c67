/**
 * Every error shmring throws on purpose. System errors carry the errno name as `.code` (Node style) plus
 * `.syscall`/`.path`; protocol errors carry a stable `ERR_SHMRING_*` code. Misuse throws `TypeError`/`RangeError`.
 */

/** Stable codes of shmring's own (non-errno) errors. */
export const ErrorCode = {
  /** The file is not a shmring ring (bad magic) or is shorter than its header says. */
  NOT_A_RING: 'ERR_SHMRING_NOT_A_RING',
  /** The ring's layout version is not one this library speaks. */
  VERSION_MISMATCH: 'ERR_SHMRING_VERSION_MISMATCH',
  /** The ring was found being created and never became ready in time. */
  NOT_READY: 'ERR_SHMRING_NOT_READY',
  /** A value read from shared memory is out of range: another process wrote garbage. */
  CORRUPT: 'ERR_SHMRING_CORRUPT',
  /** Another live process is already the producer of this ring. */
  PRODUCER_EXISTS: 'ERR_SHMRING_PRODUCER_EXISTS',
  /** Every consumer slot of the ring is taken by a live consumer. */
  NO_CONSUMER_SLOT: 'ERR_SHMRING_NO_CONSUMER_SLOT',
  /** The consumer was evicted by the producer (it stalled past the timeout) and may have missed data. */
  EVICTED: 'ERR_SHMRING_EVICTED',
  /** A durable consumer name is already attached to a live process (one process per name at a time). */
  DURABLE_IN_USE: 'ERR_SHMRING_DURABLE_IN_USE',
  /** `commit()`/`abort()` on a claim that is not pending (double commit). */
  CLAIM_NOT_PENDING: 'ERR_SHMRING_CLAIM_NOT_PENDING',
  /**
   * A call the publication's state does not allow: `beginBatch` while a batch is open, `commitBatch` with none open,
   * or `offer`/`tryClaim`/`commitBatch` while a claim is pending.
   */
  INVALID_STATE: 'ERR_SHMRING_INVALID_STATE',
  /** The object was closed. */
  CLOSED: 'ERR_SHMRING_CLOSED',
  /** The file lives on a filesystem where shared mappings are not safe (NFS...) or not opted into. */
  UNSUPPORTED_FILESYSTEM: 'ERR_SHMRING_UNSUPPORTED_FILESYSTEM',
  /** The native addon could not be loaded. */
  ADDON_NOT_LOADED: 'ERR_SHMRING_ADDON_NOT_LOADED',
  /** The platform is not Linux. */
  UNSUPPORTED_PLATFORM: 'ERR_SHMRING_UNSUPPORTED_PLATFORM',
  /** A shared-memory path names something other than a regular file (a FIFO, a device...). */
  NOT_REGULAR_FILE: 'ERR_SHMRING_NOT_REGULAR_FILE',
  /** A message carried more file descriptors than the receiver allowed; all of them were closed. */
  FDS_TRUNCATED: 'ERR_SHMRING_FDS_TRUNCATED',
  /**
   * A ring directory every user may write without the sticky bit: another user could replace or remove a ring in
   * it. Refused on create and open (use a 0700 directory, or set the sticky bit as /dev/shm has).
   */
  UNSAFE_DIRECTORY: 'ERR_SHMRING_UNSAFE_DIRECTORY',
  /** `FutexWaiter#wait` was called while a wait was already pending. */
  WAIT_PENDING: 'ERR_SHMRING_WAIT_PENDING',
  /** The NATS bridge needs `@nats-io/transport-node` and `@nats-io/jetstream` (optional peer dependencies). */
  NATS_CLIENT_MISSING: 'ERR_SHMRING_NATS_CLIENT_MISSING',
  /** No NATS server answered at the configured URLs (the bridge was started without retry). */
  NATS_UNAVAILABLE: 'ERR_SHMRING_NATS_UNAVAILABLE',
  /** The NATS side refused the bridge's configuration: no stream for the subject, messages too large... */
  BRIDGE_CONFIG: 'ERR_SHMRING_BRIDGE_CONFIG',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An `Error` with a stable `code` and optional `path`. */
export class ShmringError extends Error {
  readonly code: string;
  readonly path?: string;

  constructor(code: ErrorCodeValue, message: string, path?: string) {
    super(message);
    this.name = 'ShmringError';
    this.code = code;
    if (path !== undefined) this.path = path;
  }
}

/** Thrown when a value read from shared memory is impossible; names the field and the value. */
export function corrupt(what: string, value: number, path?: string): ShmringError {
  return new ShmringError(ErrorCode.CORRUPT, `ring is corrupt: ${what}=${value}`, path);
}

/** The error for a call on an object after its `close()` (the caller throws it). */
export function closedError(what: string): ShmringError {
  return new ShmringError(ErrorCode.CLOSED, `${what} is closed`);
}

/** A system error as the addon throws it (Node's shape): errno name as `code`, negative `errno`, `syscall`, `path`. */
export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** The `ENOSPC` of creating a ring, with the room it needed and the room there was (see {@link noSpaceError}). */
export interface NoSpaceError extends SystemError {
  code: 'ENOSPC';
  /** The directory whose filesystem is full. */
  dir: string;
  /** Bytes the ring file needed. */
  bytesRequested: number;
  /** Bytes free in `dir` for this user just after the failure (`statfs` `f_bavail * f_bsize`); null if unknown. */
  bytesFree: number | null;
}

/**
 * Rewrites the addon's bare `ENOSPC: no space left on device, posix_fallocate` so that it names the directory, the
 * bytes asked for and the bytes free: a full `/dev/shm` is most often a container's 64 MB default.
 */
export function noSpaceError(
  cause: SystemError,
  filePath: string,
  dir: string,
  bytesRequested: number,
  bytesFree: number | null,
): NoSpaceError {
  const free = bytesFree === null ? 'an unknown number of bytes' : `${bytesFree} bytes`;
  const err = new Error(
    `ENOSPC: no space left on device, ${cause.syscall ?? 'posix_fallocate'} '${filePath}': the ring needs ` +
      `${bytesRequested} bytes and ${dir} has ${free} free (a container's /dev/shm is 64 MB unless raised with ` +
      'docker run --shm-size; remove stale rings with removeStaleRings)',
    { cause },
  ) as NoSpaceError;
  err.code = 'ENOSPC';
  if (cause.errno !== undefined) err.errno = cause.errno;
  if (cause.syscall !== undefined) err.syscall = cause.syscall;
  err.path = filePath;
  err.dir = dir;
  err.bytesRequested = bytesRequested;
  err.bytesFree = bytesFree;
  return err;
}
