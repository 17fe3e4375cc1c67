/**
 * Durable consumers: a named consumer slot that outlives its process (docs/FORMAT.md, "Durable consumers"). This
 * module owns a slot's durable fields (name, timeout, detached-since, evicted-at), looks names up under the ring's
 * durable-names lock, and holds the producer's rule for a durable consumer that went away. Nothing here runs per
 * message; the 64-bit timestamps are BigInt atomics for that reason.
 */
import { ErrorCode, ShmringError } from './errors';
import * as L from './layout';
import { storePosition, tryLoadPosition } from './position';
import type { RingMemory } from './ring-file';

/** How long a durable consumer may stay away while it holds the producer back, unless the options say otherwise. */
export const DEFAULT_DURABLE_TIMEOUT_MS = 60_000;
const MAX_DURABLE_TIMEOUT_MS = 0x7fffffff;
/** Naming a slot takes microseconds: a lock held this long belongs to a process that is stopped. */
const NAMES_LOCK_TIMEOUT_MS = 2000;
/** A private word to sleep on between attempts at the names lock (Atomics.wait on it only ever times out). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** What an open does when its durable consumer was evicted while away: throw ERR_SHMRING_EVICTED, or rejoin. */
export type OnEvicted = 'throw' | 'restart';

/** The durable part of `SubscriptionOptions`. */
export interface DurableOptions {
  /** Name of a durable consumer (1..64 UTF-8 bytes): its slot and committed position survive its process. */
  durable?: string;
  /** How long the producer waits for it once it went away and holds the producer back. Default 60 000 ms. */
  durableTimeoutMs?: number;
  /** When it was evicted while away: 'throw' (default, ERR_SHMRING_EVICTED) or 'restart' from `from`. */
  onEvicted?: OnEvicted;
}

/** Validated durable options. */
export interface DurableRequest {
  name: string;
  bytes: Uint8Array;
  timeoutMs: number;
  onEvicted: OnEvicted;
}

/** How a durable subscription found its slot (`sub.durable`). */
export interface DurableStatus {
  readonly name: string;
  readonly timeoutMs: number;
  /** 'created': a new name; 'resumed': at its committed position; 'restarted': it had been evicted, rejoined at `from`. */
  readonly opened: 'created' | 'resumed' | 'restarted';
  /** 'restarted' only: when the producer evicted it (ms since the epoch), else null. */
  readonly evictedAt: number | null;
  /** 'restarted' only: the committed position it had when evicted (what came after it until now is lost to it). */
  readonly evictedPosition: number | null;
}

/** What `ringInfo` shows of a durable consumer. */
export interface DurableInfo {
  name: string;
  timeoutMs: number;
  /** Since when it is away (ms since the epoch); null while attached, or while no one noticed its death yet. */
  detachedSince: number | null;
  /** When the producer evicted it (ms since the epoch); null unless the slot is evicted. */
  evictedAt: number | null;
}

/** Validates the durable options; null when `durable` is not given. */
export function durableRequest(options: DurableOptions): DurableRequest | null {
  const { durable: name, durableTimeoutMs, onEvicted = 'throw' } = options;
  if (name === undefined) {
    if (durableTimeoutMs !== undefined || options.onEvicted !== undefined) {
      throw new TypeError('durableTimeoutMs and onEvicted need a durable name: durable=undefined');
    }
    return null;
  }
  if (typeof name !== 'string') throw new TypeError(`durable must be a string: durable=${String(name)}`);
  const bytes = new Uint8Array(Buffer.from(name, 'utf8'));
  if (bytes.length === 0 || bytes.length > L.DURABLE_NAME_MAX_LENGTH || name.includes('\0')) {
    throw new RangeError(
      `durable must be 1 to ${L.DURABLE_NAME_MAX_LENGTH} UTF-8 bytes without NUL: durable=${JSON.stringify(name)}`,
    );
  }
  const timeoutMs = durableTimeoutMs ?? DEFAULT_DURABLE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_DURABLE_TIMEOUT_MS) {
    throw new RangeError(
      `durableTimeoutMs must be an integer in [1, ${MAX_DURABLE_TIMEOUT_MS}]: durableTimeoutMs=${String(timeoutMs)}`,
    );
  }
  if (onEvicted !== 'throw' && onEvicted !== 'restart') {
    throw new TypeError(`onEvicted must be 'throw' or 'restart': onEvicted=${String(onEvicted)}`);
  }
  return { name, bytes, timeoutMs, onEvicted };
}

/** True when the slot carries a durable name (any non-zero length: a garbage length is kept away from as well). */
export function isDurableSlot(i32: Int32Array, slot: number): boolean {
  return Atomics.load(i32, L.slotFieldIndex(slot, L.SLOT_DURABLE_NAME_LENGTH_OFFSET)) !== 0;
}

