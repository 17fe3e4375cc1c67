/**
 * Creating, opening and validating a ring's header on top of a shared memory object. Nothing here runs per message.
 * Every value read from the header is checked before it is used: the file may be foreign, truncated, of another
 * version, or written by a buggy or hostile process.
 */
import type { FutexResultValue, FutexWaiter } from './binding';
import { ErrorCode, ShmringError, corrupt } from './errors';
import * as L from './layout';
import { TWO_POW_32 } from './position';

/** The shared memory a ring lives in: a `Segment` (file or memfd), or a test double. */
export interface RingMemory {
  readonly buffer: SharedArrayBuffer;
  /**
   * The same memory as a plain ArrayBuffer (a second mapping) for payload copies, or the SharedArrayBuffer itself.
   * Every atomic (commit, observe) stays on `buffer`; payload bytes are only touched between such atomics.
   */
  readonly alias?: ArrayBuffer | SharedArrayBuffer;
  /** File path, or null for an anonymous (memfd) ring. */
  readonly path: string | null;
  tryLock(offset: number, exclusive: boolean): boolean;
  unlock(offset: number): void;
  isLocked(offset: number): boolean;
  /** Wakes every thread/process sleeping on the int32 at `byteOffset` (native futex; no-op if none sleep). */
  wake(byteOffset: number): void;
  /** Sleeps while the int32 at `byteOffset` equals `expected` (native futex, cross-process). */
  waitSync(byteOffset: number, expected: number, timeoutMs: number): FutexResultValue;
  /** A waiter that sleeps on the int32 at `byteOffset` off the event loop. */
  createWaiter(byteOffset: number): FutexWaiter;
  /** Sends the ring's fd over a connected Unix socket (anonymous rings). */
  sendTo(socketFd: number): void;
  close(): void;
}

export type RingMode = 'reliable' | 'broadcast';

/** Options that shape a new ring (fixed for its life). */
export interface RingLayoutOptions {
  /** Data region bytes: a power of two, 4 KiB .. 1 GiB. Default 1 MiB. */
  capacity?: number;
  /** 'reliable' (back-pressure, default) or 'broadcast' (lossy, Agrona broadcast-buffer format). */
  mode?: RingMode;
  /** Consumer slots (reliable mode): 1..1024, default 16. */
  maxConsumers?: number;
  /** Largest message: up to capacity/8 (the default). */
  maxMessageLength?: number;
  /** Largest payload of one record; longer messages are fragmented (reliable). Default min(64 KiB, max message). */
  maxFramePayload?: number;
}

/** A validated ring header. */
export interface RingDescriptor {
  mode: RingMode;
  capacity: number;
  maxMessageLength: number;
  maxFramePayload: number;
  maxConsumers: number;
  dataOffset: number;
  fileLength: number;
  createdAt: number;
  creatorPid: number;
  version: string;
}

/** Defaults of the options that shape a new ring: policy, not format (the format's limits are in layout.ts). */
const DEFAULT_CAPACITY = 1 << 20;
export const DEFAULT_MAX_CONSUMERS = 16;
const DEFAULT_MAX_FRAME_PAYLOAD = 64 * 1024;

/**
 * The longest file a ring can be: the largest header and data region, rounded up to a 1 GiB huge page (a file on
 * hugetlbfs is sized in whole huge pages). Anything longer is not a ring; mapping it whole could not even be viewed
 * by a typed array past 4 GiB.
 */
export const MAX_RING_FILE_LENGTH =
  Math.ceil(L.fileLengthFor(L.MODE_BROADCAST, L.MAX_CAPACITY, L.MAX_CONSUMERS_LIMIT) / 2 ** 30) * 2 ** 30;

/**
 * Refuses (ERR_SHMRING_NOT_A_RING) a file size no ring has, before anything is mapped or viewed: shorter than a page,
 * longer than any ring, or not a multiple of 8 (the 64-bit views of the ring would throw a RangeError).
 */
