/**
 * Rings as files (and memfds): create, open, inspect, unlink and clean up. Joins the OS layer (`Segment`, the
 * addon) to the header format (`ring-file`). Nothing here runs per message.
 */
import fs from 'node:fs';
import { durableInfo, type DurableInfo } from './durable-consumer';
import { ErrorCode, ShmringError, type SystemError } from './errors';
import * as L from './layout';
import { loadPosition, tryLoadPosition } from './position';
import {
  checkRingFileSize,
  describeNewRing,
  readDescriptor,
  writeHeader,
  type RingDescriptor,
  type RingLayoutOptions,
  type RingMemory,
  type RingMode,
} from './ring-file';
import { DEFAULT_DIR, Segment, type SegmentOptions } from './segment';

/** Where ring files live and how they are opened. */
export interface LocationOptions {
  /** Directory of ring files. Default '/dev/shm'. */
  dir?: string;
  /** Accept a directory that is not tmpfs/hugetlbfs (e.g. a local disk for testing). Network filesystems never. */
  allowAnyFilesystem?: boolean;
}

export interface CreateRingOptions extends RingLayoutOptions, LocationOptions {
  /** File mode of a new ring. Default 0o600. */
  fileMode?: number;
  /** Touch every page at creation so first use never page-faults. */
  prefault?: boolean;
  /** mlock the mapping (needs RLIMIT_MEMLOCK). */
  mlock?: boolean;
}

export interface OpenRingOptions extends LocationOptions {
  /** How long to wait for a ring that is still being created. Default 2000 ms. */
  openTimeoutMs?: number;
}

function segmentOptions(options: CreateRingOptions | OpenRingOptions): SegmentOptions {
  const create = options as CreateRingOptions;
  return {
    dir: options.dir,
    mode: create.fileMode,
    prefault: create.prefault,
    mlock: create.mlock,
    allowAnyFilesystem: options.allowAnyFilesystem,
    checkSize: checkRingFileSize,
  };
}

/** A ring just made: its memory (producer lock held when `lockProducer`) and header. */
export interface NewRing {
  memory: RingMemory;
  descriptor: RingDescriptor;
}

/** Creates the file, takes the producer lock if asked, writes the header (version last). */
export function createRingMemory(name: string, options: CreateRingOptions, lockProducer: boolean): NewRing {
  const descriptor = describeNewRing(options);
  const segment = Segment.create(name, descriptor.fileLength, segmentOptions(options));
  return initialise(segment, descriptor, lockProducer, () => Segment.unlink(name, options));
}

/** Creates an anonymous ring in a sealed memfd (nothing to unlink; freed when the last process closes it). */
export function createAnonymousRingMemory(options: CreateRingOptions): NewRing {
  const descriptor = describeNewRing(options);
  const segment = Segment.createAnonymous(descriptor.fileLength, { prefault: options.prefault, mlock: options.mlock });
  return initialise(segment, descriptor, true, () => undefined);
}

function initialise(memory: RingMemory, descriptor: RingDescriptor, lockProducer: boolean, undo: () => void): NewRing {
  try {
    if (lockProducer && !memory.tryLock(L.PRODUCER_LOCK_BYTE, true)) {
      throw new ShmringError(ErrorCode.PRODUCER_EXISTS, "another process holds the new ring's producer lock");
    }
    writeHeader(memory.buffer, descriptor);
    return { memory, descriptor };
  } catch (err) {
    memory.close();
    undo();
    throw err;
  }
}

/** Opens an existing ring file and validates its header, waiting for a creator that has not finished. */
export function openRingMemory(name: string, options: OpenRingOptions = {}): NewRing {
  const timeoutMs = options.openTimeoutMs ?? 2000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let segment: Segment;
    try {
      segment = Segment.open(name, segmentOptions(options));
    } catch (err) {
      if ((err as ShmringError).code !== ErrorCode.NOT_READY || Date.now() >= deadline) throw err;
      sleepSync(1);
      continue;
    }
    return adopt(segment, deadline, timeoutMs);
  }
}

