/**
 * Records the atomic stores (store, exchange, compareExchange) that code under test makes into one buffer, in
 * order, and lets a test look at the memory at the instant just BEFORE each of them takes effect. This is how the
 * protocol tests check the order of stores (Agrona's tests do the same with Mockito's `inOrder` on the buffer):
 * everything a reader may see once the atomic store lands must already be in memory when it is made.
 *
 * `onAtomic` can also run code at that instant (e.g. let the producer write while a consumer is half-way through
 * joining). Re-entrant atomics made from inside `onAtomic` are performed but neither logged nor hooked.
 */
import { vi } from 'vitest';

export type AtomicOp = 'store' | 'exchange' | 'compareExchange' | 'load';

export interface AtomicAccess {
  op: AtomicOp;
  /** Byte offset of the accessed element in the buffer. */
  byteOffset: number;
  /** Value stored (exchange/store) or the replacement (compareExchange); undefined for load. */
  value: number | bigint | undefined;
  /** The element's value just before the access. */
  before: number | bigint;
}

type TypedIntArray = Int32Array | BigInt64Array;

export interface AtomicsLog {
  readonly accesses: AtomicAccess[];
  /** Accesses whose byte offset is in [from, to). */
  within(from: number, to: number, ops?: AtomicOp[]): AtomicAccess[];
  /** Stops recording (also done by `vi.restoreAllMocks()`). */
  restore(): void;
}

/**
 * Starts recording atomics on `buffer`. `ops` selects which kinds are recorded and hooked (loads are off by
 * default: the code under test makes many). `onAtomic` runs before each recorded access is performed.
 */
export function recordAtomics(
  buffer: SharedArrayBuffer,
  onAtomic: (access: AtomicAccess) => void = () => undefined,
  ops: AtomicOp[] = ['store', 'exchange', 'compareExchange'],
): AtomicsLog {
  const accesses: AtomicAccess[] = [];
  let inHook = false;
  const original = {
    store: Atomics.store.bind(Atomics),
    exchange: Atomics.exchange.bind(Atomics),
    compareExchange: Atomics.compareExchange.bind(Atomics),
    load: Atomics.load.bind(Atomics),
  };
  const spies: Array<{ mockRestore(): void }> = [];
  const observe = (op: AtomicOp, array: TypedIntArray, index: number, value: number | bigint | undefined): void => {
    if (inHook || array.buffer !== buffer || !ops.includes(op)) return;
    const access: AtomicAccess = {
      op,
      byteOffset: array.byteOffset + index * array.BYTES_PER_ELEMENT,
      value,
      before: (original.load as (a: TypedIntArray, i: number) => number | bigint)(array, index),
    };
    accesses.push(access);
    inHook = true;
    try {
      onAtomic(access);
    } finally {
      inHook = false;
    }
  };
  type Fn = (...args: never[]) => unknown;
  const wrap = (op: AtomicOp, valueArg: number | null): void => {
    const fn = original[op] as unknown as (...args: unknown[]) => unknown;
    const spy = vi.spyOn(Atomics, op as 'store').mockImplementation(((...args: unknown[]) => {
      observe(
        op,
        args[0] as TypedIntArray,
        args[1] as number,
        valueArg === null ? undefined : (args[valueArg] as number | bigint),
      );
      return fn(...args);
    }) as unknown as Fn as typeof Atomics.store);
    spies.push(spy);
  };
  wrap('store', 2);
  wrap('exchange', 2);
  wrap('compareExchange', 3);
  if (ops.includes('load')) wrap('load', null);
  return {
    accesses,
    within(from, to, kinds = ['store', 'exchange', 'compareExchange']) {
      return accesses.filter((a) => a.byteOffset >= from && a.byteOffset < to && kinds.includes(a.op));
    },
    restore() {
      for (const spy of spies.splice(0)) spy.mockRestore();
    },
  };
}
