/**
 * Scaffolding for the multi-process recovery tests: unique ring names, private directories and socket paths that
 * are removed after each test; child processes (fixtures in test/fixtures/recovery) that are always SIGKILLed and
 * reaped after each test, stopped ones included, even when an assertion failed; reports (JSON lines on the child's
 * stdout) awaited with deadlines; objects of the test process closed after each test.
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach } from 'vitest';
import * as L from '../../lib/layout';
import type { ReliablePublication } from '../../lib/reliable-publication';
import type { VerifierSummary } from '../fixtures/recovery/messages';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'recovery');
const DIST_INDEX = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'index.js');

// The fixtures are plain CommonJS; load the same module the children run.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const messages = require('../fixtures/recovery/messages.js') as typeof import('../fixtures/recovery/messages');

const removals = new Set<string>();
const closers: Array<() => void> = [];
const children = new Set<Child>();

function unique(tag: string): string {
  return `shmring-test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A ring name unique to this process and call; `dir/name` is removed after the test. */
export function uniqueName(tag: string, dir = '/dev/shm'): string {
  const name = unique(tag);
  removals.add(path.join(dir, name));
  return name;
}

/** A Unix socket path in os.tmpdir(), removed after the test. */
export function uniqueSocketPath(tag: string): string {
  const socketPath = path.join(os.tmpdir(), `${unique(tag)}.sock`);
  removals.add(socketPath);
  return socketPath;
}

/** A new private directory under /dev/shm (tmpfs), removed with its contents after the test. */
export function privateShmDir(tag: string): string {
  const dir = path.join('/dev/shm', unique(tag));
  fs.mkdirSync(dir, { mode: 0o700 });
  removals.add(dir);
  return dir;
}

/** Closes `resource` after the test (in reverse order of registration); returns it. */
export function closeAfterTest<T extends { close(): unknown }>(resource: T): T {
  closers.push(() => void resource.close());
  return resource;
}

