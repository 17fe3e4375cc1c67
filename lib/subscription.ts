/**
 * `Subscription`: the consumer side. Opening a ring picks the protocol from its header: a reliable ring gets a
 * `ReliableSubscription` (own slot, zero copy), a broadcast ring a `BroadcastSubscription` (copy + validate).
 */
import { BroadcastSubscription } from './broadcast-subscription';
import { ReliableSubscription } from './reliable-subscription';
import { receiveRingFd } from './ring-server';
import { openRingFromFd, openRingMemory, type NewRing, type OpenRingOptions } from './rings';
import type { StartFrom } from './subscription-base';

export interface SubscriptionOptions extends OpenRingOptions {
  /** 'latest' (default): messages published from now on; 'earliest': the oldest the ring still guarantees. */
  from?: StartFrom;
}

/** A consumer of a ring; narrow with `sub.mode`. */
export type Subscription = ReliableSubscription | BroadcastSubscription;

/** Misuse is refused before the ring is opened (an unknown value used to mean 'latest' silently). */
function checkFrom(from: unknown): void {
  if (from !== undefined && from !== 'latest' && from !== 'earliest') {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a misuse message shows what was passed, as String() does
    throw new TypeError(`from must be 'latest' or 'earliest': from=${String(from)}`);
  }
}

/** Joins `ring`; any failure (no free slot, a corrupt checkpoint...) closes its memory and fd. */
function subscriberFor(ring: NewRing, from: StartFrom | undefined): Subscription {
  try {
    return ring.descriptor.mode === 'broadcast'
      ? new BroadcastSubscription(ring.memory, ring.descriptor, from)
      : new ReliableSubscription(ring.memory, ring.descriptor, from);
  } catch (err) {
    ring.memory.close();
    throw err;
  }
}

/** Opens `/dev/shm/<name>` (O_NOFOLLOW, header validated) and joins it as a consumer. */
function open(name: string, options: SubscriptionOptions = {}): Subscription {
  checkFrom(options.from);
  return subscriberFor(openRingMemory(name, options), options.from);
}

/** Joins a ring from a file descriptor (e.g. a memfd received over a Unix socket or inherited from a parent). */
function fromFd(fd: number, options: SubscriptionOptions = {}): Subscription {
  checkFrom(options.from);
  return subscriberFor(openRingFromFd(fd, options), options.from);
}

/** Fetches a ring's fd from a producer's `pub.serve(socketPath)` and joins it. */
async function connect(
  socketPath: string,
  options: SubscriptionOptions & { connectTimeoutMs?: number } = {},
): Promise<Subscription> {
  const fd = await receiveRingFd(socketPath, options.connectTimeoutMs ?? 5000);
  return fromFd(fd, options);
}

export const Subscription = { open, fromFd, connect };
