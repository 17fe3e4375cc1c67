/**
 * Explicit resource management: `using` closes publications and subscriptions at the end of their block (also when
 * the block throws), `await using` closes a ring server. Each test checks the effect other processes would see (the
 * producer lock released, the consumer slot freed, the socket file gone), not only the object's own flag.
 *
 * vitest (esbuild) lowers `using` to try/finally, so this file runs on every supported Node line; the native syntax
 * (Node 24 and later) is exercised by scripts/check-package.js against the installed tarball.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OfferResult, Publication, Subscription, ringInfo } from '../../lib/index';
import { ErrorCode } from '../../lib/errors';
import { privateShmDir, thrown, uniqueName } from '../helpers/ring-env';

const MESSAGE = new Uint8Array([1, 2, 3, 4]);

function connectOutcome(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

describe('using with a reliable ring', () => {
  it('closes the publication at the end of the block, releasing the producer lock', () => {
    const name = uniqueName('using-pub');
    let escaped: ReturnType<typeof Publication.create> | undefined;
    {
      using pub = Publication.create(name, { capacity: 4096 });
      escaped = pub;
      expect(pub.offer(MESSAGE)).toBeGreaterThan(0);
      expect(ringInfo(name).producerAlive).toBe(true);
    }
    expect(escaped.isClosed).toBe(true);
    expect(escaped.offer(MESSAGE)).toBe(OfferResult.CLOSED);
    expect(ringInfo(name).producerAlive).toBe(false);
  });

  it('closes the subscription at the end of the block, freeing its consumer slot', () => {
    const name = uniqueName('using-sub');
    using pub = Publication.create(name, { capacity: 4096 });
    let escaped: ReturnType<typeof Subscription.open> | undefined;
    {
      using sub = Subscription.open(name, { from: 'earliest' });
      escaped = sub;
      pub.offer(MESSAGE);
      const received: number[][] = [];
      expect(sub.poll((buf, off, len) => received.push([...buf.subarray(off, off + len)]), 10)).toBe(1);
      expect(received).toEqual([[1, 2, 3, 4]]);
      expect(ringInfo(name).consumers.filter((c) => c.alive)).toHaveLength(1);
    }
    expect(escaped.isClosed).toBe(true);
    expect(thrown(() => escaped.poll(() => undefined)).code).toBe(ErrorCode.CLOSED);
    expect(ringInfo(name).consumers.filter((c) => c.alive)).toHaveLength(0);
  });

  it('closes both when the block throws, and the error still propagates', () => {
    const name = uniqueName('using-throw');
    const held: Array<{ readonly isClosed: boolean }> = [];
    expect(() => {
      using pub = Publication.create(name, { capacity: 4096 });
      using sub = Subscription.open(name);
      held.push(pub, sub);
      throw new Error('handler failed');
    }).toThrow('handler failed');
    expect(held.map((o) => o.isClosed)).toEqual([true, true]);
    expect(ringInfo(name).producerAlive).toBe(false);
  });
});

describe('using with a broadcast ring', () => {
  it('closes the transmitter and the receiver at the end of the block', () => {
    const name = uniqueName('using-broadcast');
    const held: Array<{ readonly isClosed: boolean }> = [];
    {
      using pub = Publication.create(name, { mode: 'broadcast', capacity: 4096 });
      using sub = Subscription.open(name);
      held.push(pub, sub);
      expect(pub.mode).toBe('broadcast');
      expect(sub.mode).toBe('broadcast');
      expect(ringInfo(name).producerAlive).toBe(true);
    }
    expect(held.map((o) => o.isClosed)).toEqual([true, true]);
    expect(ringInfo(name).producerAlive).toBe(false);
  });
});

describe('await using with a ring server', () => {
  it('stops listening and removes the socket file at the end of the block', async () => {
    const socketPath = path.join(privateShmDir('using-server'), 'ring.sock');
    using pub = Publication.createAnonymous({ capacity: 4096 });
    {
      await using server = await pub.serve(socketPath);
      expect(fs.existsSync(socketPath)).toBe(true);
      using sub = await Subscription.connect(socketPath, { from: 'earliest' });
      expect(server.served).toBe(1);
      pub.offer(MESSAGE);
      expect(sub.poll(() => undefined, 10)).toBe(1);
    }
    expect(fs.existsSync(socketPath)).toBe(false);
    expect(await connectOutcome(socketPath)).toBe('ENOENT');
  });
});

describe('using with a many-to-one ring', () => {
  it('closes the consumer and a producer at the end of their blocks: producers see the consumer gone', () => {
    const name = uniqueName('using-m2o');
    let consumer: ReturnType<typeof Subscription.create> | undefined;
    let producer: ReturnType<typeof Publication.open> | undefined;
    {
      using sub = Subscription.create(name, { mode: 'many-to-one', capacity: 4096 });
      consumer = sub;
      {
        using pub = Publication.open(name);
        producer = pub;
        expect(pub.offer(MESSAGE)).toBeGreaterThan(0);
        expect(sub.poll(() => undefined)).toBe(1);
      }
      expect(producer.isClosed).toBe(true);
      using watcher = Publication.open(name);
      expect(watcher.mode === 'many-to-one' && watcher.consumerAlive).toBe(true);
    }
    expect(consumer.isClosed).toBe(true);
    using after = Publication.open(name);
    expect(after.mode === 'many-to-one' && after.consumerAlive).toBe(false);
  });
});