/** One JSON line a fixture wrote: `{ event, pid, ... }`. */
export interface Report {
  event: string;
  pid: number;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running fixture. */
export interface Child {
  process: ChildProcess;
  pid: number;
  reports: Report[];
  stderr: string[];
  exited: Promise<Exit>;
  /** The first report of `event` (already received or to come); rejects at the deadline or when the child exits. */
  report<T = Report>(event: string, timeoutMs?: number): Promise<T & Report>;
  /** Sends an IPC command (the child was started with `ipc: true`). */
  command(name: string): void;
  /** Resolves with the exit, or rejects after `timeoutMs` (afterEach then kills the child). */
  exitWithin(timeoutMs: number): Promise<Exit>;
  /** True when the child is still running after `ms`. */
  aliveAfter(ms: number): Promise<boolean>;
  signal(signal: NodeJS.Signals): void;
}

/** Starts `test/fixtures/recovery/<script>` with its options as one JSON argument. */
export function startChild(script: string, options: object, { ipc = false } = {}): Child {
  if (!fs.existsSync(DIST_INDEX)) {
    throw new Error(`${DIST_INDEX} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does it in pretest)`);
  }
  const child = spawn(process.execPath, [path.join(FIXTURES, script), JSON.stringify(options)], {
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const reports: Report[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      try {
        reports.push(JSON.parse(line) as Report);
      } catch {
        stderr.push(`(unparsed stdout) ${line}\n`);
      }
    }
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  let exit: Exit | null = null;
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
      notify();
    });
  });
  const describe = (): string =>
    `${script} pid ${child.pid}: reports ${JSON.stringify(reports)}, stderr ${stderr.join('')}`;

  const handle: Child = {
    process: child,
    pid: child.pid ?? -1,
    reports,
    stderr,
    exited,
    report<T>(event: string, timeoutMs = 10_000): Promise<T & Report> {
      return new Promise((resolve, reject) => {
        const finish = (error: Error | null, found?: Report): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error !== null) reject(error);
          else resolve(found as T & Report);
        };
        const timer = setTimeout(
          () => finish(new Error(`no '${event}' report within ${timeoutMs} ms; ${describe()}`)),
          timeoutMs,
        );
        const check = (): void => {
          const found = reports.find((r) => r.event === event);
          if (found !== undefined) finish(null, found);
          else if (exit !== null) finish(new Error(`exited ${JSON.stringify(exit)} before '${event}'; ${describe()}`));
        };
        listeners.add(check);
        check();
      });
    },
    command(name: string): void {
      child.send({ command: name });
    },
    exitWithin(timeoutMs: number): Promise<Exit> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms; ${describe()}`)), timeoutMs);
      });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
    async aliveAfter(ms: number): Promise<boolean> {
      await Promise.race([exited, sleep(ms)]);
      return exit === null;
    },
    signal(signal: NodeJS.Signals): void {
      child.kill(signal);
    },
  };
  children.add(handle);
  return handle;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The int32 view of a ring's mapping: the header words the protocol uses, read as another process sees them. */
export function ringWords(pub: ReliablePublication): {
  wakeSequence(): number;
  /** The length word of the record slot at the producer's tail: 0 empty, SLEEPING_MARK when a consumer sleeps. */
  tailWord(): number;
} {
  const i32 = new Int32Array(pub.memory.buffer);
  const dataOffset = L.int32Index(Atomics.load(i32, L.int32Index(L.DATA_OFFSET_OFFSET)));
  return {
    wakeSequence: () => Atomics.load(i32, L.int32Index(L.WAKE_SEQUENCE_OFFSET)),
    tailWord: () => Atomics.load(i32, dataOffset + L.int32Index(pub.position & (pub.capacity - 1))),
  };
}

const FUTEX_SYSCALL = process.arch === 'arm64' ? 98 : 202;
const FUTEX_WAITV_SYSCALL = 449; // the same number on every architecture

/**
 * True when a thread of process `pid` is blocked in the kernel waiting on the wake word of the ring file `ringPath`,
 * read from /proc/PID/task/TID/syscall: futex_waitv (only shmring's addon uses it), or futex on the address where
 * the process mapped the ring, plus WAKE_SEQUENCE_OFFSET.
 */
export function sleepsInKernel(pid: number, ringPath: string): boolean {
  const wakeWords = new Set(
    fs
      .readFileSync(`/proc/${pid}/maps`, 'utf8')
      .split('\n')
      .filter((line) => line.includes(ringPath))
      .map((line) => BigInt(`0x${line.split('-')[0]}`) + BigInt(L.WAKE_SEQUENCE_OFFSET)),
  );
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let fields: string[];
    try {
      fields = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').trim().split(' ');
    } catch {
      continue; // the thread ended meanwhile
    }
    const nr = Number(fields[0]);
    if (nr === FUTEX_WAITV_SYSCALL || (nr === FUTEX_SYSCALL && wakeWords.has(BigInt(fields[1])))) return true;
  }
  return false;
}

/** Records what each FUTEX_WAKE the producer issues returns: how many sleepers (in any process) it woke. */
export function recordWakes(pub: ReliablePublication): number[] {
  const woken: number[] = [];
  const memory = pub.memory as unknown as { wake(byteOffset: number): number };
  const wake = memory.wake.bind(memory);
  memory.wake = (byteOffset) => {
    const count = wake(byteOffset);
    woken.push(count);
    return count;
  };
  return woken;
}

/**
 * Offers messages `from .. to - 1` of `tag`, retrying on back-pressure (yielding to the event loop so IPC and other
 * consumers progress) until `deadlineMs`. Returns the number of BACK_PRESSURED results seen.
 */
export async function offerRange(
  pub: ReliablePublication,
  seed: number,
  tag: number,
  from: number,
  to: number,
  deadlineMs = 20_000,
): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let backPressured = 0;
  for (let seq = from; seq < to; seq++) {
    const message = messages.makeMessage(seed, tag, seq);
    for (;;) {
      const result = pub.offer(message);
      if (result >= 0) break;
      backPressured++;
      if (Date.now() > deadline) throw new Error(`offer of seq ${seq} still failing after ${deadlineMs} ms: ${result}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return backPressured;
}

/** What a consumer fixture reports when it is done. */
export type DoneReport = VerifierSummary & { waits?: number };

/** Kills and reaps every child, closes what the test opened, removes every file it created. */
afterEach(async () => {
  const reaped = [...children].map(async (child) => {
    child.process.kill('SIGKILL'); // works on stopped children too; a no-op for one that already exited
    await child.exited;
  });
  children.clear();
  await Promise.all(reaped);
  for (const close of closers.splice(0).reverse()) {
    try {
      close();
    } catch {
      // already closed, or the test failed half-way: cleanup must go on
    }
  }
  for (const file of removals) fs.rmSync(file, { force: true, recursive: true });
  removals.clear();
});
