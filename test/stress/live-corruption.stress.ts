/**
 * Live corruption: while a producer and two consumers run (each in its own process), a scribbler process writes
 * random words into the ring's consumer slots, data region, broadcast trailer and producer line. Whoever can write
 * the file can feed garbage; what is promised is that nobody crashes, hangs or throws anything but a coded error.
 * The producer counts coded errors and goes on; consumers close and open again after one.
 *
 * Outcomes. Acceptable: any mix of delivered messages (intact or not: garbage is garbage), BACK_PRESSURED,
 * coded errors (ERR_SHMRING_CORRUPT, ERR_SHMRING_EVICTED, ERR_SHMRING_NO_CONSUMER_SLOT...), reopens. Failures: a
 * crash, a call over 2 s or a silent child (hang), an uncoded error, an fd leaked by the test process.
 */
import path from 'path';
import { describe, expect, it } from 'vitest';
import { exitFault, fdCount, printFigures, scaled, privateShmDir, SEED, startChild, type Child } from './harness';

const DURATION_MS = scaled(6000, 60_000);

describe('live corruption', () => {
  for (const mode of ['reliable', 'broadcast'] as const) {
    it(`${mode}: a process scribbling on the live ring causes coded errors only: no crash, no hang`, async () => {
      const fdsBefore = fdCount();
      const dir = privateShmDir(`scribble-${mode}`);
      const ring = 'scribbled';
      const base = { ring, dir, seed: SEED, maxLength: 200 };
      const bound = { boundMs: DURATION_MS + 20_000, silenceMs: 5000 };
      const producer = startChild(
        'producer.js',
        {
          ...base,
          tag: 1,
          batchMax: 8,
          tolerateErrors: true,
          durationMs: DURATION_MS,
          evictionTimeoutMs: 200,
          create: { mode, capacity: 64 * 1024, maxConsumers: 4 },
        },
        bound,
      );
      expect(await producer.report('ready', 10_000), producer.stderrTail()).not.toBeNull();
      const consumers: Child[] = [];
      for (const from of ['earliest', 'latest']) {
        consumers.push(startChild('consumer.js', { ...base, from, reopen: true, durationMs: DURATION_MS }, bound));
      }
      for (const consumer of consumers) await consumer.report('ready', 10_000);
      const scribbler = startChild(
        'scribbler.js',
        { path: path.join(dir, ring), seed: SEED ^ 0x5c1b, durationMs: DURATION_MS - 1000, wordsPerMs: 1 },
        bound,
      );
      const faults: string[] = [];
      const codes: Record<string, number> = {};
      let delivered = 0;
      let intact = 0;
      let reopens = 0;
      for (const [who, child] of [
        ['producer', producer],
        ['consumer 1', consumers[0]],
        ['consumer 2', consumers[1]],
        ['scribbler', scribbler],
      ] as const) {
        const exit = await child.exited;
        const fault = exitFault(exit);
        if (fault !== null) faults.push(`${who}: ${fault} ${child.stderrTail()}`);
        const error = child.reports.find((r) => r.event === 'error');
        if (error !== undefined) faults.push(`${who}: ${JSON.stringify(error)}`);
        const done = child.reports.find((r) => r.event === 'done');
        if (done === undefined) {
          if (fault === null && error === undefined) faults.push(`${who}: no done report`);
          continue;
        }
        if (Array.isArray(done.slowCalls) && done.slowCalls.length > 0) {
          faults.push(`${who}: hang ${JSON.stringify(done.slowCalls)}`);
        }
        for (const [code, n] of Object.entries((done.errors ?? {}) as Record<string, number>))
          codes[code] = (codes[code] ?? 0) + n;
        if (who.startsWith('consumer')) {
          delivered += done.received as number;
          intact += done.intact as number;
          reopens += done.reopens as number;
        }
      }
      const words = scribbler.reports.find((r) => r.event === 'done')?.words as number | undefined;
      printFigures(`live-corruption ${mode}`, {
        durationS: DURATION_MS / 1000,
        wordsScribbled: words ?? 0,
        messagesSent: producer.reports.find((r) => r.event === 'done')?.seq ?? null,
        delivered,
        intact,
        reopens,
        codedErrors: codes,
        crashes: faults.filter((f) => f.includes('crash')).length,
        fdsBefore,
        fdsAfter: fdCount(),
      });
      expect(faults).toEqual([]);
      expect(words).toBeGreaterThan(0);
      expect(fdCount()).toBe(fdsBefore);
    });
  }
});
