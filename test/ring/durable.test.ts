/**
 * Durable consumers in one process (each `Subscription.open` is its own open file description, so the kernel locks
 * behave as between processes): a named slot that a clean close keeps, with its committed position; commit and
 * rewind; the name's uniqueness; eviction once away past durableTimeoutMs and what the next open says; removal.
 * The kill -9 cases run across processes in test/recovery/durable-consumer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as L from '../../lib/layout';
import {
  ErrorCode,
  Publication,
  ReliablePublication,
  removeStaleRings,
  ringInfo,
  Subscription,
  type ReliableSubscription,
  type SubscriptionOptions,
} from '../../lib/index';
import { closeAfterTest, privateShmDir, uniqueName } from '../helpers/ring-env';

const CAPACITY = 4096;

function message(seq: number, length = 24): Uint8Array {
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, seq, true);
  return bytes;
}

function open(name: string, options: SubscriptionOptions): ReliableSubscription {
  return closeAfterTest(Subscription.open(name, options) as ReliableSubscription);
}

/** Polls everything ready; returns the seq numbers delivered with their message positions. */
function drain(sub: ReliableSubscription, limit = 10): Array<[number, number]> {
  const got: Array<[number, number]> = [];
  const handler = (buffer: Uint8Array, offset: number, length: number): void => {
    got.push([new DataView(buffer.buffer, buffer.byteOffset + offset, length).getUint32(0, true), sub.messagePosition]);
  };
  while (sub.poll(handler, limit) > 0);
  return got;
}

function offerAll(pub: ReliablePublication, from: number, to: number): number[] {
  const positions: number[] = [];
  for (let seq = from; seq < to; seq++) {
    const position = pub.offer(message(seq));
    expect(position, `offer ${seq}`).toBeGreaterThan(0);
    positions.push(position);
  }
  return positions;
}

