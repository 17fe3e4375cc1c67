/**
 * A zero-copy claim on space in the ring (Aeron's BufferClaim). One object per publication, reused by every
 * `tryClaim`, so claiming allocates nothing. Write the payload into `buffer[offset .. offset + length)`, then
 * `commit()` or `abort()` exactly once.
 */
import { ErrorCode, ShmringError } from './errors';

/** What a claim needs from its publication (kept off the publication's public API). */
export interface ClaimOwner {
  /** Commits the record at `recordOffset` (header included) whose payload is `payloadLength` bytes. */
  commit(recordOffset: number, payloadLength: number): void;
  /** Turns that record into padding. */
  abort(recordOffset: number, payloadLength: number): void;
}

export class Claim {
  /** The whole mapping; the claimed payload is `[offset, offset + length)`. */
  buffer: Uint8Array;
  /** Byte offset of the payload in `buffer`. */
  offset = 0;
  /** Payload bytes claimed. */
  length = 0;
  private recordOffset = -1;
  private readonly owner: ClaimOwner;

  /** @internal */
  constructor(buffer: Uint8Array, owner: ClaimOwner) {
    this.buffer = buffer;
    this.owner = owner;
  }

  /** True between `tryClaim` and `commit`/`abort`. */
  get isPending(): boolean {
    return this.recordOffset >= 0;
  }

  /** @internal Arms the claim for the record at `recordOffset` (header included). */
  arm(recordOffset: number, payloadOffset: number, length: number): this {
    this.recordOffset = recordOffset;
    this.offset = payloadOffset;
    this.length = length;
    return this;
  }

  /** Makes the record visible to consumers. Throws if the claim was already committed or aborted. */
  commit(): void {
    const recordOffset = this.recordOffset;
    if (recordOffset < 0) throw claimDone();
    this.recordOffset = -1;
    this.owner.commit(recordOffset, this.length);
  }

  /** Turns the claimed space into padding that consumers skip. Throws if already committed or aborted. */
  abort(): void {
    const recordOffset = this.recordOffset;
    if (recordOffset < 0) throw claimDone();
    this.recordOffset = -1;
    this.owner.abort(recordOffset, this.length);
  }
}

function claimDone(): ShmringError {
  return new ShmringError(ErrorCode.CLAIM_NOT_PENDING, 'claim is not pending: it was already committed or aborted');
}
