/**
 * Scaffolding of the stress suite: the profile (CI or full), children started with a time bound and a silence bound
 * (both SIGKILL the child and say so), always killed and reaped after each test, even when an assertion failed;
 * private scratch directories removed after each test; figures printed and collected for docs/reliability.md.
 *
 * A child's exit is judged the same way everywhere: a signal it did not get from us is a crash, being killed for
 * overrunning a bound is a hang, an `error` report whose `kind` is 'uncoded' is an uncoded error.
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import path from 'path';
import { afterEach } from 'vitest';

export const FIXTURES = path.resolve(__dirname, 'fixtures');
const DIST_INDEX = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'index.js');

/** 'ci' (bounded, the default) or 'full' (minutes): SHMRING_STRESS_PROFILE, set by test/stress/run.js --full. */
export const PROFILE: 'ci' | 'full' = process.env.SHMRING_STRESS_PROFILE === 'full' ? 'full' : 'ci';
export const FULL = PROFILE === 'full';

/** Picks the CI or the full figure of a case. */
export function scaled<T>(ci: T, full: T): T {
  return FULL ? full : ci;
}

/** The suite's seed: SHMRING_STRESS_SEED, else fixed in CI (reproducible) and random in the full profile. */
export const SEED: number =
  process.env.SHMRING_STRESS_SEED !== undefined
    ? Number(process.env.SHMRING_STRESS_SEED) >>> 0
    : FULL
      ? randomBytes(4).readUInt32LE(0)
      : 20261201;

/** One JSON line a child wrote. */
export interface Report {
  event: string;
  pid: number;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * Set when we signalled it: 'bound' (ran past boundMs), 'silence' (no report for silenceMs), 'test' (SIGKILL on
   * purpose), 'stop' (SIGTERM asking it to finish; a child that had not yet installed its handler dies of it).
   */
  killedBy: 'bound' | 'silence' | 'test' | 'stop' | null;
}

export interface ChildOptions {
  /** Kill the child when it runs longer than this. */
  boundMs: number;
  /** Kill the child when it reports nothing for this long (a call that never returns). Default: no bound. */
  silenceMs?: number;
  /** Called for every report as it arrives. */
  onReport?: (report: Report) => void;
  /** Extra arguments for node before the script (e.g. --expose-gc). */
  nodeArgs?: string[];
}

export interface Child {
  process: ChildProcess;
  pid: number;
  reports: Report[];
  stderr: string[];
  exited: Promise<Exit>;
  /** Resolves with the first report of `event`, or null when the child exits first or `timeoutMs` passes. */
  report(event: string, timeoutMs: number): Promise<Report | null>;
  /** SIGKILL on purpose (killedBy 'test'); resolves once the child is reaped. */
  kill(): Promise<Exit>;
  /** SIGTERM: asks the child to finish (killedBy 'stop'); resolves once it exited. */
  stop(): Promise<Exit>;
  /** The last lines of stderr (default 6). */
  stderrTail(lines?: number): string;
}

const children = new Set<Child>();

