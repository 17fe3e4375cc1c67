/**
 * `shmring list` and `shmring stat` against real rings made by real processes: a live producer, a dead one (a child
 * that exits without closing), a stalled consumer showing lag, a broadcast ring, and a file that is not a ring.
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
        lag: published,
        lagPercent: Math.round((published / (1 << 16)) * 1000) / 10,
        durable: null,
      },
    ]);

    const text = await shmring(['stat', 'prices', '--dir', dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`producer  alive, pid ${producer.pid}, state active, epoch 1, position ${published}`);
    const row = text.stdout.trimEnd().split('\n').at(-1)?.trim().split(/\s+/);
    expect(row).toEqual([
      `${stalled.slot}`,
      `${process.pid}`,
      'yes',
      'active',
      '0',
      `${published}`,
      `${state.consumers[0].lagPercent}`,
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
        lag: 0,
        lagPercent: 0,
        durable: null,
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

    const state = JSON.parse((await shmring(['stat', 'prices', '--json', '--dir', dir])).stdout) as RingState;
    expect(state.consumers).toEqual([
      {
        slot: stalled.slot,
        state: 'evicted',
        alive: true,
        pid: process.pid,
        position: 0,
        lag: null,
        lagPercent: null,
        durable: null,
      },
    ]);
    const text = await shmring(['stat', 'prices', '--dir', dir]);
    expect(text.stdout.trimEnd().split('\n').at(-1)?.trim().split(/\s+/)).toEqual([
      `${stalled.slot}`,
      `${process.pid}`,
      'yes',
      'evicted',
      '0',
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
