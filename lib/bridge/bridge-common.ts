/**
 * What both bridge directions share: their options, the handle they return, and the NATS headers a bridged message
 * carries.
 */
import type { StartFrom } from '../subscription-base';
import type { BridgeStats } from './bridge-status';

/** NATS header names set by `bridgeOut` (and read by `bridgeIn`). */
export const Header = {
  /** The ring's name. */
  RING: 'Shmring-Ring',
  /** The ring's identity: name, creation time and creator pid (a ring re-created under the same name differs). */
  RING_ID: 'Shmring-Ring-Id',
  /** The ring position just past the message (unique per ring, growing). */
  POSITION: 'Shmring-Position',
  /** The message's type id in the ring. */
  TYPE_ID: 'Shmring-Type-Id',
  /**
   * Core NATS: the position of the message bridge out published before this one. A receiver whose last message had
   * another position knows messages were lost on the way (NATS down, a slow subscriber) and counts the gap.
   */
  PREVIOUS: 'Shmring-Previous',
} as const;

/** Options of both directions. */
export interface BridgeCommonOptions {
  /** The local ring's name. */
  ring: string;
  /** Directory of ring files. Default '/dev/shm'. */
  dir?: string;
  /** NATS server URL(s), e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
  /** The NATS subject messages are published to / taken from. */
  subject: string;
  /** When no NATS server answers at start: keep trying with back-off (true) or fail at once (default). */
  retry?: boolean;
  /** Where a new ring consumer starts (bridgeOut). Default 'earliest' (reliable), 'latest' (broadcast). */
  from?: StartFrom;
  /** Keep a status file next to the ring for `shmring stat` (the CLI sets it). Default false. */
  statusFile?: boolean;
  /** Called with a one-line description of notable events (connection lost, retries...). */
  onEvent?: (event: string) => void;
}

/** A running bridge. */
export interface Bridge {
  /** Live counters. */
  readonly stats: BridgeStats;
  /** Settles when the bridge stops: resolves after `close()`, rejects with what stopped it otherwise. */
  readonly done: Promise<void>;
  /** Stops the bridge: finishes the message in hand, leaves the ring (a durable consumer keeps its place), closes NATS. */
  close(): Promise<void>;
}

/** A ring's identity for message ids: a ring re-created under the same name gets new ids. */
export function ringIdOf(name: string, createdAt: number, creatorPid: number): string {
  return `${name}@${createdAt}.${creatorPid}`;
}
