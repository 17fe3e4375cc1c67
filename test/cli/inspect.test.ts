/**
 * `shmring list` and `shmring stat` against real rings made by real processes: a live producer, a dead one (a child
 * that exits without closing), a stalled consumer showing lag, a broadcast ring, and a file that is not a ring; and
 * the counters the ring keeps moving in real scenarios: a back-pressured producer, an evicted stalled consumer, a
 * reaped dead consumer process, a lapped broadcast receiver that publishes its counters.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { Subscription, createRing, ringInfo, type ReliableSubscription } from '../../lib/index';
import * as L from '../../lib/layout';
import type { ListEntry } from '../../lib/cli/list';
import type { RingState } from '../../lib/cli/ring-state';
import { closeAfterTest, privateShmDir, waitFor } from '../helpers/ring-env';
import { command, shmring, startProducer, startShmring } from './cli-env';

/** Bytes a reliable ring uses for one message of `length` payload bytes. */
const recordBytes = (length: number): number => L.align(L.HEADER_LENGTH + length, L.RECORD_ALIGNMENT);

/** The cells of the last line of `stat`'s text (columns are two or more spaces apart; an age is `12 ms`). */
const lastRow = (stdout: string): string[] | undefined =>
  stdout
    .trimEnd()
    .split('\n')
    .at(-1)
    ?.trim()
    .split(/\s{2,}/);

const AGE = /^\d+ (ms|s|min)$/;
/** `expect.any(Number)`, typed (it is `any`, which the type-aware lint refuses in an object literal). */
const ANY_NUMBER = expect.any(Number) as unknown as number;

async function statJson(name: string, dir: string): Promise<RingState> {
  const result = await shmring(['stat', name, '--json', '--dir', dir]);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as RingState;
}

describe('shmring list', () => {
  it('lists a live producer, a dead one, a ring never produced and a file that is not a ring', async () => {
    const dir = privateShmDir('cli-list');
    const live = await startProducer('live', dir);
    const dead = await startProducer('dead', dir);
    await command(dead, 'send 3 x', 'sent');
    dead.send('die');
    await dead.exit();
    createRing('idle', { dir, capacity: 1 << 12 });
    fs.writeFileSync(path.join(dir, 'junk'), Buffer.alloc(L.PAGE_LENGTH, 7));

    const result = await shmring(['list', '--dir', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s{2,}/));
    expect(rows[0]).toEqual(['NAME', 'MODE', 'CAPACITY', 'PRODUCER', 'CONSUMERS', 'SIZE', 'STATUS']);
    expect(rows.slice(1)).toEqual([
      ['dead', 'reliable', '64 KiB', `dead ${dead.pid}`, '0/0', expect.any(String), 'stale'],
      ['idle', 'reliable', '4 KiB', 'none', '0/0', expect.any(String), 'stale'],
      ['junk', '-', '-', '-', '-', '4 KiB', expect.stringMatching(/^not a ring: .*bad magic/)],
      ['live', 'reliable', '64 KiB', `alive ${live.pid}`, '0/0', expect.any(String), 'in-use'],
    ]);
  });

  it('prints one JSON array with --json', async () => {
    const dir = privateShmDir('cli-list-json');
    const live = await startProducer('live', dir, { mode: 'broadcast' });
    closeAfterTest(Subscription.open('live', { dir }));
    fs.writeFileSync(path.join(dir, 'junk'), 'not a ring');

    const result = await shmring(['list', '--json', '--dir', dir]);
    expect(result.code).toBe(0);
    const entries = JSON.parse(result.stdout) as ListEntry[];
    expect(entries.map((e) => [e.name, e.status, e.mode, e.producer])).toEqual([
      ['junk', 'error', null, null],
      ['live', 'in-use', 'broadcast', { alive: true, pid: live.pid, state: 'active' }],
    ]);
    expect(entries[0].error).toMatch(/^not a ring/);
    expect(entries[1].size).toBe(fs.statSync(path.join(dir, 'live')).size);
  });
});

