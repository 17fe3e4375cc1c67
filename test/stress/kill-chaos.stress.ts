/**
 * kill -9 chaos on a reliable ring: producers (mid-batch, holding a claim, or anywhere) and consumers are SIGKILLed at
 * random; after each producer kill a new one takes over (`Publication.attach`, the next tag). Every producer logs
 * what it saw committed (`tag lastSeq`, one line per commit, fixtures/producer.js) to a commit log. A witness consumer
 * that is never killed joined before the first message; at the end the last producer closes cleanly and the witness
 * drains.
 *
 * Outcomes. Acceptable: the witness received, for each tag in order, seq 0..n with n >= the last seq logged for it
 * (a kill between a commit and its log line leaves n above the log). Killed consumers saw intact messages, never a
 * duplicate or a reordering, and no gap while alive. Failures: a committed (logged) message missing from the witness
 * (lost), a message delivered twice or out of order (duplicated), a corrupt message, a crash, a hang, an error.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { createRing } from '../../lib';
import {
  exitFault,
  fdCount,
  printFigures,
  scaled,
  privateShmDir,
  SEED,
  sleep,
  startChild,
  type Child,
  type Report,
} from './harness';
import * as sequence from '../fixtures/ring/sequence';

const DURATION_MS = scaled(20_000, 150_000);
const CAPACITY = 64 * 1024;

/** The schedule's random numbers in [0, 1), from the fixtures' one seeded PRNG. */
function prng(seed: number): () => number {
  const next = sequence.prng(seed);
  return () => next() / 2 ** 32;
}

type Run = [number, number, number];
interface ConsumerSummary {
  received: number;
  intact: number;
  corrupt: number;
  backwards: number;
  gaps: number;
  runs: Run[];
  maxCallMs: number;
  firstError: string | null;
}

function lastSummary(child: Child): ConsumerSummary | null {
  const found = [...child.reports].reverse().find((r) => r.event === 'done' || r.event === 'progress');
  return (found as unknown as ConsumerSummary | undefined) ?? null;
}

