/**
 * A read-only snapshot of a ring for `shmring list` and `stat`: what `ringInfo` reports, plus what the header holds
 * and `ringInfo` does not show (the reliable producer's tail found by walking committed records from its
 * checkpoint, the broadcast trailer's three counters), and each consumer's lag. Joins nothing, takes no lock, writes
 * nothing. Offsets come from `lib/layout.ts`.
 */
import { readStatuses, type BridgeStatus } from '../bridge/bridge-status';
import { readUpstreamMark, type UpstreamMark } from '../bridge/upstream-sequence';
import * as L from '../layout';
import { loadPosition } from '../position';
import { WalkStop, walkCommittedRecords } from '../record-walk';
import {
  openRingMemory,
  ringInfo,
  type ConsumerInfo,
  type OpenRingOptions,
  type ProducerCounters,
  type RingInfo,
} from '../rings';

/**
 * A consumer slot in use with its lag behind the producer's tail: a reliable consumer, or a broadcast receiver that
 * publishes its counters (`lappedCount`, `lostBytes`).
 */
export interface ConsumerState extends ConsumerInfo {
  /**
   * Bytes published and not yet consumed: producer position − consumer position. Null for an evicted consumer: the
   * producer no longer waits for it (its next poll throws ERR_SHMRING_EVICTED).
   */
  lag: number | null;
  /** `lag` as a percentage of the capacity (100 = the producer is blocked by this consumer); null when evicted. */
  lagPercent: number | null;
  /**
   * Reliable: ms since the consumer last noted progress (`progressAt`), while it has something to read; null when it
   * is caught up (lag 0), evicted, or never noted any.
   */
  sinceProgressMs?: number | null;
  /** Reliable: ms it has held the back-pressured producer back without moving; null when it does not. */
  blockedMs?: number | null;
}

/** The producer's side of a snapshot. */
export interface ProducerState {
  /** The producer's kernel lock is held. */
  alive: boolean;
  /** From the header: 'none' (never attached), 'active', or 'closed' (closed cleanly). */
  state: RingInfo['producerState'];
  pid: number;
  epoch: number;
  /**
   * Bytes published. Reliable: the tail, walked from the checkpoint over committed records (the checkpoint if the
   * walk met anything odd); broadcast: the tail counter.
   */
  position: number;
  /** Reliable: the tail checkpoint the producer last wrote (at a limit refresh or close). */
  checkpoint?: number;
  /** Broadcast: the tail-intent counter (ahead of `position` while a record is being written). */
  tailIntent?: number;
  /** Broadcast: the start of the latest record. */
  latest?: number;
  /** Reliable: the counters line of the header (back-pressure events, evictions, reaped consumers). */
  counters?: ProducerCounters;
}

/** One sample of a ring's state. */
export interface RingState {
  name: string;
  path: string;
  /** When the sample was taken, ms since the epoch. */
  sampledAt: number;
  mode: RingInfo['mode'];
  version: string;
  capacity: number;
  maxMessageLength: number;
  maxFramePayload: number;
  maxConsumers: number;
  fileLength: number;
  createdAt: number;
  creatorPid: number;
  producer: ProducerState;
  consumers: ConsumerState[];
  /** Reliable: the upstream sequence a NATS bridge (bridgeIn) last committed into the ring, or null (docs/bridge.md). */
  upstream: Omit<UpstreamMark, 'slot'> | null;
  /** Bridges running (or killed: their pid is gone) on this ring, from their status files. */
  bridges: BridgeStatus[];
}

/** Samples the ring `name` (throws what `ringInfo` throws: ENOENT, ERR_SHMRING_NOT_A_RING, ...). */
export function readRingState(name: string, options: OpenRingOptions): RingState {
  const info = ringInfo(name, options);
  const sampledAt = Date.now();
  const { upstream, ...extra } = readProducerCounters(name, options, info);
  const position = extra.position;
  return {
    name,
    path: info.path ?? name,
    sampledAt,
    mode: info.mode,
    version: info.version,
    capacity: info.capacity,
    maxMessageLength: info.maxMessageLength,
    maxFramePayload: info.maxFramePayload,
    maxConsumers: info.maxConsumers,
    fileLength: info.fileLength,
    createdAt: info.createdAt,
    creatorPid: info.creatorPid,
    producer: {
      alive: info.producerAlive,
      state: info.producerState,
      pid: info.producerPid,
      epoch: info.producerEpoch,
      ...extra,
      ...(info.counters === undefined ? {} : { counters: info.counters }),
    },
    consumers: info.consumers.map((c) => consumerState(c, info, position, sampledAt)),
    upstream,
    bridges: readStatuses(options.dir ?? '/dev/shm', name),
  };
}

function consumerState(c: ConsumerInfo, info: RingInfo, position: number, sampledAt: number): ConsumerState {
  const reliable = info.mode === 'reliable';
  if (c.state === 'evicted') {
    return { ...c, lag: null, lagPercent: null, ...(reliable ? { sinceProgressMs: null, blockedMs: null } : {}) };
  }
  const lag = Math.max(0, position - c.position);
  const state: ConsumerState = { ...c, lag, lagPercent: Math.round((lag / info.capacity) * 1000) / 10 };
  if (reliable) {
    const since = (time: number | null | undefined): number | null =>
      typeof time === 'number' && time > 0 ? Math.max(0, sampledAt - time) : null;
    state.sinceProgressMs = lag === 0 ? null : since(c.progressAt);
    state.blockedMs = since(c.blockedSince);
  }
  return state;
}

/** Reads the counters `ringInfo` does not return. */
function readProducerCounters(
  name: string,
  options: OpenRingOptions,
  info: RingInfo,
): Pick<ProducerState, 'position' | 'checkpoint' | 'tailIntent' | 'latest'> & { upstream: RingState['upstream'] } {
  const ring = openRingMemory(name, options);
  try {
    const i32 = new Int32Array(ring.memory.buffer);
    if (info.mode === 'broadcast') {
      const trailer = L.broadcastTrailerOffset(info.dataOffset, info.capacity);
      return {
        position: loadPosition(i32, L.int32Index(trailer + L.TAIL_COUNTER_OFFSET)),
        tailIntent: loadPosition(i32, L.int32Index(trailer + L.TAIL_INTENT_COUNTER_OFFSET)),
        latest: loadPosition(i32, L.int32Index(trailer + L.LATEST_COUNTER_OFFSET)),
        upstream: null,
      };
    }
    if (info.mode === 'many-to-one') return { position: info.producerPosition, upstream: null };
    const checkpoint = loadPosition(i32, L.int32Index(L.TAIL_CHECKPOINT_OFFSET));
    // Every active consumer's position and the checkpoint are record boundaries at or behind the tail; the furthest
    // of them is the shortest walk.
    const start = info.consumers.reduce((p, c) => (c.state === 'active' ? Math.max(p, c.position) : p), checkpoint);
    // Holding no slot, the walk races the producer: anything odd (a length that cannot be, a walk longer than a
    // ring) shows `start` instead.
    const walk = walkCommittedRecords(i32, info.dataOffset, info.capacity, start);
    const position = walk.stop === WalkStop.TAIL ? walk.position : start;
    const mark = readUpstreamMark(ring.memory.buffer, position);
    const upstream =
      mark === null ? null : { upstreamId: mark.upstreamId, sequence: mark.sequence, endPosition: mark.endPosition };
    return { position, checkpoint, upstream };
  } finally {
    ring.memory.close();
  }
}