/** Adopts a ring from a received file descriptor (memfd or file). */
export function openRingFromFd(fd: number, options: OpenRingOptions = {}): NewRing {
  const segment = Segment.fromFd(fd, { allowAnyFilesystem: options.allowAnyFilesystem, checkSize: checkRingFileSize });
  const timeoutMs = options.openTimeoutMs ?? 2000;
  return adopt(segment, Date.now() + timeoutMs, timeoutMs);
}

/** Sleeps the calling thread without spinning (Atomics.wait on a private buffer): opening waits for a creator. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Reads the descriptor, waiting until `deadline` (ms since epoch) for a creator that has not finished; the error
 * names the caller's whole `timeoutMs`.
 */
function awaitDescriptor(
  buffer: SharedArrayBuffer,
  path: string | null,
  deadline: number,
  timeoutMs: number,
): RingDescriptor {
  for (;;) {
    const d = readDescriptor(buffer, path);
    if (d !== null) return d;
    if (Date.now() >= deadline) {
      throw new ShmringError(
        ErrorCode.NOT_READY,
        `ring was not initialised within ${timeoutMs} ms: ${path ?? 'anonymous ring'}`,
        path ?? undefined,
      );
    }
    sleepSync(1);
  }
}

function adopt(memory: RingMemory, deadline: number, timeoutMs: number): NewRing {
  try {
    return { memory, descriptor: awaitDescriptor(memory.buffer, memory.path, deadline, timeoutMs) };
  } catch (err) {
    memory.close();
    throw err;
  }
}

/** Takes the producer lock of an opened ring or throws PRODUCER_EXISTS. */
export function lockProducer(ring: NewRing): void {
  if (!ring.memory.tryLock(L.PRODUCER_LOCK_BYTE, true)) {
    ring.memory.close();
    throw new ShmringError(
      ErrorCode.PRODUCER_EXISTS,
      `another live process is the producer of this ring: ${ring.memory.path ?? 'anonymous ring'}`,
      ring.memory.path ?? undefined,
    );
  }
}

/** A consumer slot in use, as `ringInfo` reports it. Counters a word of garbage makes unreadable are null. */
export interface ConsumerInfo {
  slot: number;
  state: 'active' | 'evicted';
  /** The slot's kernel lock is held: its process lives. */
  alive: boolean;
  /** Bytes consumed (a broadcast receiver: its cursor). */
  position: number;
  pid: number;
  /** A durable consumer's name, timeout and since when it is away; null for an ordinary consumer. */
  durable: DurableInfo | null;
  /** Reliable: when the consumer last noted progress, ms since the epoch (see docs/FORMAT.md); 0 if never. */
  progressAt?: number | null;
  /** Reliable: since when it holds the back-pressured producer back without moving (ms since the epoch); 0 if not. */
  blockedSince?: number | null;
  /** Broadcast receivers that publish their counters: times lapped by the transmitter. */
  lappedCount?: number | null;
  /** Broadcast receivers that publish their counters: bytes lapping made them skip. */
  lostBytes?: number | null;
}

/** The reliable producer's counters in the ring's header (they count for the ring, across producers). */
export interface ProducerCounters {
  /** Offers and claims refused with BACK_PRESSURED. */
  backPressureEvents: number | null;
  /** Live consumers evicted for stalling past the eviction timeout. */
  evictedConsumers: number | null;
  /** Slots of dead consumers freed. */
  reapedConsumers: number | null;
}

/** What `ringInfo` reports. */
export interface RingInfo extends RingDescriptor {
  path: string | null;
  producerAlive: boolean;
  producerState: 'none' | 'active' | 'closed';
  producerPid: number;
  producerEpoch: number;
  /** Reliable mode: the producer's last checkpoint; broadcast mode: the tail counter; many-to-one: the tail. */
  producerPosition: number;
  /** Reliable mode only. */
  counters?: ProducerCounters;
  /** Reliable consumers; in a broadcast ring, the receivers that publish their counters. */
  consumers: ConsumerInfo[];
}