/** The slot's durable name, or null when it has none or a length no name has. */
export function durableNameOf(buffer: SharedArrayBuffer, slot: number): string | null {
  const length = Atomics.load(new Int32Array(buffer), L.slotFieldIndex(slot, L.SLOT_DURABLE_NAME_LENGTH_OFFSET));
  if (length <= 0 || length > L.DURABLE_NAME_MAX_LENGTH) return null;
  return Buffer.from(buffer, L.consumerSlotOffset(slot) + L.SLOT_DURABLE_NAME_OFFSET, length).toString('utf8');
}

/** The slot named `bytes`, or -1. Call it under the names lock (names change only under it). */
export function findDurableSlot(buffer: SharedArrayBuffer, maxConsumers: number, bytes: Uint8Array): number {
  const i32 = new Int32Array(buffer);
  const u8 = new Uint8Array(buffer);
  for (let slot = 0; slot < maxConsumers; slot++) {
    if (Atomics.load(i32, L.slotFieldIndex(slot, L.SLOT_DURABLE_NAME_LENGTH_OFFSET)) !== bytes.length) continue;
    const start = L.consumerSlotOffset(slot) + L.SLOT_DURABLE_NAME_OFFSET;
    let same = true;
    for (let i = 0; i < bytes.length && same; i++) same = u8[start + i] === bytes[i];
    if (same) return slot;
  }
  return -1;
}

/** Names a slot whose lock the caller holds: timeout and name bytes first, the length last. */
export function nameSlot(buffer: SharedArrayBuffer, slot: number, request: DurableRequest): void {
  const i32 = new Int32Array(buffer);
  new Uint8Array(buffer).set(request.bytes, L.consumerSlotOffset(slot) + L.SLOT_DURABLE_NAME_OFFSET);
  Atomics.store(i32, L.slotFieldIndex(slot, L.SLOT_DURABLE_TIMEOUT_OFFSET), request.timeoutMs);
  Atomics.store(i32, L.slotFieldIndex(slot, L.SLOT_DURABLE_NAME_LENGTH_OFFSET), request.bytes.length);
}

/** Reads an ms timestamp field; 0 (unknown) for anything that is not a plausible one. */
function loadMillis(buffer: SharedArrayBuffer, slot: number, offset: number): number {
  const value = tryLoadPosition(new Int32Array(buffer), L.slotFieldIndex(slot, offset));
  return value > 0 ? value : 0;
}

function storeMillis(buffer: SharedArrayBuffer, slot: number, offset: number, value: number): void {
  storePosition(new Int32Array(buffer), new BigInt64Array(buffer), L.slotFieldIndex(slot, offset), value);
}

/** The slot's consumer is back (the caller holds its lock and won its state word): it is attached again. */
export function markAttached(buffer: SharedArrayBuffer, slot: number, timeoutMs: number): void {
  storeMillis(buffer, slot, L.SLOT_DETACHED_SINCE_OFFSET, 0);
  storeMillis(buffer, slot, L.SLOT_EVICTED_AT_OFFSET, 0);
  Atomics.store(new Int32Array(buffer), L.slotFieldIndex(slot, L.SLOT_DURABLE_TIMEOUT_OFFSET), timeoutMs);
}

/** The slot's consumer closes: from now on it is away (its lock is released right after). */
export function markDetached(buffer: SharedArrayBuffer, slot: number): void {
  storeMillis(buffer, slot, L.SLOT_DETACHED_SINCE_OFFSET, Date.now());
}

/** The producer is about to evict the slot: when, for its next open to tell (ignored unless the swap succeeds). */
export function markEvicted(buffer: SharedArrayBuffer, slot: number, now: number): void {
  storeMillis(buffer, slot, L.SLOT_EVICTED_AT_OFFSET, now);
}

/** When the producer evicted the slot (ms since the epoch), 0 when unknown. */
export function evictedAtOf(buffer: SharedArrayBuffer, slot: number): number {
  return loadMillis(buffer, slot, L.SLOT_EVICTED_AT_OFFSET);
}

/** The durable fields of a slot for `ringInfo`, or null when it is not durable. */
export function durableInfo(
  buffer: SharedArrayBuffer,
  slot: number,
  state: number,
  alive: boolean,
): DurableInfo | null {
  const name = durableNameOf(buffer, slot);
  if (name === null) return null;
  const detachedSince = loadMillis(buffer, slot, L.SLOT_DETACHED_SINCE_OFFSET);
  const evictedAt = loadMillis(buffer, slot, L.SLOT_EVICTED_AT_OFFSET);
  return {
    name,
    timeoutMs: Atomics.load(new Int32Array(buffer), L.slotFieldIndex(slot, L.SLOT_DURABLE_TIMEOUT_OFFSET)),
    detachedSince: alive || detachedSince === 0 ? null : detachedSince,
    evictedAt: state === L.SLOT_EVICTED && evictedAt !== 0 ? evictedAt : null,
  };
}

