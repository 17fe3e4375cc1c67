/**
 * `Publication`: the producer side. A reliable ring gets a `ReliablePublication` (back-pressure, fragmentation,
 * zero-copy claims); a broadcast ring a `BroadcastPublication` (Agrona's transmitter, never waits).
 */
import { BroadcastPublication } from './broadcast-publication';
import { ReliablePublication, type ProducerOptions } from './reliable-publication';
import {
  createAnonymousRingMemory,
  createRingMemory,
  lockProducer,
  openRingMemory,
  unlinkRing,
  type CreateRingOptions,
  type LocationOptions,
  type NewRing,
  type OpenRingOptions,
} from './rings';

export type PublicationOptions = CreateRingOptions & ProducerOptions;
export type AttachOptions = OpenRingOptions & ProducerOptions;

/** The producer of a ring; narrow with `pub.mode`. */
export type Publication = ReliablePublication | BroadcastPublication;

/** Refuses bad producer options before any file is created or opened (they used to be taken as they came). */
function checkProducerOptions(options: ProducerOptions): void {
  const timeout = options.evictionTimeoutMs;
  if (timeout === undefined) return;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
    throw new TypeError(`evictionTimeoutMs must be a number: evictionTimeoutMs=${String(timeout)}`);
  }
  if (timeout < 0) throw new RangeError(`evictionTimeoutMs must be >= 0: evictionTimeoutMs=${timeout}`);
}

/**
 * Becomes the producer of `ring`, whose producer lock the caller holds. Any failure (a corrupt checkpoint...) closes
 * the memory, and with its fd the lock: a failed attach must not leave the ring looking produced until exit.
 */
function producerFor(ring: NewRing, options: ProducerOptions): Publication {
  try {
    return ring.descriptor.mode === 'broadcast'
      ? new BroadcastPublication(ring.memory, ring.descriptor)
      : new ReliablePublication(ring.memory, ring.descriptor, options);
  } catch (err) {
    ring.memory.close();
    throw err;
  }
}

function create(name: string, options: PublicationOptions & { mode: 'broadcast' }): BroadcastPublication;
function create(name: string, options?: PublicationOptions & { mode?: 'reliable' }): ReliablePublication;
function create(name: string, options?: PublicationOptions): Publication;
/** Creates `/dev/shm/<name>` (mode 0600, fails with EEXIST if it exists) and becomes its producer. */
function create(name: string, options: PublicationOptions = {}): Publication {
  checkProducerOptions(options);
  return producerFor(createRingMemory(name, options, true), options);
}

/**
 * Becomes the producer of an existing ring: one created with `createRing`, or one whose producer died (a record
 * it claimed but never committed is overwritten; everything committed stays). Throws ERR_SHMRING_PRODUCER_EXISTS
 * while another producer lives.
 */
function attach(name: string, options: AttachOptions = {}): Publication {
  checkProducerOptions(options);
  const ring = openRingMemory(name, options);
  lockProducer(ring);
  return producerFor(ring, options);
}

function createAnonymous(options: PublicationOptions & { mode: 'broadcast' }): BroadcastPublication;
function createAnonymous(options?: PublicationOptions & { mode?: 'reliable' }): ReliablePublication;
/** Creates a ring in a sealed memfd: no file, freed when the last process closes it; share it with `pub.serve`. */
function createAnonymous(options: PublicationOptions = {}): Publication {
  checkProducerOptions(options);
  return producerFor(createAnonymousRingMemory(options), options);
}

/** Removes a ring's file (see `unlinkRing`). */
function unlink(name: string, options: LocationOptions = {}): void {
  unlinkRing(name, options);
}

export const Publication = { create, attach, createAnonymous, unlink };
