/**
 * The walk over committed records of a reliable ring, from a record boundary to the producer's tail (the first length
 * word that reads 0 or a sleeping mark: the producer keeps the ring zeroed ahead of its tail). A producer taking over
 * walks from the tail checkpoint to find where to continue, a consumer joining at 'latest' walks to find where to
 * start, and `shmring stat` walks to show the tail. Nothing here runs per message.
 */
import * as L from './layout';

/** Why a walk stopped. */
export const WalkStop = {
  /** At an empty slot: `position` is the tail. */
  TAIL: 0,
  /** At a length no committed record can have (`length` says which): another process wrote garbage, or a racing
   * producer overwrote what the walk was reading. */
  IMPOSSIBLE_LENGTH: 1,
  /** After a whole ring of records without an empty slot. */
  RING_WALKED: 2,
} as const;

export interface RecordWalk {
  stop: (typeof WalkStop)[keyof typeof WalkStop];
  /** Where the walk stopped: the tail, the impossible record, or start + capacity. */
  position: number;
  /** The length word read at `position` (0 or SLEEPING_MARK at the tail). */
  length: number;
}

/**
 * Walks committed records from `start` (a record boundary). Bounded by the bytes walked, at most one ring, whatever
 * the records say.
 */
export function walkCommittedRecords(i32: Int32Array, dataOffset: number, capacity: number, start: number): RecordWalk {
  const mask = capacity - 1;
  let walked = 0;
  while (walked < capacity) {
    const index = (start + walked) & mask;
    const length = Atomics.load(i32, L.recordLengthIndex(dataOffset + index));
    if (length === 0 || length === L.SLEEPING_MARK) return { stop: WalkStop.TAIL, position: start + walked, length };
    // Compare the length itself, not the aligned length: aligning a hostile length near 2^31 overflows to a negative
    // number, which would pass this check and walk the position backwards forever.
    if (length < L.HEADER_LENGTH || length > capacity - index) {
      return { stop: WalkStop.IMPOSSIBLE_LENGTH, position: start + walked, length };
    }
    walked += L.alignedRecordLength(length);
  }
  return { stop: WalkStop.RING_WALKED, position: start + walked, length: 0 };
}
