/**
 * Joins under load: a producer offers flat out on a small (64 KiB) ring; consumers join it one after another, in
 * every `from` mode (default — which is 'latest' —, 'latest', 'earliest'), reliable and broadcast, each in its own
 * process, and poll for a while.
 *
 * Outcomes. Acceptable: the joiner receives messages within its first 2 s, every one intact; reliable joiners
 * receive one contiguous run (no gap, no duplicate); broadcast joiners receive increasing seqs (laps skip some); the
 * producer keeps committing while each joiner is there. Failures: a joiner that gets nothing (a stalled join), an
 * error (e.g. ERR_SHMRING_EVICTED after a stall), a corrupt, duplicated or reordered message, a gap in a reliable
 * joiner, a producer that stops, a crash or a hang.
 */
import { describe, expect, it } from 'vitest';
import { exitFault, fdCount, printFigures, scaled, scratchDir, SEED, sleep, startChild, type Report } from './harness';

const JOINS_PER_MODE = scaled(4, 12);
const JOIN_MS = scaled(800, 1500);
const CAPACITY = 64 * 1024;

interface Summary {
  received: number;
  intact: number;
  corrupt: number;
  backwards: number;
  gaps: number;
  runs: Array<[number, number, number]>;
  firstError: string | null;
  slowCalls: unknown[];
}

describe('joins under load', () => {
  for (const mode of ['reliable', 'broadcast'] as const) {
    it(`${mode}: every from mode joins a busy 64 KiB ring and receives at once, intact and in order`, async () => {
      const fdsBefore = fdCount();
      const dir = scratchDir(`join-${mode}`);
      const ring = 'join';
      const faults: string[] = [];
      let seq = 0;
      const producer = startChild('producer.js', {
        ring, dir, seed: SEED, tag: 1, batchMax: 4, maxLength: 120,
        create: { mode, capacity: CAPACITY, maxConsumers: 4 },
      }, {
        boundMs: 10 * 60_000, silenceMs: 5000,
        onReport: (r: Report) => {
          if (r.event === 'progress') seq = r.seq as number;
        },
      });
      expect(await producer.report('ready', 10_000), producer.stderrTail()).not.toBeNull();
      await sleep(500); // the producer is flat out (and, alone on a reliable ring, never back-pressured)
      let joins = 0;
      let verified = 0;
      for (let k = 0; k < JOINS_PER_MODE; k++) {
        for (const from of [undefined, 'latest', 'earliest'] as const) {
          joins++;
          const seqBefore = seq;
          const joiner = startChild('consumer.js', { ring, dir, from, seed: SEED, maxLength: 120, durationMs: JOIN_MS },
            { boundMs: JOIN_MS + 15_000, silenceMs: 5000 });
          const exit = await joiner.exited;
          const what = `${mode} join #${joins} from=${from ?? '(default)'}`;
          const fault = exitFault(exit);
          if (fault !== null) faults.push(`${what}: ${fault} ${joiner.stderrTail()}`);
          const error = joiner.reports.find((r) => r.event === 'error');
          if (error !== undefined) faults.push(`${what}: error ${JSON.stringify(error)}`);
          const done = joiner.reports.find((r) => r.event === 'done') as unknown as Summary | undefined;
          if (done === undefined) continue;
          verified += done.intact;
          const firstProgress = joiner.reports.find((r) => r.event === 'progress' && (r.received as number) > 0);
          const firstAtMs = (firstProgress?.elapsedMs as number | undefined) ?? Infinity;
          if (done.received === 0 || firstAtMs > 2000) faults.push(`${what}: nothing received within 2 s`);
          if (done.corrupt > 0 || done.backwards > 0) {
            faults.push(`${what}: corrupt ${done.corrupt}, backwards ${done.backwards}: ${done.firstError ?? ''}`);
          }
          if (mode === 'reliable' && done.gaps > 0) faults.push(`${what}: gaps ${JSON.stringify(done.runs.slice(0, 5))}`);
          if (done.slowCalls.length > 0) faults.push(`${what}: hang ${JSON.stringify(done.slowCalls)}`);
          await sleep(150); // two progress reports
          if (seq <= seqBefore) faults.push(`${what}: the producer stopped at seq ${seq}`);
        }
      }
      const producerExit = await producer.stop();
      const fault = exitFault(producerExit);
      if (fault !== null) faults.push(`producer: ${fault} ${producer.stderrTail()}`);
      const error = producer.reports.find((r) => r.event === 'error');
      if (error !== undefined) faults.push(`producer: error ${JSON.stringify(error)}`);
      printFigures(`joins-under-load ${mode}`, {
        joins, messagesSent: seq, messagesVerified: verified, faults: faults.length, crashes: faults.filter((f) => f.includes('crash')).length,
        fdsBefore, fdsAfter: fdCount(),
      });
      expect(faults).toEqual([]);
      expect(fdCount()).toBe(fdsBefore);
    });
  }
});