/**
 * Producer side: durable slot `slot` (state word `state`) holds the producer back and its lock is free, so its
 * consumer is away. The first time the producer sees that, the clock starts (unless the consumer's close started it);
 * once it ran `durableTimeoutMs`, the slot is evicted: its state turns evicted and its name stays, so that the next
 * open of that name learns it. Returns true when it evicted the slot.
 */
export function expireAwayDurable(buffer: SharedArrayBuffer, slot: number, state: number, now: number): boolean {
  const i32 = new Int32Array(buffer);
  const stateIndex = L.slotStateIndex(slot);
  const since = loadMillis(buffer, slot, L.SLOT_DETACHED_SINCE_OFFSET);
  if (since === 0 || since > now) {
    // Not noticed yet (a kill), or a clock that went back: the clock starts now.
    storeMillis(buffer, slot, L.SLOT_DETACHED_SINCE_OFFSET, now);
    // A consumer resuming meanwhile bumped the state word and clears the field after that; when our store may have
    // come after its clear, take it back.
    if (Atomics.load(i32, stateIndex) !== state) {
      Atomics.compareExchange(
        new BigInt64Array(buffer),
        L.slotField64Index(slot, L.SLOT_DETACHED_SINCE_OFFSET),
        BigInt(now),
        0n,
      );
    }
    return false;
  }
  const timeoutMs = Atomics.load(i32, L.slotFieldIndex(slot, L.SLOT_DURABLE_TIMEOUT_OFFSET));
  if (now - since < timeoutMs) return false;
  markEvicted(buffer, slot, now);
  return Atomics.compareExchange(i32, stateIndex, state, L.nextSlotWord(state, L.SLOT_EVICTED)) === state;
}

/** Runs `action` holding the ring's durable-names lock (name lookups and naming are serialised by it). */
export function withDurableNamesLock<T>(memory: RingMemory, action: () => T): T {
  const deadline = Date.now() + NAMES_LOCK_TIMEOUT_MS;
  while (!memory.tryLock(L.DURABLE_NAMES_LOCK_BYTE, true)) {
    if (Date.now() >= deadline) {
      throw new ShmringError(
        ErrorCode.NOT_READY,
        `the ring's durable-names lock stayed taken for ${NAMES_LOCK_TIMEOUT_MS} ms (a process opening a durable ` +
          `consumer is stopped?): ${memory.path ?? 'anonymous ring'}`,
        memory.path ?? undefined,
      );
    }
    Atomics.wait(PAUSE, 0, 0, 1); // 1 ms without spinning
  }
  try {
    return action();
  } finally {
    memory.unlock(L.DURABLE_NAMES_LOCK_BYTE);
  }
}

/** ERR_SHMRING_DURABLE_IN_USE for `name`. */
export function durableInUse(name: string, slot: number): ShmringError {
  return new ShmringError(
    ErrorCode.DURABLE_IN_USE,
    `durable consumer ${JSON.stringify(name)} is attached to a live process (slot ${slot}): one process at a time`,
  );
}

/**
 * Removes durable consumer `name` from an opened ring: its slot becomes free. Returns false when no slot has that
 * name; throws ERR_SHMRING_DURABLE_IN_USE while a process is attached to it.
 */
export function removeDurableSlot(memory: RingMemory, maxConsumers: number, request: DurableRequest): boolean {
  return withDurableNamesLock(memory, () => {
    const slot = findDurableSlot(memory.buffer, maxConsumers, request.bytes);
    if (slot < 0) return false;
    const lockByte = L.CONSUMER_LOCK_BYTE_BASE + slot;
    if (!memory.tryLock(lockByte, true)) throw durableInUse(request.name, slot);
    try {
      const i32 = new Int32Array(memory.buffer);
      // Nameless first: should we die here, the slot is an ordinary dead consumer's, which the producer reaps.
      Atomics.store(i32, L.slotFieldIndex(slot, L.SLOT_DURABLE_NAME_LENGTH_OFFSET), 0);
      const stateIndex = L.slotStateIndex(slot);
      // Only the producer changes the word of a slot whose lock we hold (an eviction): a few attempts settle it.
      for (let attempt = 0; attempt < 16; attempt++) {
        const state = Atomics.load(i32, stateIndex);
        if (Atomics.compareExchange(i32, stateIndex, state, L.nextSlotWord(state, L.SLOT_FREE)) === state) break;
      }
      return true;
    } finally {
      memory.unlock(lockByte);
    }
  });
}