/** Starts `test/stress/fixtures/<script>` with its options as one JSON argument. */
export function startChild(script: string, options: object, childOptions: ChildOptions): Child {
  if (!fs.existsSync(DIST_INDEX)) {
    throw new Error(`${DIST_INDEX} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does it in pretest)`);
  }
  const child = spawn(
    process.execPath,
    [...(childOptions.nodeArgs ?? []), path.join(FIXTURES, script), JSON.stringify(options)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const reports: Report[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  let killedBy: Exit['killedBy'] = null;
  let exit: Exit | null = null;
  const killFor = (reason: Exit['killedBy']): void => {
    if (exit !== null) return;
    if (reason === 'bound' || reason === 'silence') stderr.push(`(killed for ${reason}: ${whatItDoes(child.pid)})\n`);
    if (killedBy === null || killedBy === 'stop') killedBy = reason;
    child.kill(reason === 'stop' ? 'SIGTERM' : 'SIGKILL');
  };
  const bound = setTimeout(() => killFor('bound'), childOptions.boundMs);
  let silence: NodeJS.Timeout | undefined;
  let lastOutput = Date.now();
  const armSilence = (): void => {
    lastOutput = Date.now();
    if (childOptions.silenceMs === undefined) return;
    clearTimeout(silence);
    silence = setTimeout(() => {
      // Timers run before I/O in an event-loop turn: after a pause of this process, the child's reports may be
      // waiting in the pipe. Judge after the I/O phase (setImmediate), so that only the child's silence counts.
      setImmediate(() => {
        if (Date.now() - lastOutput >= (childOptions.silenceMs ?? 0)) killFor('silence');
      });
    }, childOptions.silenceMs);
  };
  armSilence();
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      let parsed: Report;
      try {
        parsed = JSON.parse(line) as Report;
      } catch {
        stderr.push(`(unparsed stdout) ${line}\n`);
        continue;
      }
      reports.push(parsed);
      childOptions.onReport?.(parsed);
    }
    armSilence();
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 200) stderr.push(chunk);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(bound);
      clearTimeout(silence);
      exit = { code, signal, killedBy };
      resolve(exit);
      notify();
    });
  });
  const handle: Child = {
    process: child,
    pid: child.pid ?? -1,
    reports,
    stderr,
    exited,
    report(event: string, timeoutMs: number): Promise<Report | null> {
      return new Promise((resolve) => {
        const finish = (found: Report | null): void => {
          clearTimeout(timer);
          listeners.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => finish(null), timeoutMs);
        const check = (): void => {
          const found = reports.find((r) => r.event === event);
          if (found !== undefined) finish(found);
          else if (exit !== null) finish(null);
        };
        listeners.add(check);
        check();
      });
    },
    kill(): Promise<Exit> {
      killFor('test');
      return exited;
    },
    stop(): Promise<Exit> {
      killFor('stop');
      return exited;
    },
    stderrTail(lines = 6): string {
      return stderr.join('').split('\n').slice(-lines).join('\n');
    },
  };
  children.add(handle);
  void exited.then(() => children.delete(handle));
  return handle;
}

/**
 * What a process is doing, from /proc: its state (R running: a loop; S sleeping), the kernel function it waits in and
 * its system call (number and arguments, or 'running'), so that a hang nobody can reproduce still says something.
 */
function whatItDoes(pid: number | undefined): string {
  const read = (file: string): string => {
    try {
      return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  const stat = read('stat');
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return `state ${state}, wchan ${read('wchan')}, syscall ${read('syscall')}`;
}

/** What went wrong with an exit, or null: a signal we did not send is a crash, a bound we enforced is a hang. */
export function exitFault(exit: Exit): string | null {
  if (exit.killedBy === 'bound' || exit.killedBy === 'silence') return `hang (killed: ${exit.killedBy})`;
  if (exit.signal !== null && exit.killedBy !== 'test' && !(exit.killedBy === 'stop' && exit.signal === 'SIGTERM')) {
    return `crash (${exit.signal})`;
  }
  if (exit.killedBy === null && exit.code !== 0) return `exit code ${exit.code}`;
  return null;
}

// Private directories, polling and counting are the one test harness's (test/helpers/ring-env.ts), which also
// removes the directories after each test (after this file's afterEach has reaped the children: hooks run in stack
// order).
export { openFdCount as fdCount, privateShmDir, sleep } from '../helpers/ring-env';

/**
 * Prints a case's figures (one line, `[stress] <case> {...}`) and appends them, with the profile, seed and date, to
 * the JSON-lines file SHMRING_STRESS_FIGURES when it is set (test/stress/run.js sets it).
 */
export function printFigures(name: string, figures: Record<string, unknown>): void {
  const entry = { case: name, profile: PROFILE, seed: SEED, date: new Date().toISOString(), ...figures };
  console.log(`[stress] ${name} ${JSON.stringify(figures)}`);
  const file = process.env.SHMRING_STRESS_FIGURES;
  if (file !== undefined && file !== '') fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

/** Kills and reaps every child. */
afterEach(async () => {
  await Promise.all([...children].map((child) => child.kill()));
  children.clear();
});
