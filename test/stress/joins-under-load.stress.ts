/**
 * Joins under load: a producer offers flat out on a small (64 KiB) ring; consumers join it one after another, in
 * every `from` mode (default — which is 'latest' —, 'latest', 'earliest'), reliable and broadcast, each in its own
 * process, and poll for a while. Messages are test/fixtures/ring/sequence.js's, 8..40 bytes, one offer each (a
 * stall on join showed with small messages offered flat out, not with slower producers).
 *
 * Outcomes. Acceptable: the joiner receives messages within its first 2 s, every one intact; reliable joiners
 * receive one contiguous run (no gap, no duplicate); broadcast joiners receive increasing seqs (laps skip some); the
 * producer keeps committing while each joiner is there. Failures: a joiner that gets nothing (a stalled join), an
 * error (e.g. ERR_SHMRING_EVICTED after a stall), a corrupt, duplicated or reordered message, a gap in a reliable
 * joiner, a producer that stops, a crash or a hang.
 */
import { describe, expect, it } from 'vitest';
import {
  exitFault,
  fdCount,
  printFigures,
  scaled,
  privateShmDir,
  SEED,
  sleep,
  startChild,
  type Report,
} from './harness';

const JOINS_PER_MODE = scaled(6, 12);
const JOIN_MS = scaled(800, 1500);
const CAPACITY = 64 * 1024;

interface Summary {
  received: number;
  intact: number;
  corrupt: number;
  backwards: number;
  gaps: number;
  firstAtMs: number | null;
  reason: string | null;
  slowCalls: unknown[];
}

describe('joins under load', () => {
  for (const mode of ['reliable', 'broadcast'] as const) {
    it(`${mode}: every from mode joins a busy 64 KiB ring and receives at once, intact and in order`, async () => {
      const fdsBefore = fdCount();
      const dir = privateShmDir(`join-${mode}`);
      const ring = 'join';
      const run = { mode, seed: SEED, minLength: 8, maxLength: 40 };
      const faults: string[] = [];
      let seq = 0;
      const producer = startChild(
        'soak-producer.js',
        {
          ring,
          dir,
          run,
          batchMax: 1,
          progressMs: 100,
          create: { mode, capacity: CAPACITY, maxConsumers: 4 },
        },
        {
          boundMs: 10 * 60_000,
          silenceMs: 5000,
          onReport: (r: Report) => {
            if (r.event === 'progress') seq = r.seq as number;
          },
        },
      );
      expect(await producer.report('ready', 10_000), producer.stderrTail()).not.toBeNull();
      await sleep(500); // the producer is flat out (and, alone on a reliable ring, never back-pressured)
      let joins = 0;
      let verified = 0;
      for (let k = 0; k < JOINS_PER_MODE; k++) {
        for (const from of [undefined, 'latest', 'earliest'] as const) {
          joins++;
          const seqBefore = seq;
          const joiner = startChild(
            'join-consumer.js',
            { ring, dir, from, run, durationMs: JOIN_MS },
            { boundMs: JOIN_MS + 15_000, silenceMs: JOIN_MS + 5000 },
          );
          const exit = await joiner.exited;
          const what = `${mode} join #${joins} from=${from ?? '(default)'}`;
          const fault = exitFault(exit);
          if (fault !== null) faults.push(`${what}: ${fault} ${joiner.stderrTail()}`);
          const error = joiner.reports.find((r) => r.event === 'error');
          if (error !== undefined) faults.push(`${what}: error ${JSON.stringify(error)}`);
          const done = joiner.reports.find((r) => r.event === 'done') as unknown as Summary | undefined;
          if (done === undefined) continue;
          verified += done.intact;
          if (done.received === 0 || (done.firstAtMs ?? Infinity) > 2000)
            faults.push(`${what}: nothing received within 2 s`);
          if (done.corrupt > 0 || done.backwards > 0 || done.gaps > 0) {
            faults.push(
              `${what}: corrupt ${done.corrupt}, backwards ${done.backwards}, gaps ${done.gaps}: ${done.reason}`,
            );
          }
          if (done.slowCalls.length > 0) faults.push(`${what}: hang ${JSON.stringify(done.slowCalls)}`);
          await sleep(250); // two progress reports
          if (seq <= seqBefore) faults.push(`${what}: the producer stopped at seq ${seq}`);
        }
      }
      await producer.report('ready', 1000);
      const producerExit = await producer.stop();
      const fault = exitFault(producerExit);
      if (fault !== null) faults.push(`producer: ${fault} ${producer.stderrTail()}`);
      const done = producer.reports.find((r) => r.event === 'done');
      if (done === undefined) faults.push(`producer: no done report ${producer.stderrTail()}`);
      else if ((done.slowCalls as unknown[]).length > 0)
        faults.push(`producer: hang ${JSON.stringify(done.slowCalls)}`);
      printFigures(`joins-under-load ${mode}`, {
        joins,
        messagesSent: done?.sent ?? seq,
        messagesVerified: verified,
        faults: faults.length,
        crashes: faults.filter((f) => f.includes('crash')).length,
        fdsBefore,
        fdsAfter: fdCount(),
      });
      expect(faults).toEqual([]);
      expect(fdCount()).toBe(fdsBefore);
    });
  }
});
