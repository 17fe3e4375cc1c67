/**
 * `listRings` / `removeStaleRings` in a private tmpfs directory holding rings in every state: a live producer
 * (child), only a live consumer (child), a producer killed with SIGKILL, one closed cleanly with no users, plus
 * foreign files. Liveness comes from the kernel's OFD locks, so a SIGKILLed process counts as gone at once.
 *
 * Acceptable outcomes — exactly one: the listing names the four rings with these `producerAlive`/`stale` flags,
 * skips the foreign files except a look-alike of another layout version (listed with its error, not stale);
 * `removeStaleRings` spares everything while `olderThanMs` covers the rings' age, then removes exactly the
 * killed-producer and the closed ring and leaves the rest, foreign files included, untouched.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { createRing, listRings, Publication, removeStaleRings } from '../../lib/index';
import * as L from '../../lib/layout';
import { prng } from '../fixtures/ring/sequence';
import { privateShmDir, startChild } from '../helpers/ring-env';

describe('listRings / removeStaleRings', () => {
  it('lists rings by liveness and removes exactly the dead ones, never a foreign file', async () => {
    const dir = privateShmDir('stale');
    const capacity = 4096;

    const liveProducer = startChild('recovery/producer.js', {
      ring: 'live-producer',
      dir,
      create: true,
      capacity,
      seed: 1,
      tag: 1,
      count: 0,
      then: 'hold',
    });
    await liveProducer.report('holding');

    createRing('live-consumer', { dir, capacity });
    const liveConsumer = startChild('recovery/consumer.js', { ring: 'live-consumer', dir, seed: 1, style: 'idle' });
    await liveConsumer.report('joined');

    const killed = startChild('recovery/producer.js', {
      ring: 'killed-producer',
      dir,
      create: true,
      mode: 'broadcast',
      capacity,
      seed: 1,
      tag: 1,
      count: 0,
      then: 'hold',
    });
    await killed.report('holding');
    killed.signal('SIGKILL');
    await killed.exit(5_000);

    Publication.create('closed-cleanly', { dir, capacity }).close();

    const random = prng(0xf0e1);
    fs.writeFileSync(
      path.join(dir, 'foreign-random'),
      Uint8Array.from({ length: 8192 }, () => random() & 0xff),
    );
    fs.writeFileSync(path.join(dir, 'foreign-empty'), '');
    fs.writeFileSync(path.join(dir, 'foreign-short'), 'SHMR'); // the magic alone, in a too-short file
    // A page that starts like a ring of an unknown major version: listed with an error, never removed.
    const lookalike = Buffer.alloc(L.PAGE_LENGTH);
    lookalike.writeUInt32LE(L.MAGIC, L.MAGIC_OFFSET);
    lookalike.writeUInt32LE((L.VERSION_MAJOR + 1) << 16, L.VERSION_OFFSET);
    fs.writeFileSync(path.join(dir, 'foreign-lookalike'), lookalike);

    const listing = listRings({ dir }).map(({ name, mode, producerAlive, stale, error }) => ({
      name,
      mode,
      producerAlive,
      stale,
      error,
    }));
    listing.sort((a, b) => a.name.localeCompare(b.name));
    expect(listing).toEqual([
      { name: 'closed-cleanly', mode: 'reliable', producerAlive: false, stale: true, error: undefined },
      {
        name: 'foreign-lookalike',
        mode: null,
        producerAlive: false,
        stale: false,
        // The matcher stands for the string it checks (vitest types asymmetric matchers as any).
        error: expect.stringContaining(
          `incompatible ring layout: app=${L.VERSION_MAJOR}.${L.VERSION_MINOR} file=${L.VERSION_MAJOR + 1}.0`,
        ) as string,
      },
      { name: 'killed-producer', mode: 'broadcast', producerAlive: false, stale: true, error: undefined },
      { name: 'live-consumer', mode: 'reliable', producerAlive: false, stale: false, error: undefined },
      { name: 'live-producer', mode: 'reliable', producerAlive: true, stale: false, error: undefined },
    ]);

    expect(removeStaleRings({ dir, olderThanMs: 60_000 })).toEqual([]);
    expect(removeStaleRings({ dir }).sort()).toEqual(['closed-cleanly', 'killed-producer']);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'foreign-empty',
      'foreign-lookalike',
      'foreign-random',
      'foreign-short',
      'live-consumer',
      'live-producer',
    ]);
    // Both live users still hold their rings.
    expect(await liveProducer.aliveAfter(0)).toBe(true);
    expect(await liveConsumer.aliveAfter(0)).toBe(true);
  });
});
