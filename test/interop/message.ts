/**
 * The interop tests' message format, TypeScript twin of test/interop/message.h (the format is written down there;
 * both must produce the same bytes). In short: uint64 LE seq, then fill bytes from a mulberry32 stream seeded by
 * (seed, seq), then a uint32 LE FNV-1a 32 of everything before it. The length is the stream's first draw in
 * [minLength, maxLength].
 */

export const SEQ_LENGTH = 8;
export const CHECKSUM_LENGTH = 4;
export const MIN_MESSAGE_LENGTH = SEQ_LENGTH + CHECKSUM_LENGTH;

function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32 over the stream message.h defines for (seed, seq). */
class Prng {
  private state: number;

  constructor(seed: number, seq: number) {
    const low = seq >>> 0;
    const high = Math.floor(seq / 2 ** 32) >>> 0;
    this.state = fmix32(seed ^ Math.imul(low, 0x9e3779b1) ^ Math.imul((high + 1) >>> 0, 0x85ebca77));
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}

/** FNV-1a 32 of `length` bytes at `offset`. */
export function fnv1a(bytes: Uint8Array, offset: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = offset; i < offset + length; i++) {
    h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return h >>> 0;
}

/** Message `seq` for `seed` with a length in [minLength, maxLength]. */
export function encodeMessage(seed: number, seq: number, minLength: number, maxLength: number): Uint8Array {
  if (!(MIN_MESSAGE_LENGTH <= minLength && minLength <= maxLength)) {
    throw new RangeError(
      `need ${MIN_MESSAGE_LENGTH} <= minLength <= maxLength: minLength=${minLength} maxLength=${maxLength}`,
    );
  }
  const prng = new Prng(seed >>> 0, seq);
  const length = minLength + (prng.next() % (maxLength - minLength + 1));
  const message = new Uint8Array(length);
  const view = new DataView(message.buffer);
  view.setUint32(0, seq >>> 0, true);
  view.setUint32(4, Math.floor(seq / 2 ** 32), true);
  let word = 0;
  for (let i = 0; i < length - MIN_MESSAGE_LENGTH; i++) {
    if (i % 4 === 0) word = prng.next();
    message[SEQ_LENGTH + i] = (word >>> (8 * (i % 4))) & 0xff;
  }
  view.setUint32(length - CHECKSUM_LENGTH, fnv1a(message, 0, length - CHECKSUM_LENGTH), true);
  return message;
}

/** What a received message is: its seq when the checksum holds, else `corrupt`. */
export type Decoded = { ok: true; seq: number } | { ok: false; reason: string };

/**
 * Checks `length` bytes at `offset` of `buffer`: the checksum, and when `expect` is given the exact bytes
 * encodeMessage makes for the seq they carry.
 */
export function decodeMessage(
  buffer: Uint8Array,
  offset: number,
  length: number,
  expect?: { seed: number; minLength: number; maxLength: number },
): Decoded {
  if (length < MIN_MESSAGE_LENGTH) return { ok: false, reason: `too short: length=${length}` };
  const view = new DataView(buffer.buffer, buffer.byteOffset + offset, length);
  const checksum = view.getUint32(length - CHECKSUM_LENGTH, true);
  const actual = fnv1a(buffer, offset, length - CHECKSUM_LENGTH);
  if (checksum !== actual) return { ok: false, reason: `checksum: stored=${checksum} computed=${actual}` };
  const seq = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (expect !== undefined) {
    const expected = encodeMessage(expect.seed, seq, expect.minLength, expect.maxLength);
    if (expected.length !== length) return { ok: false, reason: `length: seq=${seq} length=${length}` };
    for (let i = 0; i < length; i++) {
      if (expected[i] !== buffer[offset + i]) return { ok: false, reason: `byte ${i} differs: seq=${seq}` };
    }
  }
  return { ok: true, seq };
}

/**
 * Tallies received messages the way agrona_receiver does: strictly increasing seqs, gaps counted as loss.
 */
export class SequenceVerifier {
  received = 0;
  lostBySeqGap = 0;
  corrupt = 0;
  outOfOrder = 0;
  firstSeq = -1;
  lastSeq = -1;
  readonly reasons: string[] = [];

  constructor(private readonly expect?: { seed: number; minLength: number; maxLength: number }) {}

  /** Checks one message; returns its seq, or -1 when it was rejected. */
  accept(buffer: Uint8Array, offset: number, length: number): number {
    const decoded = decodeMessage(buffer, offset, length, this.expect);
    if (!decoded.ok) {
      this.corrupt++;
      if (this.reasons.length < 10) this.reasons.push(decoded.reason);
      return -1;
    }
    const { seq } = decoded;
    if (this.lastSeq >= 0 && seq <= this.lastSeq) {
      this.outOfOrder++;
      if (this.reasons.length < 10) this.reasons.push(`out of order: seq=${seq} after lastSeq=${this.lastSeq}`);
      return -1;
    }
    if (this.lastSeq >= 0) this.lostBySeqGap += seq - this.lastSeq - 1;
    if (this.firstSeq < 0) this.firstSeq = seq;
    this.lastSeq = seq;
    this.received++;
    return seq;
  }
}
