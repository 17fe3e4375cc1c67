/**
 * Owning a slot of a broadcast ring's receiver table (a receiver that publishes its counters). The slot's kernel lock
 * says the owner lives; its state word changes only by compare-and-swap with the generation bumped (docs/FORMAT.md,
 * "Consumer slots"). Reliable consumers take their slots in reliable-subscription.ts, durable ones included.
 */
import { ErrorCode, ShmringError, corrupt } from './errors';
import * as L from './layout';
import type { RingMemory } from './ring-file';

/** A state word that never holds still through this many attempts is another process writing garbage. */
const MAX_ACTIVATE_ATTEMPTS = 10_000;

/** Takes the first slot whose kernel lock is free (whoever held it before is dead or gone): its number. */
export function lockFreeSlot(memory: RingMemory, maxConsumers: number): number {
  for (let slot = 0; slot < maxConsumers; slot++) {
    if (memory.tryLock(L.CONSUMER_LOCK_BYTE_BASE + slot, true)) return slot;
  }
  throw new ShmringError(
    ErrorCode.NO_CONSUMER_SLOT,
    `all consumer slots are taken by live consumers: maxConsumers=${maxConsumers}`,
  );
}

/**
 * Marks the locked `slot` active and returns its new state word. Only a producer evicting or reaping changes the word
 * of a slot whose lock we hold, so the compare-and-swap succeeds within a few attempts.
 */
export function activateSlot(i32: Int32Array, slot: number): number {
  const index = L.slotStateIndex(slot);
  for (let attempt = 0; ; attempt++) {
    const state = Atomics.load(i32, index);
    const next = L.nextSlotWord(state, L.SLOT_ACTIVE);
    if (Atomics.compareExchange(i32, index, state, next) === state) return next;
    if (attempt >= MAX_ACTIVATE_ATTEMPTS) throw corrupt('slot state (never stable)', state);
  }
}

/** Frees the slot (unless the producer changed it since: evicted or reaped) and drops its lock. */
export function releaseSlot(memory: RingMemory, i32: Int32Array, slot: number, stateWord: number): void {
  const index = L.slotStateIndex(slot);
  if (Atomics.load(i32, index) === stateWord) {
    Atomics.compareExchange(i32, index, stateWord, L.nextSlotWord(stateWord, L.SLOT_FREE));
  }
  memory.unlock(L.CONSUMER_LOCK_BYTE_BASE + slot);
}
