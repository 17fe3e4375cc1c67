/**
 * The ring's memory of where its messages came from: the upstream (JetStream) sequence of the last message a
 * bridging producer committed, kept in two alternating slots of the producer line (docs/FORMAT.md, "Upstream
 * record"). It is written before each batch commits and read back by the next producer after a crash, so the ring
 * says exactly which upstream messages it holds: no message is written twice, none is skipped.
 *
 * Only `bridgeIn` writes it, once per batch and off the ordinary producers' per-message path.
 */
import { corrupt } from '../errors';
import * as L from '../layout';
import { MAX_POSITION_HIGH_WORD } from '../position';

const TWO_POW_32 = 4294967296;
const MAX_STAMP = 0x7fffffff;

/** What the ring remembers of its upstream. */
export interface UpstreamMark {
  /** Hash of the upstream's identity (see `upstreamId`): a sequence means nothing for another stream. */
  upstreamId: number;
  /** Upstream sequence of the last message committed into the ring. */
  sequence: number;
  /** Ring position just past that message's record. */
  endPosition: number;
  /** The slot it was read from (the writer must overwrite the other one first). */
  slot: number;
}

function slotIndex(slot: number): number {
  return L.int32Index(L.UPSTREAM_SLOTS_OFFSET + slot * L.UPSTREAM_SLOT_LENGTH);
}

/** A 64-bit value written by `storeWhole` (two atomic int32 stores); ERR_SHMRING_CORRUPT when out of range. */
function loadValue(i32: Int32Array, index: number, what: string): number {
  const high = Atomics.load(i32, index + 1);
  if (high >>> 0 > MAX_POSITION_HIGH_WORD) throw corrupt(`${what} high word`, high);
  return high * TWO_POW_32 + (Atomics.load(i32, index) >>> 0);
}

function storeValue(i32: Int32Array, index: number, value: number): void {
  Atomics.store(i32, index, (value % TWO_POW_32) | 0);
  Atomics.store(i32, index + 1, Math.floor(value / TWO_POW_32));
}

/**
 * Reads the mark that is valid for a ring whose committed records end at `tail` (a producer's recovered tail), or
 * null when no slot names a committed record. Throws ERR_SHMRING_CORRUPT for impossible values.
 */
export function readUpstreamMark(buffer: SharedArrayBuffer, tail: number): UpstreamMark | null {
  const i32 = new Int32Array(buffer, 0, L.int32Index(L.PAGE_LENGTH));
  let best: UpstreamMark | null = null;
  for (let slot = 0; slot < L.UPSTREAM_SLOT_COUNT; slot++) {
    const base = slotIndex(slot);
    if (Atomics.load(i32, base + L.int32Index(L.UPSTREAM_STAMP_OFFSET)) === 0) continue;
    const endPosition = loadValue(i32, base + L.int32Index(L.UPSTREAM_POSITION_OFFSET), 'upstream end position');
    const sequence = loadValue(i32, base + L.int32Index(L.UPSTREAM_SEQUENCE_OFFSET), 'upstream sequence');
    // Past the tail: the batch it describes never committed (its first length word still reads 0).
    if (endPosition > tail) continue;
    if (best === null || endPosition > best.endPosition) {
      const id = Atomics.load(i32, base + L.int32Index(L.UPSTREAM_ID_OFFSET));
      best = { upstreamId: id, sequence, endPosition, slot };
    }
  }
  return best;
}

/** The writer: the ring's producer, between writing a batch and committing it. */
export class UpstreamMarkWriter {
  private readonly i32: Int32Array;
  private next = 0;

  /** `recovered`: what `readUpstreamMark` found; its slot is the only record of what the ring holds, kept intact. */
  constructor(buffer: SharedArrayBuffer, recovered: UpstreamMark | null) {
    this.i32 = new Int32Array(buffer, 0, L.int32Index(L.PAGE_LENGTH));
    this.next = recovered === null ? 0 : recovered.slot ^ 1;
  }

  /**
   * Records that the batch about to be committed ends at `endPosition` and carries upstream messages up to
   * `sequence`. Call it after the batch's records are written and before `commitBatch()`.
   */
  write(upstreamId: number, endPosition: number, sequence: number): void {
    const i32 = this.i32;
    const base = slotIndex(this.next);
    const other = slotIndex(this.next ^ 1);
    const stampIndex = base + L.int32Index(L.UPSTREAM_STAMP_OFFSET);
    const stamp = (Math.max(Atomics.load(i32, stampIndex), Atomics.load(i32, other)) % MAX_STAMP) + 1;
    // Every store is atomic (sequentially consistent): they reach memory in this order, and all before the commit.
    Atomics.store(i32, stampIndex, 0);
    Atomics.store(i32, base + L.int32Index(L.UPSTREAM_ID_OFFSET), upstreamId);
    storeValue(i32, base + L.int32Index(L.UPSTREAM_POSITION_OFFSET), endPosition);
    storeValue(i32, base + L.int32Index(L.UPSTREAM_SEQUENCE_OFFSET), sequence);
    Atomics.store(i32, stampIndex, stamp);
    this.next ^= 1;
  }
}

/** A 32-bit FNV-1a hash of an upstream's identity (e.g. `stream name + '@' + stream creation time`). */
export function upstreamId(identity: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < identity.length; i++) {
    hash ^= identity.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
