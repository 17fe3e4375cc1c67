/**
 * Ring-file fuzzer: case i of seed S builds a valid ring (reliable or broadcast), mutates header words, the producer
 * line, consumer slots, records, the broadcast trailer or the file size (shorter, unaligned, sparse beyond 4 GiB,
 * positions near 2^53), then calls ringInfo, Subscription.open + poll and Publication.attach + offer on it, in a
 * child process (fixtures/fuzz-files.js). A child runs cases one after another; when one crashes or hangs, the next
 * child starts after it.
 *
 * Outcomes, per call: acceptable — it returns (possibly delivering garbage: whoever can write the file can feed
 * garbage), or it throws a coded error (ErrorCode or errno name). Failures — a crash (the child dies of a signal),
 * a hang (one call over 2 s, or no report for 5 s), an uncoded error, an fd more after the case than before, and a
 * producer wedged by a dead consumer's slot: when only consumer slots were mutated (nobody is alive, so their words
 * are a dead consumer's leftovers), attach and offer must not throw at all.
 * Every failing case is printed with the command that replays it alone.
 */
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { exitFault, FIXTURES, printFigures, scaled, privateShmDir, SEED, startChild, type Report } from './harness';

const CASES = scaled(5000, 50_000);

interface Outcome {
  op: string;
  kind: 'ok' | 'coded' | 'uncoded' | 'wedged';
  code?: string;
  message?: string;
}

function replay(i: number): string {
  const args = JSON.stringify({ seed: SEED, first: i, count: 1, dir: '/dev/shm/shmring-fuzz-replay' });
  return `npx tsc -p tsconfig.build.json && node ${path.relative(process.cwd(), path.join(FIXTURES, 'fuzz-files.js'))} '${args}'`;
}

describe('ring-file fuzzer', () => {
  it('meets mutated headers, slots, records and sizes with coded errors only: no crash, hang or fd leak', async () => {
    const dir = privateShmDir('fuzz');
    const started = Date.now();
    const failures: string[] = [];
    const codes = new Map<string, number>();
    let results = 0;
    let mutationCount = 0;
    let calls = 0;
    let ok = 0;
    let coded = 0;
    let uncoded = 0;
    let wedged = 0;
    let crashes = 0;
    let hangs = 0;
    let fdLeaks = 0;
    let childErrors = 0;
    let children = 0;
    let next = 0;
    while (next < CASES) {
      let current = -1;
      let mutations: string[] = [];
      const onReport = (report: Report): void => {
        if (report.event === 'case') {
          current = report.i as number;
          mutations = [];
        } else if (report.event === 'mutated') {
          mutations = report.mutations as string[];
        } else if (report.event === 'result') {
          results++;
          mutationCount += (report.mutations as string[]).length;
          calls += report.calls as number;
          const i = report.i as number;
          const where = `case ${i} [${(report.mutations as string[]).join(', ')}]`;
          for (const outcome of report.outcomes as Outcome[]) {
            if (outcome.kind === 'ok') ok++;
            else if (outcome.kind === 'coded') {
              coded++;
              codes.set(outcome.code ?? '', (codes.get(outcome.code ?? '') ?? 0) + 1);
            } else if (outcome.kind === 'wedged') {
              wedged++;
              failures.push(
                `${outcome.op} threw ${outcome.code} on a ring whose only damage is in dead consumers' ` +
                  `slots, in ${where}\n  replay: ${replay(i)}`,
              );
            } else {
              uncoded++;
              failures.push(`uncoded error from ${outcome.op} in ${where}: ${outcome.message}\n  replay: ${replay(i)}`);
            }
          }
          const slow = report.slowCalls as unknown[];
          if (slow.length > 0) {
            hangs++;
            failures.push(`hang: ${JSON.stringify(slow)} in ${where}\n  replay: ${replay(i)}`);
          }
          const [fdBefore, fdAfter] = [report.fdBefore as number, report.fdAfter as number];
          if (fdAfter > fdBefore) {
            fdLeaks++;
            failures.push(`fd leak: ${fdBefore} -> ${fdAfter} fds in ${where}\n  replay: ${replay(i)}`);
          }
        }
      };
      children++;
      const child = startChild(
        'fuzz-files.js',
        { seed: SEED, first: next, count: CASES - next, dir },
        { boundMs: 30 * 60_000, silenceMs: 5000, onReport },
      );
      const exit = await child.exited;
      const fault = exitFault(exit);
      if (fault === null && child.reports.some((r) => r.event === 'done')) break;
      const i = Math.max(current, next);
      if (fault?.startsWith('hang')) hangs++;
      else if (fault?.startsWith('crash')) crashes++;
      else childErrors++; // the fixture itself failed (an exit code, no `done`): a defect of the test or its machine
      failures.push(
        `${fault ?? 'exit without done'} in case ${i} [${mutations.join(', ')}]: ${child.stderrTail(30)}\n` +
          `  replay: ${replay(i)}`,
      );
      fs.rmSync(path.join(dir, `fuzz-${i}`), { force: true }); // a sparse file of 4 GiB may be left behind
      next = i + 1;
    }
    const figures = {
      seed: SEED,
      cases: CASES,
      casesCompleted: results,
      faultsInjected: mutationCount,
      calls,
      ok,
      coded,
      codes: Object.fromEntries([...codes].sort((a, b) => b[1] - a[1])),
      crashes,
      hangs,
      uncoded,
      wedged,
      fdLeaks,
      childErrors,
      children,
      elapsedS: Math.round((Date.now() - started) / 100) / 10,
    };
    printFigures('fuzz-files', figures);
    if (failures.length > 0)
      console.log(`[stress] fuzz-files failures (first 20):\n${failures.slice(0, 20).join('\n')}`);
    expect({ crashes, hangs, uncoded, wedged, fdLeaks, childErrors, firstFailures: failures.slice(0, 5) }).toEqual({
      crashes: 0,
      hangs: 0,
      uncoded: 0,
      wedged: 0,
      fdLeaks: 0,
      childErrors: 0,
      firstFailures: [],
    });
  });
});
