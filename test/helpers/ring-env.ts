/**
 * The one scaffolding of the tests that use real files, sockets and processes: unique names (pid + random) whose
 * files are removed after each test, objects closed after each test, child processes (plain CommonJS fixtures under
 * test/fixtures running the compiled dist/lib, or the shmring command) that are SIGKILLed and reaped after each test
 * even when an assertion failed, stopped ones included, and polling with a deadline. Every wait has a deadline.
 *
 * A child's stdout is read three ways, one per kind of fixture: plain lines (`line`), `prefix JSON` lines (`json`),
 * and JSON reports `{ event, pid, ... }` (`report`).
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, expect } from 'vitest';
import { binding } from '../../lib/binding';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures');
export const RING_FIXTURES = path.join(FIXTURES, 'ring');
export const DIST_LIB = path.resolve(__dirname, '..', '..', 'dist', 'lib');
export const DIST_INDEX = path.join(DIST_LIB, 'index.js');
export const SHM_DIR = '/dev/shm';

const removals = new Set<string>();
const closers: Array<() => void> = [];
const children = new Set<Child>();

function unique(tag: string): string {
  return `shmring-test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A name unique to this process and call; `dir/name` is removed after the test. */
export function uniqueName(tag: string, dir = SHM_DIR): string {
  const name = unique(tag);
  removals.add(path.join(dir, name));
  return name;
}

/** Removes `file` (or a directory, recursively) after the test too; returns it. */
export function removeAfterTest(file: string): string {
  removals.add(file);
  return file;
}

/** A directory in /dev/shm (tmpfs) private to this test, removed with its contents after the test. */
export function privateShmDir(tag: string): string {
  const dir = path.join(SHM_DIR, unique(`dir-${tag}`));
  fs.mkdirSync(dir, { mode: 0o700 });
  return removeAfterTest(dir);
}

/** A Unix socket path in os.tmpdir(), removed after the test. */
export function uniqueSocketPath(tag: string): string {
  return removeAfterTest(path.join(os.tmpdir(), `${unique(tag)}.sock`));
}

/**
 * A connected pair of Unix stream sockets `[client, server]`, made with the addon's listen/connect/accept as the ring
 * server does. The caller closes both.
 */
export function connectedSockets(): [number, number] {
  const native = binding();
  const socketPath = uniqueSocketPath('pair');
  const listener = native.unixListen(socketPath, 1);
  try {
    const client = native.unixConnect(socketPath, 5000);
    try {
      return [client, native.unixAccept(listener, 5000)];
    } catch (err) {
      native.closeFd(client);
      throw err;
    }
  } finally {
    native.closeFd(listener);
  }
}

/** Closes `closable` after the test, in reverse order of registration (closing twice must be harmless). */
export function closeAfterTest<T extends { close(): unknown }>(closable: T): T {
  closers.push(() => void closable.close());
  return closable;
}

/** Overwrites the int32 at `offset` of the file, as a foreign process would. */
export function pokeInt32(file: string, offset: number, value: number): void {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32LE(value);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, 4, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Number of open descriptors of this process. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** What a throwing call threw: an Error with the fields shmring's errors carry (Node's system errors, ShmringError). */
export type Thrown = Error & {
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  cause?: unknown;
  [field: string]: unknown;
};

/** Runs `fn` and returns what it threw; fails the test when it returns. */
export function thrown(fn: () => unknown): Thrown {
  try {
    fn();
  } catch (err) {
    return err as Thrown;
  }
  throw new Error('expected a throw');
}

/** `fn` throws an Error with `code` and exactly `message` (or one matching it). */
export function expectShmringError(fn: () => unknown, code: string, message: string | RegExp): void {
  const err = thrown(fn);
  expect(err, 'expected an Error').toBeInstanceOf(Error);
  expect(err.code).toBe(code);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One JSON line a fixture wrote: `{ event, pid, ... }`. */
export interface Report {
  event: string;
  pid: number;
  [field: string]: unknown;
}

/** A running child process; its stdout lines are collected. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly lines: string[];
  readonly stderr: string[];
  readonly exited: Promise<ExitStatus>;
  /** The stdout lines that are JSON reports, in order. */
  readonly reports: Report[];
  /**
   * The first stdout line (after the first `skip`) that starts with `match` or satisfies it; rejects at the deadline
   * or when the child exits first.
   */
  line(match: string | ((line: string) => boolean), timeoutMs?: number, skip?: number): Promise<string>;
  /** The JSON after `prefix` in the first line starting with it. */
  json<T>(prefix: string, timeoutMs?: number): Promise<T>;
  /** The first report of `event` (already received or to come). */
  report<T = Report>(event: string, timeoutMs?: number): Promise<T & Report>;
  /** Writes a line to its stdin (started with `stdin: true`). */
  send(line: string): void;
  /** Sends an IPC command (started with `ipc: true`). */
  command(name: string): void;
  /** The exit status, or a rejection after `timeoutMs` (default 10 s; the child is then killed after the test). */
  exit(timeoutMs?: number): Promise<ExitStatus>;
  /** True when the child is still running after `ms`. */
  aliveAfter(ms: number): Promise<boolean>;
  signal(signal: NodeJS.Signals): void;
  describe(): string;
}