function thrown(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('Subscription.open with a durable name', () => {
  it('resumes at its committed position after a close, and the producer waits for it meanwhile', () => {
    const name = uniqueName('durable-resume');
    const pub = closeAfterTest(Publication.create(name, { capacity: CAPACITY }));
    const first = open(name, { durable: 'bridge-a', from: 'earliest' });
    expect(first.durable).toEqual({
      name: 'bridge-a',
      timeoutMs: 60_000,
      opened: 'created',
      evictedAt: null,
      evictedPosition: null,
    });
    const positions = offerAll(pub, 0, 10);
    // messagePosition is the position offer returned for the message.
    expect(drain(first)).toEqual(positions.map((p, seq) => [seq, p]));
    first.close();
    // Away, it still holds the producer back: a ring's worth of messages fits, no more.
    let offered = 10;
    while (pub.offer(message(offered)) > 0) offered++;
    expect(pub.position - positions[9]).toBeLessThanOrEqual(CAPACITY);
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 0 });
    const info = ringInfo(name).consumers;
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({ alive: false, state: 'active', position: positions[9] });
    expect(info[0].durable).toMatchObject({ name: 'bridge-a', timeoutMs: 60_000, evictedAt: null });
    expect(info[0].durable?.detachedSince).toBeGreaterThan(Date.now() - 5000);

    const again = open(name, { durable: 'bridge-a', from: 'latest' });
    expect(again.durable?.opened).toBe('resumed');
    expect(again.position).toBe(positions[9]);
    expect(drain(again).map(([seq]) => seq)).toEqual(Array.from({ length: offered - 10 }, (_, i) => 10 + i));
    expect(ringInfo(name).consumers[0].durable?.detachedSince).toBeNull();
  });

  it('refuses a second live open of the same name, and an ordinary consumer never takes a durable slot', () => {
    const name = uniqueName('durable-unique');
    closeAfterTest(Publication.create(name, { capacity: CAPACITY, maxConsumers: 2 }));
    const holder = open(name, { durable: 'one' });
    const err = thrown(() => Subscription.open(name, { durable: 'one' }));
    expect(err.code).toBe(ErrorCode.DURABLE_IN_USE);
    expect(err.message).toBe(
      `durable consumer "one" is attached to a live process (slot ${holder.slot}): one process at a time`,
    );
    holder.close();
    // Two slots: the detached durable one is kept, so one ordinary consumer fits and a second does not.
    open(name, {});
    const full = thrown(() => Subscription.open(name));
    expect(full.code).toBe(ErrorCode.NO_CONSUMER_SLOT);
    expect(full.message).toBe(
      'all consumer slots are taken by live consumers: maxConsumers=2 (1 of them kept by durable consumers that are away: Subscription.removeDurable frees one)',
    );
    expect(open(name, { durable: 'one' }).durable?.opened).toBe('resumed');
  });

  it('with autoCommit false, publishes only what commit() says, and rewind() delivers the rest again', () => {
    const name = uniqueName('durable-commit');
    const pub = closeAfterTest(Publication.create(name, { capacity: CAPACITY }));
    const sub = open(name, { durable: 'manual', autoCommit: false, from: 'earliest' });
    const start = sub.committedPosition;
    const positions = offerAll(pub, 0, 6);
    expect(drain(sub).map(([seq]) => seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sub.committedPosition).toBe(start);
    expect(ringInfo(name).consumers[0].position).toBe(start);
    expect(sub.commit(positions[2])).toBe(positions[2]);
    expect(ringInfo(name).consumers[0].position).toBe(positions[2]);
    expect(sub.commit(positions[1])).toBe(positions[2]); // older acknowledgements change nothing
    expect(() => sub.commit(positions[3] + 8)).toThrow(RangeError);
    expect(() => sub.commit(positions[5] + 8)).toThrow(
      `position must be an integer at most the delivered ${positions[5]}: position=${positions[5] + 8}`,
    );
    expect(sub.rewind()).toBe(positions[2]);
    expect(drain(sub).map(([seq]) => seq)).toEqual([3, 4, 5]);
    sub.close();
    const again = open(name, { durable: 'manual', autoCommit: false });
    expect(again.position).toBe(positions[2]);
    expect(drain(again).map(([seq]) => seq)).toEqual([3, 4, 5]);
    expect(again.commit()).toBe(positions[5]);
  });

  it('never publishes a position inside a fragmented message', () => {
    const name = uniqueName('durable-fragments');
    const pub = closeAfterTest(Publication.create(name, { capacity: 16384, maxFramePayload: 64 }));
    const sub = open(name, { durable: 'frag', from: 'earliest' });
    const start = sub.position;
    const big = new Uint8Array(2000).fill(7); // 32 frames
    const end = pub.offer(big);
    // A poll's budget (limit + 16 records) stops inside the message: the published position stays at its start.
    expect(sub.poll(() => undefined, 1)).toBe(0);
    expect(sub.position).toBeGreaterThan(start);
    expect(sub.committedPosition).toBe(start);
    sub.close();
    const again = open(name, { durable: 'frag' });
    const lengths: number[] = [];
    while (again.poll((_b, _o, length) => lengths.push(length), 10) === 0 && again.position < end);
    expect(lengths).toEqual([2000]);
    expect(again.droppedFragments).toBe(0);
    expect(again.committedPosition).toBe(end);
  });

  it('is evicted once away past durableTimeoutMs while it holds the producer back; the next open says so', async () => {
    const name = uniqueName('durable-expire');
    const pub = closeAfterTest(Publication.create(name, { capacity: CAPACITY }));
    const sub = open(name, { durable: 'slow', durableTimeoutMs: 200 });
    const left = sub.position;
    sub.close();
    const closedAt = Date.now();
    let seq = 0;
    const deadline = Date.now() + 5000;
    for (;;) {
      if (pub.offer(message(seq)) > 0) seq++;
      else await new Promise((resolve) => setTimeout(resolve, 2));
      if (pub.stats.evictedConsumers === 1 || Date.now() > deadline) break;
    }
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 1 });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(200);
    const [slot] = ringInfo(name).consumers;
    expect(slot.state).toBe('evicted');
    expect(slot.durable?.evictedAt).toBeGreaterThanOrEqual(closedAt + 200);
    const err = thrown(() => Subscription.open(name, { durable: 'slow', durableTimeoutMs: 200 }));
    expect(err.code).toBe(ErrorCode.EVICTED);
    expect(err.message).toMatch(/^durable consumer "slow" was evicted by the producer at \d{4}-.*Z \(away longer/);
    expect(err.message).toContain(`messages after position ${left} were lost to it`);
    // Still evicted: the error repeats until the consumer accepts the loss.
    expect(thrown(() => Subscription.open(name, { durable: 'slow' })).code).toBe(ErrorCode.EVICTED);
    const restarted = open(name, { durable: 'slow', onEvicted: 'restart', from: 'latest' });
    expect(restarted.durable).toMatchObject({ opened: 'restarted', evictedPosition: left });
    expect(restarted.durable?.evictedAt).toBe(slot.durable?.evictedAt);
    expect(restarted.position).toBe(pub.position);
    expect(pub.offer(message(1))).toBeGreaterThan(0);
    expect(drain(restarted).map(([s]) => s)).toEqual([1]);
  });

  it('is evicted like any consumer when it stalls while attached; its next open says when', async () => {
    const name = uniqueName('durable-stall');
    const pub = closeAfterTest(Publication.create(name, { capacity: CAPACITY, evictionTimeoutMs: 100 }));
    const sub = open(name, { durable: 'stalled' });
    const before = Date.now();
    const deadline = before + 5000;
    while (pub.stats.evictedConsumers === 0 && Date.now() < deadline) {
      if (pub.offer(message(0)) < 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(pub.stats).toEqual({ reapedConsumers: 0, evictedConsumers: 1 });
    expect(thrown(() => sub.poll(() => undefined)).code).toBe(ErrorCode.EVICTED);
    sub.close();
    const err = thrown(() => Subscription.open(name, { durable: 'stalled' }));
    expect(err.code).toBe(ErrorCode.EVICTED);
    const evictedAt = ringInfo(name).consumers[0].durable?.evictedAt ?? 0;
    expect(evictedAt).toBeGreaterThanOrEqual(before + 100);
    expect(err.message).toContain(`evicted by the producer at ${new Date(evictedAt).toISOString()}`);
  });

  it('is deleted by Subscription.removeDurable, unless attached', () => {
    const name = uniqueName('durable-remove');
    closeAfterTest(Publication.create(name, { capacity: CAPACITY }));
    const sub = open(name, { durable: 'gone' });
    expect(thrown(() => Subscription.removeDurable(name, 'gone')).code).toBe(ErrorCode.DURABLE_IN_USE);
    sub.close();
    expect(Subscription.removeDurable(name, 'gone')).toBe(true);
    expect(Subscription.removeDurable(name, 'gone')).toBe(false);
    expect(ringInfo(name).consumers).toEqual([]);
    expect(open(name, { durable: 'gone' }).durable?.opened).toBe('created');
  });

  it('keeps its ring from removeStaleRings while it is away and not evicted', () => {
    const dir = privateShmDir('durable-gc');
    const pub = Publication.create('kept', { dir, capacity: CAPACITY });
    Subscription.open('kept', { dir, durable: 'later' }).close();
    pub.close();
    expect(removeStaleRings({ dir })).toEqual([]);
    expect(Subscription.removeDurable('kept', 'later', { dir })).toBe(true);
    expect(removeStaleRings({ dir })).toEqual(['kept']);
  });

  it('checks its options before opening anything', () => {
    expect(() => Subscription.open('x', { durable: '' })).toThrow(
      'durable must be 1 to 64 UTF-8 bytes without NUL: durable=""',
    );
    expect(() => Subscription.open('x', { durable: 'é'.repeat(33) })).toThrow(RangeError);
    expect(() => Subscription.open('x', { durable: 'a', durableTimeoutMs: 0 })).toThrow(
      'durableTimeoutMs must be an integer in [1, 2147483647]: durableTimeoutMs=0',
    );
    expect(() => Subscription.open('x', { durableTimeoutMs: 5 })).toThrow(
      'durableTimeoutMs and onEvicted need a durable name: durable=undefined',
    );
    expect(() => Subscription.open('x', { durable: 'a', onEvicted: 'later' as 'throw' })).toThrow(
      "onEvicted must be 'throw' or 'restart': onEvicted=later",
    );
    expect(() => Subscription.open('x', { autoCommit: 1 as unknown as boolean })).toThrow(
      'autoCommit must be a boolean: autoCommit=1',
    );
    const name = uniqueName('durable-broadcast');
    closeAfterTest(Publication.create(name, { capacity: CAPACITY, mode: 'broadcast' }));
    expect(thrown(() => Subscription.open(name, { durable: 'a' })).code).toBe(ErrorCode.INVALID_STATE);
    expect(L.DURABLE_NAME_MAX_LENGTH).toBe(64);
  });
});
