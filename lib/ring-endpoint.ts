/**
 * What every end of a ring keeps, producer or consumer, in every mode: its mapping, the views over it and the data
 * region's geometry. One place makes the views, so every end reads payloads the same way.
 */
import type { RingDescriptor, RingMemory } from './ring-file';

export abstract class RingEndpoint {
  /** Bytes in the data region (a power of two). */
  readonly capacity: number;
  readonly memory: RingMemory;
  /** Atomics (the SharedArrayBuffer). */
  protected readonly i32: Int32Array;
  protected readonly i64: BigInt64Array;
  /** Payload bytes: the plain-ArrayBuffer alias (memcpy speed) where there is one; atomics stay on `i32`/`i64`. */
  protected readonly u8: Uint8Array;
  protected readonly dataOffset: number;
  protected readonly mask: number;

  protected constructor(memory: RingMemory, d: RingDescriptor) {
    this.memory = memory;
    this.i32 = new Int32Array(memory.buffer);
    this.i64 = new BigInt64Array(memory.buffer);
    this.u8 = new Uint8Array(memory.alias ?? memory.buffer);
    this.dataOffset = d.dataOffset;
    this.capacity = d.capacity;
    this.mask = d.capacity - 1;
  }

  /** Leaves the ring and unmaps it; further calls do nothing. */
  abstract close(): void;

  /** `using sub = Subscription.open(...)` (or any other end) closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }
}