export interface ChildOptions {
  /** Node options before the script (`--expose-gc`...). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** An IPC channel for `command()`. */
  ipc?: boolean;
  /** A stdin pipe for `send()`. */
  stdin?: boolean;
  /** Descriptors the child inherits as fd 3, 4... */
  passFds?: number[];
}

function parseReport(line: string): Report | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as unknown;
    return value !== null && typeof value === 'object' && 'event' in value ? (value as Report) : null;
  } catch {
    return null;
  }
}

/**
 * Starts `node <script> <args>`: `script` is absolute or relative to test/fixtures; `args` is an argv, or one value
 * passed as a single JSON argument.
 */
export function startChild(script: string, args: readonly string[] | object = [], options: ChildOptions = {}): Child {
  if (!fs.existsSync(DIST_INDEX)) {
    throw new Error(`${DIST_INDEX} is missing: run \`npm run build:ts\` (npm test does it in pretest)`);
  }
  const file = path.resolve(FIXTURES, script);
  const argv = Array.isArray(args) ? (args as string[]) : [JSON.stringify(args)];
  const stdio: Array<'ignore' | 'pipe' | 'ipc' | number> = [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  stdio.push(...(options.passFds ?? []));
  if (options.ipc === true) stdio.push('ipc');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), file, ...argv], { stdio, env: options.env });
  const lines: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  let status: ExitStatus | null = null;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => {
      status = { code, signal };
      resolve(status);
      notify();
    });
  });
  const describe = (): string =>
    `${path.relative(FIXTURES, file)} pid=${child.pid}: stdout ${JSON.stringify(lines)} ` +
    `stderr ${JSON.stringify(stderr.join(''))}`;
  /** Resolves with the first `find()` that is not undefined. */
  const awaitFirst = <T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms from ${describe()}`))),
        timeoutMs,
      );
      const check = (): void => {
        const found = find();
        if (found !== undefined) finish(() => resolve(found));
        else if (status !== null) {
          finish(() => reject(new Error(`child exited (${JSON.stringify(status)}) before ${what}: ${describe()}`)));
        }
      };
      listeners.add(check);
      check();
    });
  const reports = (): Report[] => lines.map(parseReport).filter((r): r is Report => r !== null);
  const line = (match: string | ((line: string) => boolean), timeoutMs = 10_000, skip = 0): Promise<string> => {
    const test = typeof match === 'string' ? (l: string) => l.startsWith(match) : match;
    const what = typeof match === 'string' ? `line starting ${JSON.stringify(match)}` : 'matching line';
    return awaitFirst(what, () => lines.slice(skip).find(test), timeoutMs);
  };
  const handle: Child = {
    process: child,
    pid: child.pid ?? -1,
    lines,
    stderr,
    exited,
    get reports() {
      return reports();
    },
    line,
    async json<T>(prefix: string, timeoutMs?: number): Promise<T> {
      return JSON.parse((await line(prefix, timeoutMs)).slice(prefix.length)) as T;
    },
    report<T>(event: string, timeoutMs = 10_000): Promise<T & Report> {
      return awaitFirst(`'${event}' report`, () => reports().find((r) => r.event === event) as T & Report, timeoutMs);
    },
    send(text: string): void {
      child.stdin?.write(`${text}\n`);
    },
    command(name: string): void {
      child.send({ command: name });
    },
    exit(timeoutMs = 10_000): Promise<ExitStatus> {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms: ${describe()}`)), timeoutMs);
      });
      return Promise.race([exited, deadline]).finally(() => clearTimeout(timer));
    },
    async aliveAfter(ms: number): Promise<boolean> {
      await Promise.race([exited, sleep(ms)]);
      return status === null;
    },
    signal(signal: NodeJS.Signals): void {
      child.kill(signal);
    },
    describe,
  };
  children.add(handle);
  return handle;
}

afterEach(async () => {
  const reaped = [...children].map(async (child) => {
    child.process.kill('SIGKILL'); // works on stopped children too; a no-op for one that already exited
    await child.exited;
  });
  children.clear();
  await Promise.all(reaped);
  const errors: unknown[] = [];
  for (const close of closers.splice(0).reverse()) {
    try {
      close();
    } catch (err) {
      errors.push(err);
    }
  }
  for (const file of removals) fs.rmSync(file, { force: true, recursive: true });
  removals.clear();
  if (errors.length > 0) throw errors[0];
});
