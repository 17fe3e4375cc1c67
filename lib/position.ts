/**
 * 64-bit positions in shared memory without BigInt on the per-message path. A position is stored as two int32
 * halves (little-endian: low word at `index`, high word at `index + 1`) by a single writer:
 * - while the high word is unchanged the writer stores only the low word (one `Atomics.store`), so a reader that
 *   loads 8 bytes at once (a JVM, C) never sees a torn value;
 * - when the high word changes (once per 4 GiB) the writer stores all 8 bytes with one BigInt64 `Atomics.store`.
 * A JS reader loads high, low, high again and retries if the high word moved.
 */
import { corrupt } from './errors';

/** 2^32: the weight of a 64-bit word's high int32 half. */
export const TWO_POW_32 = 4294967296;
const MAX_TORN_READ_RETRIES = 16;
/**
 * The largest high word a position may have: positions stay below 2^53 - 2^32, so a position plus a walk of up to a
 * ring (2^30) is still an exact double. Past 2^53, `position + length` rounds back to `position` and a walk never ends.
 */
export const MAX_POSITION_HIGH_WORD = 0x1ffffe;

/** Reads the position at int32 `index` (8-byte aligned); ERR_SHMRING_CORRUPT unless it is in [0, 2^53 - 2^32). */
export function loadPosition(i32: Int32Array, index: number): number {
  for (let attempt = 0; attempt < MAX_TORN_READ_RETRIES; attempt++) {
    const high = Atomics.load(i32, index + 1);
    const low = Atomics.load(i32, index);
    if (Atomics.load(i32, index + 1) === high) {
      // One unsigned compare, as cheap as the `high < 0` it replaced: a negative high word is huge unsigned.
      if (high >>> 0 > MAX_POSITION_HIGH_WORD) throw corrupt('position high word', high);
      return high * TWO_POW_32 + (low >>> 0);
    }
  }
  // The high word changes once per 4 GiB written; 16 changes during one read means a hostile writer.
  throw corrupt('position (never stable)', index);
}

/**
 * Like `loadPosition`, for a word another process may have left as garbage (a consumer slot read by the producer):
 * -Infinity instead of a throw. -Infinity is below every position, so a caller that takes minimums treats the slot
 * as the furthest behind it could be, and decides about it by other means (whether its owner lives).
 */
export function tryLoadPosition(i32: Int32Array, index: number): number {
  for (let attempt = 0; attempt < MAX_TORN_READ_RETRIES; attempt++) {
    const high = Atomics.load(i32, index + 1);
    const low = Atomics.load(i32, index);
    if (Atomics.load(i32, index + 1) === high) {
      return high >>> 0 > MAX_POSITION_HIGH_WORD ? -Infinity : high * TWO_POW_32 + (low >>> 0);
    }
  }
  return -Infinity;
}

/** Stores `value` at int32 `index`; only the position's single writer may call this. */
export function storePosition(i32: Int32Array, i64: BigInt64Array, index: number, value: number): void {
  if (i32[index + 1] === Math.floor(value / TWO_POW_32)) Atomics.store(i32, index, value | 0);
  else storeWhole(i64, index, value);
}

/**
 * Like `storePosition`, with a plain store of the low word (a 4-byte store is single-copy atomic, so an 8-byte reader
 * still never sees a torn value). For a field published before an atomic store that readers synchronise on (Agrona's
 * `latest`, written before `tail`): it saves one fence per message.
 */
export function storePositionPlain(i32: Int32Array, i64: BigInt64Array, index: number, value: number): void {
  if (i32[index + 1] === Math.floor(value / TWO_POW_32)) i32[index] = value | 0;
  else storeWhole(i64, index, value);
}

/** The high word changed (once per 4 GiB): all 8 bytes in one store. The only BigInt, off the per-message path. */
function storeWhole(i64: BigInt64Array, index: number, value: number): void {
  Atomics.store(i64, index >> 1, BigInt(value));
}
