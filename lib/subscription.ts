/**
 * `Subscription`: the consumer side. Opening a ring picks the protocol from its header: a reliable ring gets a
 * `ReliableSubscription` (own slot, zero copy), a broadcast ring a `BroadcastSubscription` (copy + validate), a
 * many-to-one ring a `ManyToOneSubscription` (its only consumer, zero copy).
 */
import { BroadcastSubscription } from './broadcast-subscription';
import { durableRequest, removeDurableSlot, type DurableOptions, type DurableRequest } from './durable-consumer';
import { ErrorCode, ShmringError } from './errors';
import { ManyToOneSubscription, type ManyToOneConsumerOptions } from './many-to-one-subscription';
import { ReliableSubscription } from './reliable-subscription';
import { receiveRingFd } from './ring-server';
import {
  createRingMemory,
  openRingFromFd,
  openRingMemory,
  unlinkRing,
  type CreateRingOptions,
  type NewRing,
  type OpenRingOptions,
} from './rings';
import type { StartFrom } from './subscription-base';

export interface SubscriptionOptions extends OpenRingOptions, DurableOptions, ManyToOneConsumerOptions {
  /**
   * 'latest' (default): messages published from now on; 'earliest': the oldest the ring still guarantees. A durable
   * consumer that resumes ignores it; a many-to-one consumer always reads from the consumer position the ring holds.
   */
  from?: StartFrom;
  /**
   * Reliable rings: true (default) publishes the position after each `poll` batch; false only in `sub.commit()`, so
   * that what was delivered and not committed is delivered again after a restart (or `sub.rewind()`).
   */
  autoCommit?: boolean;
  /**
   * Broadcast rings: take a slot of the ring's receiver table and publish this receiver's position, laps and lost
   * bytes there, for `ringInfo` and `shmring stat` (one atomic store per poll that moves). Default false. A reliable
   * consumer always has a slot.
   */
  publishCounters?: boolean;
}

/** Options of `Subscription.create`: a new many-to-one ring and its consumer. */
export type CreateSubscriptionOptions = CreateRingOptions & ManyToOneConsumerOptions & { mode: 'many-to-one' };

/** A consumer of a ring; narrow with `sub.mode`. */
export type Subscription = ReliableSubscription | BroadcastSubscription | ManyToOneSubscription;

/** Misuse is refused before the ring is opened (an unknown value used to mean 'latest' silently). */
function checkFrom(from: unknown): void {
  if (from !== undefined && from !== 'latest' && from !== 'earliest') {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a misuse message shows what was passed, as String() does
    throw new TypeError(`from must be 'latest' or 'earliest': from=${String(from)}`);
  }
}

/** Validates the options before the ring is opened. */
function checkOptions(options: SubscriptionOptions): DurableRequest | null {
  checkFrom(options.from);
  if (options.autoCommit !== undefined && typeof options.autoCommit !== 'boolean') {
    throw new TypeError(`autoCommit must be a boolean: autoCommit=${String(options.autoCommit)}`);
  }
  if (options.publishCounters !== undefined && typeof options.publishCounters !== 'boolean') {
    throw new TypeError(`publishCounters must be a boolean: publishCounters=${String(options.publishCounters)}`);
  }
  return durableRequest(options);
}

/** Joins `ring`; any failure (no free slot, a corrupt checkpoint...) closes its memory and fd. */
function subscriberFor(ring: NewRing, options: SubscriptionOptions, durable: DurableRequest | null): Subscription {
  try {
    if (ring.descriptor.mode !== 'reliable' && (durable !== null || options.autoCommit === false)) {
      throw new ShmringError(
        ErrorCode.INVALID_STATE,
        `durable consumers and autoCommit: false need a reliable ring, this one is ${ring.descriptor.mode}: ` +
          `${ring.memory.path}`,
      );
    }
    if (ring.descriptor.mode === 'many-to-one') return new ManyToOneSubscription(ring.memory, ring.descriptor, options);
    if (ring.descriptor.mode === 'broadcast') {
      return new BroadcastSubscription(ring.memory, ring.descriptor, options.from, options.publishCounters === true);
    }
    return new ReliableSubscription(ring.memory, ring.descriptor, options.from, {
      durable,
      autoCommit: options.autoCommit,
    });
  } catch (err) {
    ring.memory.close();
    throw err;
  }
}

/**
 * Opens `/dev/shm/<name>` (O_NOFOLLOW, header validated) and joins it as a consumer. On a many-to-one ring it
 * becomes the only consumer (ERR_SHMRING_NO_CONSUMER_SLOT while another one lives), taking over from a dead one.
 */
function open(name: string, options: SubscriptionOptions = {}): Subscription {
  const durable = checkOptions(options);
  return subscriberFor(openRingMemory(name, options), options, durable);
}

function create(name: string, options: CreateSubscriptionOptions): ManyToOneSubscription;
/**
 * Creates `/dev/shm/<name>` as a many-to-one ring (mode 0600, fails with EEXIST if it exists; the rules of
 * `Publication.create`) and becomes its only consumer. Producers join with `Publication.open`.
 */
function create(name: string, options: CreateSubscriptionOptions): Subscription {
  if (options?.mode !== 'many-to-one') {
    throw new TypeError(`Subscription.create makes many-to-one rings: mode=${String(options?.mode)}`);
  }
  const ring = createRingMemory(name, options, false);
  try {
    return new ManyToOneSubscription(ring.memory, ring.descriptor, options);
  } catch (err) {
    ring.memory.close();
    unlinkRing(name, options);
    throw err;
  }
}

/** Joins a ring from a file descriptor (e.g. a memfd received over a Unix socket or inherited from a parent). */
function fromFd(fd: number, options: SubscriptionOptions = {}): Subscription {
  const durable = checkOptions(options);
  return subscriberFor(openRingFromFd(fd, options), options, durable);
}

/**
 * Deletes durable consumer `durable` of ring `name`: its slot and position are freed. Returns false when the ring has
 * no such durable consumer; throws ERR_SHMRING_DURABLE_IN_USE while a process is attached to it.
 */
function removeDurable(name: string, durable: string, options: OpenRingOptions = {}): boolean {
  const request = durableRequest({ durable }) as DurableRequest;
  const ring = openRingMemory(name, options);
  try {
    if (ring.descriptor.mode !== 'reliable') return false;
    return removeDurableSlot(ring.memory, ring.descriptor.maxConsumers, request);
  } finally {
    ring.memory.close();
  }
}

/** Fetches a ring's fd from a producer's `pub.serve(socketPath)` and joins it. */
async function connect(
  socketPath: string,
  options: SubscriptionOptions & { connectTimeoutMs?: number } = {},
): Promise<Subscription> {
  const fd = await receiveRingFd(socketPath, options.connectTimeoutMs ?? 5000);
  return fromFd(fd, options);
}

export const Subscription = { create, open, fromFd, connect, removeDurable };