describe('kill -9 chaos (reliable ring)', () => {
  it('loses and duplicates no committed message while producers and consumers are SIGKILLed at random', async () => {
    const fdsBefore = fdCount();
    const dir = privateShmDir('chaos');
    const ring = 'chaos';
    const commitLog = path.join(dir, 'commit.log');
    const random = prng(SEED ^ 0xc4a05);
    const faults: string[] = [];
    const base = { ring, dir, seed: SEED, maxLength: 200 };
    let producerKills = 0;
    let holdingKills = 0;
    let consumerKills = 0;
    let tag = 1;
    let stopping = false;

    // Half of the times a producer reports `holding` (it then pauses 30 ms inside an open batch or a pending claim),
    // it is killed on the spot: the kill lands mid-batch or holding a claim.
    const startProducer = (): Child => {
      const child: Child = startChild(
        'producer.js',
        { ...base, tag, commitLog, batchMax: 16, holdChance: 0.02 },
        {
          boundMs: DURATION_MS + 30_000,
          silenceMs: 5000,
          onReport: (r: Report) => {
            if (r.event === 'holding' && !stopping && random() < 0.5) {
              holdingKills++;
              void child.kill();
            }
          },
        },
      );
      return child;
    };
    const judge = (who: string, child: Child, exit: Awaited<Child['exited']>): void => {
      const fault = exitFault(exit);
      if (fault !== null) faults.push(`${who} pid ${child.pid}: ${fault}: ${child.stderrTail()}`);
      const error = child.reports.find((r) => r.event === 'error');
      if (error !== undefined) faults.push(`${who} pid ${child.pid}: error ${JSON.stringify(error)}`);
      const slow = [...child.reports].reverse().find((r) => r.event === 'done')?.slowCalls as unknown[] | undefined;
      if (slow !== undefined && slow.length > 0) faults.push(`${who} pid ${child.pid}: hang ${JSON.stringify(slow)}`);
    };

    // The witness must see seq 0 of the first producer: the ring is made without a producer, the witness joins, and
    // only then does the first producer attach.
    createRing(ring, { dir, mode: 'reliable', capacity: CAPACITY, maxConsumers: 8 });
    const witness = startChild(
      'consumer.js',
      { ...base, from: 'earliest' },
      { boundMs: DURATION_MS + 60_000, silenceMs: 5000 },
    );
    expect(await witness.report('ready', 10_000), witness.stderrTail()).not.toBeNull();
    let producer = startProducer();
    expect(await producer.report('ready', 10_000), producer.stderrTail()).not.toBeNull();
    const chaosConsumers: Child[] = [];
    const startChaosConsumer = (): Child =>
      startChild(
        'consumer.js',
        { ...base, from: random() < 0.5 ? 'earliest' : 'latest' },
        { boundMs: DURATION_MS + 60_000, silenceMs: 5000 },
      );
    for (let k = 0; k < 3; k++) chaosConsumers.push(startChaosConsumer());
    const retired: Child[] = [];

    const end = Date.now() + DURATION_MS;
    while (Date.now() < end) {
      await sleep(20 + random() * 200);
      const roll = random();
      const killedHolding = producer.process.exitCode !== null || producer.process.signalCode !== null;
      if (roll < 0.3 || killedHolding) {
        const exit = await producer.kill();
        judge('producer', producer, exit);
        producerKills++;
        tag++;
        producer = startProducer();
      } else if (roll < 0.8) {
        const index = Math.floor(random() * chaosConsumers.length);
        const victim = chaosConsumers[index];
        const exit = await victim.kill();
        if (exit.killedBy !== 'test') judge('consumer', victim, exit);
        consumerKills++;
        retired.push(victim);
        chaosConsumers[index] = startChaosConsumer();
      }
    }
    stopping = true;
    await sleep(100); // a kill made on a `holding` report just before is reaped by now
    if (producer.process.exitCode !== null || producer.process.signalCode !== null) {
      judge('producer', producer, await producer.exited);
      tag++;
      producer = startProducer();
    }
    // The last producer closes cleanly; everyone else drains and stops.
    // (A child that has not reported `ready` may not have installed its SIGTERM handler yet.)
    await producer.report('ready', 10_000);
    judge('producer', producer, await producer.stop());
    if (!producer.reports.some((r) => r.event === 'done'))
      faults.push(`last producer: no clean close ${producer.stderrTail()}`);
    for (const consumer of chaosConsumers) {
      await consumer.report('ready', 10_000);
      judge('consumer', consumer, await consumer.stop());
    }
    const witnessExit = await witness.exited;
    judge('witness', witness, witnessExit);

    // What producers saw committed: the highest seq logged per tag.
    const logged = new Map<number, number>();
    for (const line of fs.readFileSync(commitLog, 'utf8').split('\n')) {
      if (line === '') continue;
      const [t, s] = line.split(' ').map(Number);
      logged.set(t, Math.max(logged.get(t) ?? -1, s));
    }
    const w = witness.reports.find((r) => r.event === 'done') as unknown as ConsumerSummary | undefined;
    const witnessLast = lastSummary(witness);
    let lost = 0;
    let duplicated = 0;
    let committed = 0;
    const runs = w?.runs ?? [];
    const byTag = new Map(runs.map((run) => [run[0], run]));
    for (const [t, last] of logged) {
      committed += last + 1;
      const run = byTag.get(t);
      if (run === undefined || run[1] !== 0) lost += last + 1;
      else if (run[2] < last) lost += last - run[2];
    }
    if (w !== undefined) {
      duplicated = w.backwards;
      for (let k = 1; k < runs.length; k++) if (runs[k][0] <= runs[k - 1][0]) duplicated++;
      if (runs.length !== byTag.size)
        faults.push(`witness: a tag in more than one run: ${JSON.stringify(runs.slice(0, 20))}`);
      if (w.corrupt > 0) faults.push(`witness: ${w.corrupt} corrupt messages, first: ${w.firstError}`);
      if (w.gaps > 0) faults.push(`witness: ${w.gaps} gaps: ${JSON.stringify(runs.slice(0, 20))}`);
    } else {
      faults.push('witness: no done report');
    }
    if (lost > 0 || duplicated > 0) {
      faults.push(
        `logged ${JSON.stringify([...logged])}, witness runs ${JSON.stringify((w ?? witnessLast)?.runs.slice(0, 30))}`,
      );
    }
    let killedChecked = 0;
    for (const consumer of [...retired, ...chaosConsumers]) {
      const summary = lastSummary(consumer);
      if (summary === null) continue;
      killedChecked += summary.received;
      if (summary.corrupt > 0 || summary.backwards > 0 || summary.gaps > 0) {
        faults.push(
          `consumer pid ${consumer.pid}: corrupt ${summary.corrupt}, backwards ${summary.backwards}, ` +
            `gaps ${summary.gaps}: ${JSON.stringify(summary.runs.slice(0, 10))} ${summary.firstError ?? ''}`,
        );
      }
    }
    const figures = {
      durationS: DURATION_MS / 1000,
      producers: tag,
      producerKills,
      killsHoldingClaimOrBatch: holdingKills,
      consumerKills,
      committedLogged: committed,
      witnessReceived: w?.received ?? 0,
      otherConsumersVerified: killedChecked,
      lost,
      duplicated,
      crashes: faults.filter((f) => f.includes('crash')).length,
      fdsBefore,
      fdsAfter: fdCount(),
    };
    printFigures('kill-chaos', figures);
    expect({ lost, duplicated, faults }).toEqual({ lost: 0, duplicated: 0, faults: [] });
    expect(committed).toBeGreaterThan(0);
    expect(fdCount()).toBe(fdsBefore);
  });
});
