/**
 * Soak: one producer and two consumers in their own processes on a 1 MiB reliable ring, 10^8 messages in the full
 * profile (10^7 in CI) of 8..40 bytes, published in place with tryClaim in batches; every message is checked
 * by test/fixtures/ring/sequence.js's ReliableVerifier in both consumers.
 *
 * Outcomes. Acceptable: each consumer receives seq 0..N-1, each exactly once, byte for byte with its type id.
 * Failures: a lost, duplicated, reordered or corrupt message, an error, a crash, a hang (a call over 2 s, or no
 * progress report for 10 s).
 */
import { describe, expect, it } from 'vitest';
import { createRing } from '../../lib';
import { exitFault, fdCount, printFigures, scaled, privateShmDir, SEED, startChild } from './harness';

const COUNT = scaled(10_000_000, 100_000_000);

describe('soak', () => {
  it(`delivers ${COUNT} messages to 2 consumers, each exactly once and intact`, async () => {
    const fdsBefore = fdCount();
    const dir = privateShmDir('soak');
    const ring = 'soak';
    const run = { mode: 'reliable', seed: SEED, minLength: 8, maxLength: 40 };
    createRing(ring, { dir, mode: 'reliable', capacity: 1 << 20, maxConsumers: 2 });
    const bound = { boundMs: scaled(120_000, 1_800_000), silenceMs: 10_000 };
    const consumers = [0, 1].map(() => startChild('soak-consumer.js', { ring, dir, run, count: COUNT }, bound));
    for (const consumer of consumers)
      expect(await consumer.report('ready', 10_000), consumer.stderrTail()).not.toBeNull();
    const started = Date.now();
    const producer = startChild('soak-producer.js', { ring, dir, run, count: COUNT }, bound);
    const faults: string[] = [];
    const summaries: Array<Record<string, unknown>> = [];
    for (const [who, child] of [
      ['producer', producer],
      ['consumer 1', consumers[0]],
      ['consumer 2', consumers[1]],
    ] as const) {
      const exit = await child.exited;
      const fault = exitFault(exit);
      if (fault !== null) faults.push(`${who}: ${fault} ${child.stderrTail()}`);
      const done = child.reports.find((r) => r.event === 'done');
      if (done === undefined) {
        faults.push(`${who}: no done report ${child.stderrTail()}`);
        continue;
      }
      if ((done.slowCalls as unknown[]).length > 0) faults.push(`${who}: hang ${JSON.stringify(done.slowCalls)}`);
      if (who !== 'producer') summaries.push(done);
    }
    const elapsedS = (Date.now() - started) / 1000;
    const verified = summaries.reduce((sum, s) => sum + (s.next as number) - (s.corrupt as number), 0);
    const lost = summaries.reduce((sum, s) => sum + Math.max(0, COUNT - (s.received as number)), 0);
    const duplicated = summaries.reduce((sum, s) => sum + (s.duplicates as number), 0);
    const corrupt = summaries.reduce((sum, s) => sum + (s.corrupt as number) + (s.outOfOrder as number), 0);
    printFigures('soak', {
      messages: COUNT,
      consumers: 2,
      messagesVerified: verified,
      lost,
      duplicated,
      corruptOrReordered: corrupt,
      crashes: faults.filter((f) => f.includes('crash')).length,
      elapsedS: Math.round(elapsedS * 10) / 10,
      messagesPerS: Math.round(COUNT / elapsedS),
      fdsBefore,
      fdsAfter: fdCount(),
    });
    expect(faults).toEqual([]);
    for (const s of summaries) {
      expect({
        received: s.received,
        next: s.next,
        corrupt: s.corrupt,
        duplicates: s.duplicates,
        outOfOrder: s.outOfOrder,
        reasons: s.reasons,
      }).toEqual({ received: COUNT, next: COUNT, corrupt: 0, duplicates: 0, outOfOrder: 0, reasons: [] });
    }
    expect(fdCount()).toBe(fdsBefore);
  });
});