describe('shmring stat', () => {
  it("shows a stalled consumer's lag behind a live producer in bytes and % of capacity", async () => {
    const dir = privateShmDir('cli-stat');
    const producer = await startProducer('prices', dir, { capacity: 1 << 16 });
    const stalled = closeAfterTest(Subscription.open('prices', { dir, from: 'earliest' }) as ReliableSubscription);
    await command(producer, 'send 100 payload-of-some-length', 'sent');
    const published =
      10 * recordBytes('payload-of-some-length-0'.length) + 90 * recordBytes('payload-of-some-length-10'.length);

    const result = await shmring(['stat', 'prices', '--json', '--dir', dir]);
    expect(result.stderr).toBe('');
    const state = JSON.parse(result.stdout) as RingState;
    expect(state.producer).toMatchObject({
      alive: true,
      pid: producer.pid,
      state: 'active',
      epoch: 1,
      position: published,
    });
    expect(state.consumers).toEqual([
      {
        slot: stalled.slot,
        state: 'active',
        alive: true,
        pid: process.pid,
        position: 0,
        progressAt: ANY_NUMBER, // noted when it joined
        blockedSince: 0,
        lag: published,
        lagPercent: Math.round((published / (1 << 16)) * 1000) / 10,
        durable: null,
        sinceProgressMs: state.sampledAt - (state.consumers[0].progressAt as number),
        blockedMs: null,
      },
    ]);
    expect(state.consumers[0].progressAt).toBeGreaterThan(state.createdAt - 1);
    expect(state.consumers[0].sinceProgressMs).toBeGreaterThanOrEqual(0);

    const text = await shmring(['stat', 'prices', '--dir', dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`producer  alive, pid ${producer.pid}, state active, epoch 1, position ${published}`);
    expect(text.stdout).toContain('counters  back-pressure events 0, evicted consumers 0, reaped consumers 0');
    expect(lastRow(text.stdout)).toEqual([
      `${stalled.slot}`,
      `${process.pid}`,
      'yes',
      'active',
      '0',
      `${published}`,
      `${state.consumers[0].lagPercent}`,
      expect.stringMatching(AGE),
      '-',
    ]);
  });

  it('shows a consumer killed without closing as not alive, its slot still active (not yet reaped)', async () => {
    const dir = privateShmDir('cli-stat-dead-consumer');
    const producer = await startProducer('prices', dir);
    const consumer = startShmring(['tail', 'prices', '--dir', dir]); // tail is a consumer process like any other
    await waitFor('the consumer to join', () => ringInfo('prices', { dir }).consumers.some((c) => c.alive));
    await command(producer, 'send 3 x', 'sent');
    await consumer.line((l) => l === 'x-2');
    consumer.process.kill('SIGKILL');
    await consumer.exit();

    const state = JSON.parse((await shmring(['stat', 'prices', '--json', '--dir', dir])).stdout) as RingState;
    expect(state.consumers).toEqual([
      {
        slot: 0,
        state: 'active',
        alive: false,
        pid: consumer.process.pid,
        position: 3 * recordBytes(3),
        progressAt: ANY_NUMBER,
        blockedSince: 0,
        lag: 0,
        lagPercent: 0,
        durable: null,
        sinceProgressMs: null, // caught up: nothing to make progress on
        blockedMs: null,
      },
    ]);
    const listed = JSON.parse((await shmring(['list', '--json', '--dir', dir])).stdout) as ListEntry[];
    expect(listed[0]).toMatchObject({ name: 'prices', status: 'in-use', consumers: { alive: 0, total: 1 } });
  });

  it('shows an evicted consumer without a lag: the producer no longer waits for it', async () => {
    const dir = privateShmDir('cli-stat-evicted');
    const producer = await startProducer('prices', dir, { capacity: L.MIN_CAPACITY, evictionTimeoutMs: 50 });
    const stalled = closeAfterTest(Subscription.open('prices', { dir }) as ReliableSubscription);
    await command(producer, 'send 400 x', 'sent'); // 6.4 KB into a 4 KiB ring: back-pressured by the stalled consumer
    expect(await command(producer, 'push y 2000', 'pushed')).toBe('pushed {"ok":true}'); // evicts after 50 ms

    const state = await statJson('prices', dir);
    expect(state.consumers).toEqual([
      {
        slot: stalled.slot,
        state: 'evicted',
        alive: true,
        pid: process.pid,
        position: 0,
        progressAt: ANY_NUMBER,
        blockedSince: 0, // the producer no longer waits for it
        lag: null,
        lagPercent: null,
        durable: null,
        sinceProgressMs: null,
        blockedMs: null,
      },
    ]);
    expect(state.producer.counters).toEqual({
      backPressureEvents: ANY_NUMBER,
      evictedConsumers: 1,
      reapedConsumers: 0,
    });
    expect(state.producer.counters?.backPressureEvents).toBeGreaterThan(0);
    const text = await shmring(['stat', 'prices', '--dir', dir]);
    expect(text.stdout).toMatch(/^counters  back-pressure events \d+, evicted consumers 1, reaped consumers 0$/m);
    expect(lastRow(text.stdout)).toEqual([
      `${stalled.slot}`,
      `${process.pid}`,
      'yes',
      'evicted',
      '0',
      '-',
      '-',
      '-',
      '-',
    ]);
  });

  it('shows a producer that died without closing as dead, with its last pid and position', async () => {
    const dir = privateShmDir('cli-stat-dead');
    const producer = await startProducer('orders', dir);
    const sent = JSON.parse((await command(producer, 'send 5 order', 'sent')).slice(5)) as { position: number };
    producer.send('die');
    await producer.exit();

    const result = await shmring(['stat', 'orders', '--json', '--dir', dir]);
    const state = JSON.parse(result.stdout) as RingState;
    expect(state.producer).toMatchObject({ alive: false, state: 'active', pid: producer.pid, position: sent.position });
    const text = await shmring(['stat', 'orders', '--dir', dir]);
    expect(text.stdout).toContain(`producer  dead, pid ${producer.pid}, state active`);
    expect(text.stdout).toContain('consumers none');
  });

  it('counts the back-pressure events of a producer held back by a stalled consumer, and how long it blocks', async () => {
    const dir = privateShmDir('cli-stat-back-pressure');
    const producer = await startProducer('prices', dir, { capacity: L.MIN_CAPACITY }); // evicts after 10 s
    const stalled = closeAfterTest(Subscription.open('prices', { dir }) as ReliableSubscription);
    await command(producer, 'send 400 x', 'sent'); // 6.4 KB into a 4 KiB ring: the last ~150 offers are refused
    const first = await statJson('prices', dir);
    const refused = first.producer.counters?.backPressureEvents as number;
    expect(refused).toBeGreaterThan(100);
    expect(refused).toBeLessThan(400);
    expect(first.consumers[0].lagPercent).toBeGreaterThan(95);

    expect(await command(producer, 'push y 300', 'pushed')).toBe('pushed {"ok":false}');
    const second = await statJson('prices', dir);
    expect(second.producer.counters).toEqual({
      backPressureEvents: ANY_NUMBER,
      evictedConsumers: 0,
      reapedConsumers: 0,
    });
    expect(second.producer.counters?.backPressureEvents).toBeGreaterThan(refused);
    const blocking = second.consumers[0];
    expect(blocking.slot).toBe(stalled.slot);
    expect(blocking.blockedSince).toBeGreaterThan(0);
    expect(blocking.blockedMs).toBe(second.sampledAt - (blocking.blockedSince as number));

    const text = await shmring(['stat', 'prices', '--dir', dir]);
    expect(text.stdout).toMatch(/^counters  back-pressure events \d+, evicted consumers 0, reaped consumers 0$/m);
    expect(lastRow(text.stdout)?.slice(-2)).toEqual([expect.stringMatching(AGE), expect.stringMatching(AGE)]);
  });

  it('counts a dead consumer process the producer reaped, and no longer lists its slot', async () => {
    const dir = privateShmDir('cli-stat-reaped');
    const producer = await startProducer('prices', dir, { capacity: L.MIN_CAPACITY });
    const consumer = startShmring(['tail', 'prices', '--dir', dir]);
    await waitFor('the consumer to join', () => ringInfo('prices', { dir }).consumers.some((c) => c.alive));
    consumer.process.kill('SIGKILL');
    await consumer.exit();
    await command(producer, 'send 400 x', 'sent'); // held back by the dead consumer's slot
    expect(await command(producer, 'push y 2000', 'pushed')).toBe('pushed {"ok":true}'); // it reaps, then goes on

    const state = await statJson('prices', dir);
    expect(state.producer.counters).toEqual({
      backPressureEvents: ANY_NUMBER,
      evictedConsumers: 0,
      reapedConsumers: 1,
    });
    expect(state.consumers).toEqual([]);
    const text = await shmring(['stat', 'prices', '--dir', dir]);
    expect(text.stdout).toMatch(/^counters  back-pressure events \d+, evicted consumers 0, reaped consumers 1$/m);
  });

  it('shows the laps and lost bytes of a lapped broadcast receiver that publishes its counters', async () => {
    const dir = privateShmDir('cli-stat-lapped');
    const producer = await startProducer('ticks', dir, { mode: 'broadcast', capacity: L.MIN_CAPACITY });
    const receiver = closeAfterTest(Subscription.open('ticks', { dir, publishCounters: true }));
    const sent = JSON.parse((await command(producer, 'send 400 tick', 'sent')).slice(5)) as { position: number };
    receiver.poll(() => undefined, 1000);
    if (receiver.mode !== 'broadcast') throw new Error('expected a broadcast receiver');
    expect(receiver.lappedCount).toBeGreaterThan(0);

    const state = await statJson('ticks', dir);
    expect(state.producer.counters).toBeUndefined();
    expect(state.consumers).toEqual([
      {
        slot: receiver.slot,
        state: 'active',
        alive: true,
        pid: process.pid,
        position: receiver.position,
        durable: null,
        lappedCount: receiver.lappedCount,
        lostBytes: receiver.lostBytes,
        lag: sent.position - receiver.position,
        lagPercent: ANY_NUMBER,
      },
    ]);
    expect(receiver.lostBytes).toBeGreaterThan(0);

    const text = await shmring(['stat', 'ticks', '--dir', dir]);
    expect(text.stdout).toMatch(/^SLOT +PID +ALIVE +POSITION +LAG +LAPS +LOST$/m);
    expect(lastRow(text.stdout)).toEqual([
      `${receiver.slot}`,
      `${process.pid}`,
      'yes',
      `${receiver.position}`,
      `${sent.position - receiver.position}`,
      `${receiver.lappedCount}`,
      `${receiver.lostBytes}`,
    ]);
  });

  it("shows a broadcast ring's tail, tail-intent and latest counters", async () => {
    const dir = privateShmDir('cli-stat-broadcast');
    const producer = await startProducer('ticks', dir, { mode: 'broadcast' });
    const sent = JSON.parse((await command(producer, 'send 4 tick', 'sent')).slice(5)) as { position: number };

    const state = JSON.parse((await shmring(['stat', 'ticks', '--json', '--dir', dir])).stdout) as RingState;
    expect(state.mode).toBe('broadcast');
    expect(state.producer).toMatchObject({
      alive: true,
      position: sent.position,
      tailIntent: sent.position,
      latest: sent.position - recordBytes(6),
    });
    expect(state.consumers).toEqual([]);
  });
});
