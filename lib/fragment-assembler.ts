/**
 * Reassembles fragmented messages (Aeron's FragmentAssembler idea): frames flagged BEGIN, middle, END are copied
 * into one growing buffer and delivered once whole. Unfragmented messages never come here (no copy for them).
 */
import { corrupt } from './errors';
import * as L from './layout';
import type { MessageHandler } from './message-handler';

const INITIAL_LENGTH = 64 * 1024;

export class FragmentAssembler {
  /** Fragments dropped because their BEGIN was never seen (a consumer that joined mid-message). */
  droppedFragments = 0;
  private buffer: Uint8Array;
  private length = 0;
  private typeId = -1;
  private assembling = false;
  private readonly maxMessageLength: number;

  constructor(maxMessageLength: number) {
    this.maxMessageLength = maxMessageLength;
    this.buffer = new Uint8Array(Math.min(INITIAL_LENGTH, maxMessageLength));
  }

  /** True between a message's first and last fragment. */
  get isAssembling(): boolean {
    return this.assembling;
  }

  /** Forgets a message half assembled (the consumer moves back to before its first fragment). */
  reset(): void {
    this.assembling = false;
  }

  /** Takes one frame; calls `handler` and returns true when it completes a message. */
  onFragment(
    source: Uint8Array,
    offset: number,
    length: number,
    typeId: number,
    flags: number,
    handler: MessageHandler,
  ): boolean {
    if ((flags & L.BEGIN_FLAG) !== 0) {
      if (this.assembling) this.droppedFragments++;
      this.assembling = true;
      this.length = 0;
      this.typeId = typeId;
    } else if (!this.assembling || typeId !== this.typeId) {
      this.droppedFragments++;
      return false;
    }
    const total = this.length + length;
    if (total > this.maxMessageLength) throw corrupt('fragmented message length', total);
    if (total > this.buffer.length) this.grow(total);
    this.buffer.set(source.subarray(offset, offset + length), this.length);
    this.length = total;
    if ((flags & L.END_FLAG) === 0) return false;
    this.assembling = false;
    handler(this.buffer, 0, total, typeId);
    return true;
  }

  private grow(atLeast: number): void {
    let length = this.buffer.length * 2;
    while (length < atLeast) length *= 2;
    const next = new Uint8Array(Math.min(length, this.maxMessageLength));
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }
}