export function checkRingFileSize(size: number, where: string, path: string | null): void {
  if (size < L.PAGE_LENGTH) {
    throw new ShmringError(
      ErrorCode.NOT_A_RING,
      `not a shmring ring: file is ${size} bytes: ${where}`,
      path ?? undefined,
    );
  }
  if (size > MAX_RING_FILE_LENGTH) {
    throw new ShmringError(
      ErrorCode.NOT_A_RING,
      `not a shmring ring: file is larger than any ring: size=${size} max=${MAX_RING_FILE_LENGTH}: ${where}`,
      path ?? undefined,
    );
  }
  if (size % 8 !== 0) {
    throw new ShmringError(
      ErrorCode.NOT_A_RING,
      `not a shmring ring: file size is not a multiple of 8: size=${size}: ${where}`,
      path ?? undefined,
    );
  }
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer: ${name}=${String(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}]: ${name}=${value}`);
}

/** Validates creation options and computes the descriptor of a new ring. */
export function describeNewRing(options: RingLayoutOptions = {}): RingDescriptor {
  const mode = options.mode ?? 'reliable';
  if (mode !== 'reliable' && mode !== 'broadcast') {
    throw new TypeError(`mode must be 'reliable' or 'broadcast': mode=${String(mode)}`);
  }
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  checkInteger('capacity', capacity, L.MIN_CAPACITY, L.MAX_CAPACITY);
  if (!L.isPowerOfTwo(capacity)) throw new RangeError(`capacity must be a power of two: capacity=${capacity}`);
  const maxConsumers = options.maxConsumers ?? DEFAULT_MAX_CONSUMERS;
  checkInteger('maxConsumers', maxConsumers, 1, L.MAX_CONSUMERS_LIMIT);
  const largest = L.maxMessageLengthFor(capacity);
  const maxMessageLength = options.maxMessageLength ?? largest;
  checkInteger('maxMessageLength', maxMessageLength, 1, largest);
  if (mode === 'broadcast' && maxMessageLength !== largest) {
    // Agrona's format fixes it: any transmitter (a JVM one too) may send capacity/8 bytes.
    throw new RangeError(
      `broadcast rings carry messages up to capacity/8=${largest}: maxMessageLength=${maxMessageLength}`,
    );
  }
  const maxFramePayload =
    mode === 'broadcast'
      ? maxMessageLength
      : (options.maxFramePayload ?? Math.min(DEFAULT_MAX_FRAME_PAYLOAD, maxMessageLength));
  checkInteger('maxFramePayload', maxFramePayload, 1, maxMessageLength);
  if (mode === 'broadcast' && options.maxFramePayload !== undefined && options.maxFramePayload !== maxMessageLength) {
    throw new RangeError(`broadcast rings do not fragment: maxFramePayload=${options.maxFramePayload}`);
  }
  const modeWord = mode === 'broadcast' ? L.MODE_BROADCAST : L.MODE_RELIABLE;
  return {
    mode,
    capacity,
    maxMessageLength,
    maxFramePayload,
    maxConsumers,
    dataOffset: L.dataOffsetFor(maxConsumers),
    fileLength: L.fileLengthFor(modeWord, capacity, maxConsumers),
    createdAt: Date.now(),
    creatorPid: process.pid,
    version: `${L.VERSION_MAJOR}.${L.VERSION_MINOR}`,
  };
}

/** Writes a new ring's header into zeroed memory; the version word goes last, as the "ready" signal. */
export function writeHeader(buffer: SharedArrayBuffer, d: RingDescriptor): void {
  const i32 = new Int32Array(buffer);
  const at = L.int32Index;
  i32[at(L.MAGIC_OFFSET)] = L.MAGIC;
  i32[at(L.MODE_OFFSET)] = d.mode === 'broadcast' ? L.MODE_BROADCAST : L.MODE_RELIABLE;
  i32[at(L.FLAGS_OFFSET)] = 0;
  i32[at(L.CAPACITY_OFFSET)] = d.capacity;
  i32[at(L.MAX_MESSAGE_LENGTH_OFFSET)] = d.maxMessageLength;
  i32[at(L.MAX_FRAME_PAYLOAD_OFFSET)] = d.maxFramePayload;
  i32[at(L.MAX_CONSUMERS_OFFSET)] = d.maxConsumers;
  i32[at(L.DATA_OFFSET_OFFSET)] = d.dataOffset;
  i32[at(L.FILE_LENGTH_OFFSET)] = d.fileLength;
  i32[at(L.CREATED_AT_OFFSET)] = (d.createdAt % TWO_POW_32) | 0;
  i32[at(L.CREATED_AT_OFFSET) + 1] = Math.floor(d.createdAt / TWO_POW_32);
  i32[at(L.CREATOR_PID_OFFSET)] = d.creatorPid;
  Atomics.store(i32, at(L.VERSION_OFFSET), L.LAYOUT_VERSION);
}

function versionString(word: number): string {
  return `${word >>> 16}.${word & 0xffff}`;
}

/**
 * Reads and validates the header. Returns null while the creator has not published the version word yet.
 * Throws NOT_A_RING, VERSION_MISMATCH or CORRUPT naming the problem.
 */
export function readDescriptor(buffer: SharedArrayBuffer, path: string | null): RingDescriptor | null {
  const where = path ?? 'anonymous ring';
  checkRingFileSize(buffer.byteLength, where, path);
  const i32 = new Int32Array(buffer);
  const at = L.int32Index;
  const magic = Atomics.load(i32, at(L.MAGIC_OFFSET));
  const version = Atomics.load(i32, at(L.VERSION_OFFSET));
  if (version === 0 && (magic === 0 || magic === L.MAGIC)) return null;
  if (magic !== L.MAGIC) {
    throw new ShmringError(
      ErrorCode.NOT_A_RING,
      `not a shmring ring: bad magic 0x${(magic >>> 0).toString(16)}: ${where}`,
      path ?? undefined,
    );
  }
  if (version >>> 16 !== L.VERSION_MAJOR) {
    throw new ShmringError(
      ErrorCode.VERSION_MISMATCH,
      `incompatible ring layout: app=${L.VERSION_MAJOR}.${L.VERSION_MINOR} file=${versionString(version)}: ${where}`,
      path ?? undefined,
    );
  }
  const modeWord = i32[at(L.MODE_OFFSET)];
  if (modeWord !== L.MODE_RELIABLE && modeWord !== L.MODE_BROADCAST) throw corrupt('mode', modeWord, where);
  const capacity = i32[at(L.CAPACITY_OFFSET)];
  if (capacity < L.MIN_CAPACITY || capacity > L.MAX_CAPACITY || !L.isPowerOfTwo(capacity)) {
    throw corrupt('capacity', capacity, where);
  }
  const maxConsumers = i32[at(L.MAX_CONSUMERS_OFFSET)];
  if (maxConsumers < 1 || maxConsumers > L.MAX_CONSUMERS_LIMIT) throw corrupt('maxConsumers', maxConsumers, where);
  const dataOffset = i32[at(L.DATA_OFFSET_OFFSET)];
  if (dataOffset !== L.dataOffsetFor(maxConsumers)) throw corrupt('dataOffset', dataOffset, where);
  const fileLength = i32[at(L.FILE_LENGTH_OFFSET)];
  if (fileLength !== L.fileLengthFor(modeWord, capacity, maxConsumers)) throw corrupt('fileLength', fileLength, where);
  if (buffer.byteLength < fileLength) {
    throw new ShmringError(
      ErrorCode.NOT_A_RING,
      `ring file is truncated: size=${buffer.byteLength} expected=${fileLength}: ${where}`,
      path ?? undefined,
    );
  }
  const largest = L.maxMessageLengthFor(capacity);
  const maxMessageLength = i32[at(L.MAX_MESSAGE_LENGTH_OFFSET)];
  if (maxMessageLength < 1 || maxMessageLength > largest) throw corrupt('maxMessageLength', maxMessageLength, where);
  const maxFramePayload = i32[at(L.MAX_FRAME_PAYLOAD_OFFSET)];
  if (maxFramePayload < 1 || maxFramePayload > maxMessageLength) {
    throw corrupt('maxFramePayload', maxFramePayload, where);
  }
  return {
    mode: modeWord === L.MODE_BROADCAST ? 'broadcast' : 'reliable',
    capacity,
    maxMessageLength,
    maxFramePayload,
    maxConsumers,
    dataOffset,
    fileLength,
    createdAt: (i32[at(L.CREATED_AT_OFFSET) + 1] >>> 0) * TWO_POW_32 + (i32[at(L.CREATED_AT_OFFSET)] >>> 0),
    creatorPid: i32[at(L.CREATOR_PID_OFFSET)],
    version: versionString(version),
  };
}

/** A producer announces itself: epoch + 1 (one per attach, takeovers included), its pid, state active. */
export function markProducerActive(i32: Int32Array): void {
  Atomics.add(i32, L.int32Index(L.PRODUCER_EPOCH_OFFSET), 1);
  Atomics.store(i32, L.int32Index(L.PRODUCER_PID_OFFSET), process.pid);
  Atomics.store(i32, L.int32Index(L.PRODUCER_STATE_OFFSET), L.PRODUCER_STATE_ACTIVE);
}

/** A producer's clean close: consumers' `producerClosed` turns true. */
export function markProducerClosed(i32: Int32Array): void {
  Atomics.store(i32, L.int32Index(L.PRODUCER_STATE_OFFSET), L.PRODUCER_STATE_CLOSED);
}
