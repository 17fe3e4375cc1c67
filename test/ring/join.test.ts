/**
 * Joining a reliable ring whose producer is already publishing. A consumer registers at the producer's tail
 * checkpoint (which may lag the tail by almost a whole ring) and, from 'latest', walks to the tail: the position it
 * starts from must be the position the producer sees, or the producer waits for a consumer that waits for it.
 *
 * Acceptable outcomes:
 *   ACCEPTABLE  every join delivers consecutive messages (no gap, no repeat) within a second, and the producer is
 *               never held back long enough to evict the consumer.
 *   FORBIDDEN   a join that delivers nothing (both sides stalled), ERR_SHMRING_EVICTED, a gap in the sequence.
 */
import { describe, expect, it } from 'vitest';
import { Publication, Subscription, ringInfo, type ReliableSubscription } from '../../lib/index';
import type { Run } from '../fixtures/ring/sequence';
import { closeAfterTest, sleep, startChild, uniqueName } from '../helpers/ring-env';
import * as sequence from '../fixtures/ring/sequence';

const SEED = Number(process.env.SHMRING_TEST_SEED ?? 0x10124);

describe('ReliableSubscription joining from the latest record', () => {
  it('publishes the position it starts from, not the checkpoint it registered at', () => {
    const name = uniqueName('join-position');
    const pub = closeAfterTest(Publication.create(name, { capacity: 65536 }));
    // The first offer refreshes the limit (checkpoint 0); the next ones take the fast path and leave it there.
    for (let i = 0; i < 10; i++) expect(pub.offer(new Uint8Array(32))).toBeGreaterThan(0);
    expect(ringInfo(name).producerPosition).toBe(0);
    const sub = closeAfterTest(Subscription.open(name)) as ReliableSubscription;
    expect(sub.position).toBe(pub.position);
    expect(ringInfo(name).consumers.map((c) => c.position)).toEqual([pub.position]);
  });

  it('joins a busy ring from the latest record without stalling the producer', async () => {
    const name = uniqueName('join-busy');
    const run: Run = { mode: 'reliable', seed: SEED, minLength: sequence.MIN_SELF_DESCRIBING_LENGTH, maxLength: 64 };
    const producer = startChild('ring/producer.js', {
      name,
      create: { capacity: 65536 },
      run,
      count: 2 ** 40,
      deadlineMs: 30_000,
    });
    await producer.line('ready ');
    await sleep(500);
    // A stalled join is timing-dependent (the producer must reach its limit before the consumer's first poll): join
    // several times; each join must deliver within a second, well inside the default 10 s eviction timeout.
    for (let join = 0; join < 5; join++) {
      const sub = Subscription.open(name) as ReliableSubscription;
      try {
        let expected = -1;
        let received = 0;
        let gaps = 0;
        const deadline = Date.now() + 1000;
        while (received < 2000 && Date.now() < deadline) {
          const n = sub.poll((buffer, offset, length) => {
            const seq = sequence.decodeSeq(buffer, offset, length);
            if (expected >= 0 && seq !== expected) gaps++;
            expected = seq + 1;
            received++;
          }, 256);
          if (n === 0) await sleep(0);
        }
        expect({ join, received: Math.min(received, 2000), gaps }).toEqual({ join, received: 2000, gaps: 0 });
      } finally {
        sub.close();
      }
      await sleep(50);
    }
    expect(producer.lines.filter((l) => l.startsWith('timeout'))).toEqual([]);
  });
});
