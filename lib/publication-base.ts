/**
 * What both producers share: the views of the mapping, the ring's geometry, the tail, waking sleeping consumers,
 * serving the ring over a socket, and the close sequence (publish what is pending, mark the ring closed, wake
 * everyone, unmap). The per-message protocol is the subclass's: `ReliablePublication`, `BroadcastPublication`.
 */
import { closedError } from './errors';
import * as L from './layout';
import { markProducerActive, markProducerClosed, type RingDescriptor, type RingMemory } from './ring-file';
import { RingEndpoint } from './ring-endpoint';
import { serveRing, type RingServer } from './ring-server';

const WAKE_SEQUENCE_INDEX = L.int32Index(L.WAKE_SEQUENCE_OFFSET);

export abstract class PublicationBase extends RingEndpoint {
  abstract readonly mode: 'reliable' | 'broadcast';
  readonly maxMessageLength: number;
  protected tailPosition = 0;
  protected closed = false;

  /** The caller holds the producer lock; the subclass finds its tail and then calls `start`. */
  protected constructor(memory: RingMemory, d: RingDescriptor) {
    super(memory, d);
    this.maxMessageLength = d.maxMessageLength;
  }

  /** The producer's position: bytes written since the ring was created. */
  get position(): number {
    return this.tailPosition;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Hands this ring's file descriptor to each consumer that connects to `socketPath` (for anonymous rings made by
   * `Publication.createAnonymous`; works for file rings too). Consumers join with `Subscription.connect`.
   */
  serve(socketPath: string): Promise<RingServer> {
    if (this.closed) throw closedError('publication');
    return serveRing(this.memory, socketPath);
  }

  /** Publishes what is pending, marks the ring closed (consumers see `producerClosed`), wakes them, unmaps. */
  close(): void {
    if (this.closed) return;
    this.flushBeforeClose();
    this.closed = true;
    markProducerClosed(this.i32);
    this.wakeConsumers();
    this.memory.close();
  }

  /** Continues from `tail` (recovered from the ring) and announces this producer in the header. */
  protected start(tail: number): void {
    this.tailPosition = tail;
    markProducerActive(this.i32);
  }

  /** Called once by `close()` while still open: make everything written visible. */
  protected abstract flushBeforeClose(): void;

  /** Wakes consumers sleeping on the futex word; called only when one announced that it sleeps, and at close. */
  protected wakeConsumers(): void {
    Atomics.add(this.i32, WAKE_SEQUENCE_INDEX, 1);
    this.memory.wake(L.WAKE_SEQUENCE_OFFSET);
  }
}
