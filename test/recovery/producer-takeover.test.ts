/**
 * A producer killed with SIGKILL in the middle of a claim or of a batch, and a new producer that takes over with
 * `Publication.attach`. Two consumers watch: one in this process (it checks liveness) and one child that simply
 * iterates (`for await`) across the crash and the takeover, sleeping on the futex in between.
 *
 * Acceptable outcomes — exactly one: both consumers receive tag 1 seq 0..N-1 (everything the dead producer
 * committed), then tag 2 seq 0..M-1 (the new producer's), as the two runs [[1, 0, N-1], [2, 0, M-1]], with no
 * corrupt message. The half-written claim (0xEE bytes) and the uncommitted batch (tag 1 seq N..) must never be
 * delivered; a duplicate, a gap or a reordering would show up as an extra run.
 */
import { describe, expect, it } from 'vitest';
import { Publication, ringInfo, Subscription, type ReliableSubscription } from '../../lib/index';
import { closeAfterTest, startChild, uniqueName, waitFor, type Child } from '../helpers/ring-env';
import { messages, offerRange, type DoneReport } from './helpers';
import { RunsVerifier } from '../fixtures/ring/sequence';

const SEED = 0x7a4e;
const CAPACITY = 16 * 1024;
const COMMITTED = 2_000; // ~13 laps of the ring: the crash happens long after the first wrap
const AFTER_TAKEOVER = 500;

/** A consumer in this process: polls, and sleeps on the futex (with a short timeout) when nothing is ready. */
function localConsumer(ring: string) {
  const sub = closeAfterTest(Subscription.open(ring) as ReliableSubscription);
  const verifier = new RunsVerifier(messages.messageRun(SEED));
  const drain = (): void => {
    while (sub.poll((buffer, offset, length) => verifier.accept(buffer, offset, length), 64) > 0);
  };
  const until = async (what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (drain(); !predicate(); drain()) {
      if (Date.now() > deadline) throw new Error(`timed out for ${what}: ${JSON.stringify(verifier.summary())}`);
      await sub.wait({ timeoutMs: 20 });
    }
  };
  return { sub, verifier, drain, until };
}

/** Starts the first producer and both consumers; the producer commits COMMITTED messages, then does `then`. */
async function crashScenario(tag: string, then: 'claim' | 'batch') {
  const ring = uniqueName(tag);
  const producer = startChild(
    'recovery/producer.js',
    {
      ring,
      create: true,
      capacity: CAPACITY,
      seed: SEED,
      tag: 1,
      count: COMMITTED,
      then,
      claimLength: 100,
      batchCount: 10,
    },
    { ipc: true },
  );
  await producer.report('ready');
  const iterating: Child = startChild('recovery/consumer.js', {
    ring,
    seed: SEED,
    style: 'iterate',
    deadlineMs: 40_000,
  });
  await iterating.report('joined');
  const local = localConsumer(ring);
  producer.command('go');
  // Read concurrently: the ring holds far fewer than COMMITTED messages.
  await local.until(`${COMMITTED} messages`, () => local.verifier.count >= COMMITTED);
  return { ring, producer, iterating, local };
}

/** Kills the producer, checks that everyone sees it dead, takes over, publishes AFTER_TAKEOVER more, closes. */
async function killAndTakeOver(ring: string, producer: Child, local: ReturnType<typeof localConsumer>): Promise<void> {
  expect(local.sub.producerAlive).toBe(true);
  producer.signal('SIGKILL');
  expect(await producer.exit(5_000)).toEqual({ code: null, signal: 'SIGKILL' });
  expect(local.sub.producerAlive).toBe(false);
  expect(local.sub.producerClosed).toBe(false);
  expect(ringInfo(ring)).toMatchObject({ producerAlive: false, producerState: 'active', producerEpoch: 1 });
  local.drain();
  expect(local.verifier.count).toBe(COMMITTED); // nothing of the claim or the batch became visible

  const pub = closeAfterTest(Publication.attach(ring));
  expect(pub.mode).toBe('reliable');
  expect(local.sub.producerAlive).toBe(true);
  expect(ringInfo(ring)).toMatchObject({ producerAlive: true, producerState: 'active', producerEpoch: 2 });
  if (pub.mode !== 'reliable') return;
  const sending = offerRange(pub, SEED, 2, 0, AFTER_TAKEOVER);
  await local.until(`${AFTER_TAKEOVER} more messages`, () => local.verifier.count >= COMMITTED + AFTER_TAKEOVER);
  await sending;
  pub.close();
}

const expected = {
  count: COMMITTED + AFTER_TAKEOVER,
  runs: [
    [1, 0, COMMITTED - 1],
    [2, 0, AFTER_TAKEOVER - 1],
  ],
  errors: [],
};

describe('Publication.attach after the producer was killed', () => {
  it('takes over from a producer killed mid-claim: committed messages stay, the half-written claim never shows', async () => {
    const { ring, producer, iterating, local } = await crashScenario('crash-claim', 'claim');
    const claimed = await producer.report<{ position: number; length: number }>('claimed');
    expect(claimed.length).toBe(100);
    await killAndTakeOver(ring, producer, local);
    expect(local.verifier.summary()).toEqual(expected);
    expect(await iterating.report<DoneReport>('done', 20_000)).toEqual(expect.objectContaining(expected));
  });

  it('takes over from a producer killed mid-batch: none of the open batch is ever visible', async () => {
    const { ring, producer, iterating, local } = await crashScenario('crash-batch', 'batch');
    await producer.report('batch-open');
    // The batch's later records are written (positive lengths) but the first is not: consumers must stop there.
    await waitFor('the local consumer to see everything committed', () => {
      local.drain();
      return local.verifier.count === COMMITTED;
    });
    await killAndTakeOver(ring, producer, local);
    expect(local.verifier.summary()).toEqual(expected);
    expect(await iterating.report<DoneReport>('done', 20_000)).toEqual(expect.objectContaining(expected));
  });
});
