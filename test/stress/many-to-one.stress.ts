/**
 * kill -9 chaos on a many-to-one ring: four producer processes at a time (fixtures/many-to-one-producer.js), one of
 * them SIGKILLed at random every few hundred ms — mid-claim or anywhere — and replaced by a new one with a new type
 * id; the consumer runs in this process with a 1 s unblock timeout (with a shorter one, a producer merely descheduled
 * that long on this loaded 2-core machine had its record released while it was still copying into it: the hazard of
 * Agrona's unblock, which the timeout exists to make rare). At the end the producers are asked to finish (SIGTERM: a
 * clean close reporting how many they sent), one more message is offered (so a claim a victim left empty at the very
 * tail has a record after it to be unblocked up to), and the consumer drains the ring to its tail.
 *
 * Outcomes. Acceptable: per producer, its messages in order, exactly once, byte-exact; a producer that finished
 * delivered exactly what it sent; a killed one delivered at least what it reported sent before it died (a prefix of its
 * sequence); the consumer reaches the tail. Failures: a corrupt, duplicated, reordered or missing message, an unknown
 * type id, a consumer exception, a producer crash, hang or error, a consumer that cannot reach the tail.
 */
import { describe, expect, it } from 'vitest';
import { Publication, Subscription } from '../../lib';
import type { Run } from '../fixtures/ring/sequence';
import { exitFault, printFigures, privateShmDir, scaled, SEED, startChild, type Child } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sequence = require('../fixtures/ring/sequence.js') as typeof import('../fixtures/ring/sequence');

const DURATION_MS = scaled(15_000, 120_000);
const CAPACITY = 64 * 1024;
const PRODUCERS = 4;
const MAX_LENGTH = 300;
const LAST_TYPE_ID = 0x7fff0000;

interface Producer {
  typeId: number;
  run: Run;
  child: Child;
  killed: boolean;
}

function runOf(typeId: number): Run {
  return { mode: 'broadcast', seed: (SEED ^ Math.imul(typeId, 0x9e3779b1)) >>> 0, minLength: 8, maxLength: MAX_LENGTH };
}

describe('kill -9 chaos (many-to-one ring)', () => {
  it(
    'delivers every producer in order, exactly once, while producers are SIGKILLed mid-claim',
    async () => {
      const dir = privateShmDir('m2o-chaos');
      const name = 'ring';
      const sub = Subscription.create(name, {
        mode: 'many-to-one',
        capacity: CAPACITY,
        dir,
        unblockTimeoutMs: 1000,
      });
      const random = sequence.prng(SEED ^ 0x14);
      const producers = new Map<number, Producer>();
      const next = new Map<number, number>();
      const faults: string[] = [];
      let nextTypeId = 1;
      let received = 0;
      const scratch = new Uint8Array(MAX_LENGTH);
      const fault = (text: string): void => {
        if (faults.length < 10) faults.push(text);
      };
      const handler = (buffer: Uint8Array, offset: number, length: number, typeId: number): void => {
        received++;
        const producer = producers.get(typeId);
        const run = typeId === LAST_TYPE_ID ? runOf(LAST_TYPE_ID) : producer?.run;
        if (run === undefined) return fault(`unknown typeId=${typeId}`);
        const expected = next.get(typeId) ?? 0;
        const seq = sequence.decodeSeq(buffer, offset, length);
        if (seq !== expected) return fault(`typeId=${typeId}: seq=${seq} expected=${expected}`);
        const expectedLength = sequence.writeMessage(run, seq, scratch, 0);
        let same = expectedLength === length;
        for (let i = 0; same && i < length; i++) same = scratch[i] === buffer[offset + i];
        if (!same) fault(`typeId=${typeId}: bytes of seq=${seq} differ`);
        next.set(typeId, seq + 1);
      };
      const start = (): void => {
        const typeId = nextTypeId++;
        const run = runOf(typeId);
        const child = startChild(
          'many-to-one-producer.js',
          { ring: name, dir, typeId, seed: run.seed, maxLength: MAX_LENGTH },
          { boundMs: DURATION_MS + 30_000, silenceMs: 10_000 },
        );
        producers.set(typeId, { typeId, run, child, killed: false });
      };
      const poll = async (until: () => boolean, timeoutMs: number): Promise<boolean> => {
        const deadline = Date.now() + timeoutMs;
        let sinceYield = Date.now();
        while (!until()) {
          if (Date.now() > deadline) return false;
          if (sub.poll(handler, 256) === 0) await sub.wait({ timeoutMs: 20 });
          else if (Date.now() - sinceYield > 20) {
            await new Promise((resolve) => setImmediate(resolve));
            sinceYield = Date.now();
          }
        }
        return true;
      };

      try {
        for (let i = 0; i < PRODUCERS; i++) start();
        const ends = Date.now() + DURATION_MS;
        let kills = 0;
        while (Date.now() < ends) {
          const killAt = Date.now() + 200 + (random() % 600);
          await poll(() => Date.now() >= killAt, 60_000);
          const alive = [...producers.values()].filter((p) => !p.killed);
          const victim = alive[random() % alive.length];
          victim.killed = true;
          await victim.child.kill();
          kills++;
          start();
        }
        const finishing = [...producers.values()].filter((p) => !p.killed);
        // A replacement started just now may not have installed its SIGTERM handler yet.
        for (const p of finishing) {
          if ((await p.child.report('ready', 10_000)) === null) fault(`typeId=${p.typeId}: not ready`);
        }
        const exits = await Promise.all(finishing.map((p) => p.child.stop()));
        const last = Publication.open(name, { dir });
        const lastMessage = sequence.encode(runOf(LAST_TYPE_ID), 0);
        // The ring may still be full of what the producers sent: offer while the consumer drains.
        const sentLast = await poll(() => last.offer(lastMessage, LAST_TYPE_ID) >= 0, 20_000);
        last.close();
        expect(sentLast).toBe(true);
        const drained = await poll(() => sub.position === sub.producerPosition && next.get(LAST_TYPE_ID) === 1, 20_000);

        let finishedSent = 0;
        for (const p of producers.values()) {
          const got = next.get(p.typeId) ?? 0;
          const reports = p.child.reports;
          const error = reports.find((r) => r.event === 'error');
          if (error) fault(`typeId=${p.typeId}: ${JSON.stringify(error)}`);
          if (p.killed) {
            const progress = [...reports].reverse().find((r) => r.event === 'progress');
            const reported = (progress?.sent as number | undefined) ?? 0;
            if (got < reported) fault(`typeId=${p.typeId} (killed): delivered ${got} < reported sent ${reported}`);
          } else {
            const done = reports.find((r) => r.event === 'done');
            if (!done) fault(`typeId=${p.typeId}: no done report`);
            else if (got !== done.sent) fault(`typeId=${p.typeId}: delivered ${got}, sent ${String(done.sent)}`);
            finishedSent += (done?.sent as number | undefined) ?? 0;
          }
        }
        exits.forEach((exit, i) => {
          const problem = exitFault(exit);
          if (problem) fault(`typeId=${finishing[i].typeId}: ${problem}: ${finishing[i].child.stderrTail()}`);
        });
        printFigures('many-to-one chaos', {
          durationMs: DURATION_MS,
          producers: producers.size,
          kills,
          received,
          finishedSent,
          unblocked: sub.unblockedCount,
          drained,
        });
        expect(faults).toEqual([]);
        expect(drained).toBe(true);
        expect(kills).toBeGreaterThan(5);
      } finally {
        sub.close();
      }
    },
    DURATION_MS + 120_000,
  );
});
