/**
 * Read-modify-write of an int64 that other processes change with full 8-byte atomics (a JVM's compareAndSetLong, a C
 * `atomic_compare_exchange`), without BigInt on the per-message path. The value is two int32 halves (little-endian:
 * low word at `index`, high word at `index + 1`); it only grows, so its high word only grows too.
 *
 * While an update leaves the high word unchanged (all but one update per 4 GiB) it is a 32-bit compare-and-swap of
 * the low word, made after reading high, low, high again: a consistent snapshot. An 8-byte CAS of a peer and our
 * 4-byte CAS are both locked instructions on one cache line, so they are totally ordered and neither tears the
 * other. The update that carries into the high word is one BigInt64 compare-and-swap (one allocation per 4 GiB).
 *
 * What a low-word CAS cannot see: the value advancing by an exact multiple of 2^32 between the snapshot and the CAS
 * (4 GiB of claims while this thread is stopped between two instructions, landing on the same low word). For a ring
 * tail that is harmless to the index (capacity divides 2^32) and otherwise an accepted, documented limit.
 */
const TWO_POW_32 = 4294967296;
const MAX_SNAPSHOT_RETRIES = 16;

/** A consistent snapshot of the int64 at int32 `index` as a number (it must stay below 2^53), or -1 if never stable. */
export function loadInt64(i32: Int32Array, index: number): number {
  for (let attempt = 0; attempt < MAX_SNAPSHOT_RETRIES; attempt++) {
    const high = Atomics.load(i32, index + 1);
    const low = Atomics.load(i32, index);
    if (Atomics.load(i32, index + 1) === high) return high * TWO_POW_32 + (low >>> 0);
  }
  return -1;
}

/**
 * Sets the int64 at int32 `index` to `update` if it equals `expected` (both exact integers below 2^53, `expected`
 * read with `loadInt64` so its high word was current). True when it did.
 */
export function compareAndSetInt64(
  i32: Int32Array,
  i64: BigInt64Array,
  index: number,
  expected: number,
  update: number,
): boolean {
  const expectedHigh = Math.floor(expected / TWO_POW_32);
  if (expectedHigh === Math.floor(update / TWO_POW_32)) {
    const expectedLow = expected | 0;
    return Atomics.compareExchange(i32, index, expectedLow, update | 0) === expectedLow;
  }
  return compareAndSetWhole(i64, index, expected, update);
}

/** The update crosses a multiple of 2^32: all 8 bytes at once. The only BigInts, once per 4 GiB. */
function compareAndSetWhole(i64: BigInt64Array, index: number, expected: number, update: number): boolean {
  const expectedBig = BigInt(expected);
  return Atomics.compareExchange(i64, index >> 1, expectedBig, BigInt(update)) === expectedBig;
}

/**
 * Adds `delta` to the int64 at int32 `index` and returns the value before (Agrona's getAndAddLong), or -1 when the
 * value is not a number below 2^53 - delta or another writer kept changing it.
 */
export function getAndAddInt64(i32: Int32Array, i64: BigInt64Array, index: number, delta: number): number {
  for (let attempt = 0; attempt < 1_000_000; attempt++) {
    const value = loadInt64(i32, index);
    if (value < 0 || value + delta > Number.MAX_SAFE_INTEGER) return -1;
    if (compareAndSetInt64(i32, i64, index, value, value + delta)) return value;
  }
  return -1;
}

/**
 * Raises the int64 hint at `index` to `value` unless a writer already stored a value at least as large; gives up
 * (it is a hint) when another writer changed it meanwhile. Never stores the low word under another writer's high
 * word (a plain low-word store could: that value would be up to 4 GiB too large).
 */
export function raiseInt64(i32: Int32Array, i64: BigInt64Array, index: number, value: number): void {
  const current = loadInt64(i32, index);
  if (current >= value || current < 0) return;
  compareAndSetInt64(i32, i64, index, current, value);
}