/** Describes a ring without joining it. */
export function ringInfo(name: string, options: OpenRingOptions = {}): RingInfo {
  const ring = openRingMemory(name, options);
  try {
    return describe(ring);
  } finally {
    ring.memory.close();
  }
}

function describe({ memory, descriptor: d }: NewRing): RingInfo {
  const i32 = new Int32Array(memory.buffer);
  const state = Atomics.load(i32, L.int32Index(L.PRODUCER_STATE_OFFSET));
  const trailer = d.dataOffset + d.capacity;
  const positionIndex =
    d.mode === 'broadcast'
      ? L.int32Index(L.broadcastTrailerOffset(d.dataOffset, d.capacity) + L.TAIL_COUNTER_OFFSET)
      : d.mode === 'many-to-one'
        ? L.int32Index(trailer + L.TAIL_POSITION_OFFSET)
        : L.int32Index(L.TAIL_CHECKPOINT_OFFSET);
  const reliable = d.mode === 'reliable';
  const consumers: ConsumerInfo[] = [];
  for (let slot = 0; slot < d.maxConsumers; slot++) {
    const slotState = L.slotState(Atomics.load(i32, L.slotStateIndex(slot)));
    if (slotState !== L.SLOT_ACTIVE && slotState !== L.SLOT_EVICTED) continue;
    const alive = memory.isLocked(L.CONSUMER_LOCK_BYTE_BASE + slot);
    const field = (offset: number): number | null => counter(i32, L.slotFieldIndex(slot, offset));
    consumers.push({
      slot,
      state: slotState === L.SLOT_ACTIVE ? 'active' : 'evicted',
      alive,
      // A many-to-one consumer's position is Agrona's head, in the trailer.
      position: loadPosition(
        i32,
        d.mode === 'many-to-one' ? L.int32Index(trailer + L.HEAD_POSITION_OFFSET) : L.slotPositionIndex(slot),
      ),
      pid: Atomics.load(i32, L.slotPidIndex(slot)),
      durable: d.mode === 'reliable' ? durableInfo(memory.buffer, slot, slotState, alive) : null,
      ...(reliable
        ? { progressAt: field(L.SLOT_PROGRESS_TIME_OFFSET), blockedSince: field(L.SLOT_BLOCKED_SINCE_OFFSET) }
        : d.mode === 'broadcast'
          ? { lappedCount: field(L.SLOT_LAPS_OFFSET), lostBytes: field(L.SLOT_LOST_BYTES_OFFSET) }
          : {}),
    });
  }
  const counters: ProducerCounters | undefined = reliable
    ? {
        backPressureEvents: counter(i32, L.int32Index(L.BACK_PRESSURE_EVENTS_OFFSET)),
        evictedConsumers: counter(i32, L.int32Index(L.EVICTED_CONSUMERS_OFFSET)),
        reapedConsumers: counter(i32, L.int32Index(L.REAPED_CONSUMERS_OFFSET)),
      }
    : undefined;
  return {
    ...d,
    path: memory.path,
    producerAlive: memory.isLocked(L.PRODUCER_LOCK_BYTE),
    producerState: state === L.PRODUCER_STATE_ACTIVE ? 'active' : state === L.PRODUCER_STATE_CLOSED ? 'closed' : 'none',
    producerPid: Atomics.load(i32, L.int32Index(L.PRODUCER_PID_OFFSET)),
    producerEpoch: Atomics.load(i32, L.int32Index(L.PRODUCER_EPOCH_OFFSET)),
    producerPosition: loadPosition(i32, positionIndex),
    ...(counters === undefined ? {} : { counters }),
    consumers,
  };
}

/** An int64 counter of the header, or null for a word no writer of ours leaves (another process wrote garbage). */
function counter(i32: Int32Array, index: number): number | null {
  const value = tryLoadPosition(i32, index);
  return value === -Infinity ? null : value;
}

/**
 * Creates a ring file with no producer attached (e.g. for an external Agrona transmitter to write into a broadcast
 * ring, or to attach a producer later with `Publication.attach`), or a many-to-one ring with no consumer yet (its
 * consumer joins with `Subscription.open`, producers with `Publication.open`).
 */
export function createRing(name: string, options: CreateRingOptions = {}): RingInfo {
  const ring = createRingMemory(name, options, false);
  try {
    return describe(ring);
  } finally {
    ring.memory.close();
  }
}

/** Removes a ring file. Processes that have it mapped keep using it; the memory is freed when they close it. */
export function unlinkRing(name: string, options: LocationOptions = {}): void {
  Segment.unlink(name, options);
}

/** A ring file found by `listRings`. */
export interface RingListing {
  name: string;
  path: string;
  mode: RingMode | null;
  producerAlive: boolean;
  /** No live producer and no live consumer: nothing uses this ring any more. */
  stale: boolean;
  /**
   * Set when the file is not a readable ring: `'permission'` when this user may not open it (it may be a ring of
   * another user: mode, producerAlive and stale are then unknown and shown as null, false, false), else the message
   * of the error that reading its header gave (another version, a corrupt header...).
   */
  error?: string;
}

/** Lists the ring files in a directory (default /dev/shm); other files are skipped unless they look like rings. */
export function listRings(options: LocationOptions = {}): RingListing[] {
  const dir = options.dir ?? DEFAULT_DIR;
  Segment.checkDirectory(dir);
  const listings: RingListing[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = `${dir}/${entry.name}`;
    let segment: Segment;
    try {
      segment = Segment.open(entry.name, { dir, allowAnyFilesystem: options.allowAnyFilesystem });
    } catch (err) {
      // A file we may not open may be a ring all the same: say so rather than leave it out.
      const code = (err as SystemError).code;
      if (code === 'EACCES' || code === 'EPERM') {
        listings.push({ name: entry.name, path, mode: null, producerAlive: false, stale: false, error: 'permission' });
      }
      continue;
    }
    const memory: RingMemory = segment;
    try {
      const magic = segment.size >= L.PAGE_LENGTH ? new Int32Array(segment.buffer, 0, 1)[0] : 0;
      if (magic !== L.MAGIC) continue;
      const d = readDescriptor(segment.buffer, path);
      const producerAlive = memory.isLocked(L.PRODUCER_LOCK_BYTE);
      let consumerAlive = false;
      for (let slot = 0; d !== null && slot < d.maxConsumers && !consumerAlive; slot++) {
        consumerAlive = memory.isLocked(L.CONSUMER_LOCK_BYTE_BASE + slot);
      }
      listings.push({
        name: entry.name,
        path,
        mode: d?.mode ?? null,
        producerAlive,
        stale: !producerAlive && !consumerAlive,
      });
    } catch (err) {
      listings.push({
        name: entry.name,
        path,
        mode: null,
        producerAlive: false,
        stale: false,
        error: (err as Error).message,
      });
    } finally {
      memory.close();
    }
  }
  return listings;
}

/**
 * Removes rings nobody uses any more: no live producer, no live consumer (kernel locks, not pids) and no durable
 * consumer that was not evicted (it will come back for its messages). Returns the names removed. `olderThanMs` spares
 * rings created recently (a producer may be about to attach).
 */
export function removeStaleRings(options: LocationOptions & { olderThanMs?: number } = {}): string[] {
  const removed: string[] = [];
  const olderThan = Date.now() - (options.olderThanMs ?? 0);
  for (const ring of listRings(options)) {
    if (!ring.stale) continue;
    try {
      const info = ringInfo(ring.name, { ...options, openTimeoutMs: 0 });
      if (info.createdAt > olderThan || info.producerAlive || info.consumers.some((c) => c.alive)) continue;
      // A durable consumer not evicted will come back for its messages: the ring is kept for it.
      if (info.consumers.some((c) => c.durable !== null && c.state === 'active')) continue;
      Segment.unlink(ring.name, options);
      removed.push(ring.name);
    } catch {
      // Vanished or became unreadable meanwhile: not ours to remove.
    }
  }
  return removed;
}
