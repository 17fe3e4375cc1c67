/**
 * Scaffolding for the ring tests that use real /dev/shm files and real processes: unique names (pid + random) whose
 * files are removed after each test, objects closed after each test, and child processes (plain CommonJS fixtures in
 * test/fixtures/ring, running the compiled dist/lib) that are SIGKILLed and reaped after each test even when an
 * assertion failed. Every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import path from 'path';
import { afterEach } from 'vitest';

export const RING_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'ring');
export const DIST_INDEX = path.resolve(__dirname, '..', '..', 'dist', 'lib', 'index.js');
export const SHM_DIR = '/dev/shm';

const removals = new Set<string>();
const closers: Array<() => void> = [];
const children = new Set<Child>();

function unique(tag: string): string {
  return `shmring-test-ring-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A ring name unique to this process and call; `dir/name` is removed after the test. */
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

export function uniqueRingName(tag: string, dir = SHM_DIR): string {
  const name = unique(tag);
  removals.add(path.join(dir, name));
  return name;
}

/** A directory in /dev/shm (tmpfs) private to this test, removed with its contents after the test. */
export function privateShmDir(tag: string): string {
  const dir = path.join(SHM_DIR, unique(`dir-${tag}`));
  fs.mkdirSync(dir, { mode: 0o700 });
  removals.add(dir);
  return dir;
}

/** Closes `closable` after the test (closing twice must be harmless). */
export function closeAfterTest<T extends { close(): void }>(closable: T): T {
  closers.push(() => closable.close());
  return closable;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process running a fixture; its stdout lines are collected. */
export interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly stderr: string[];
  readonly exited: Promise<ExitStatus>;
  /** The first stdout line starting with `prefix` (rejects at the deadline or when the child exits first). */
  line(prefix: string, timeoutMs?: number): Promise<string>;
  /** The JSON after `prefix` in the first line starting with it. */
  json<T>(prefix: string, timeoutMs?: number): Promise<T>;
  /** The exit status, or a rejection after `timeoutMs` (the child is then killed by afterEach). */
  exit(timeoutMs: number): Promise<ExitStatus>;
  describe(): string;
}

/** Starts `node test/fixtures/ring/<script> <JSON args>`. */
export function startFixture(script: string, args: unknown = {}): Child {
  if (!fs.existsSync(DIST_INDEX)) {
    throw new Error(`${DIST_INDEX} is missing: run \`npm run build:ts\` (npm test does it in pretest)`);
  }
  const child = spawn(process.execPath, [path.join(RING_FIXTURES, script), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const listener of [...listeners]) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  let status: ExitStatus | null = null;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => {
      status = { code, signal };
      for (const listener of [...listeners]) listener();
      resolve(status);
    });
  });
  const describe = (): string =>
    `${script} pid=${child.pid}: stdout ${JSON.stringify(lines)} stderr ${JSON.stringify(stderr.join(''))}`;
  const line = (prefix: string, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`no line starting ${JSON.stringify(prefix)} within ${timeoutMs} ms from ${describe()}`)),
          ),
        timeoutMs,
      );
      const check = (): void => {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) finish(() => resolve(found));
        else if (status !== null) {
          finish(() =>
            reject(
              new Error(`child exited (${JSON.stringify(status)}) before ${JSON.stringify(prefix)}: ${describe()}`),
            ),
          );
        }
      };
      listeners.add(check);
      check();
    });
  const handle: Child = {
    process: child,
    lines,
    stderr,
    exited,
    line,
    async json<T>(prefix: string, timeoutMs?: number): Promise<T> {
      return JSON.parse((await line(prefix, timeoutMs)).slice(prefix.length)) as T;
    },
    exit(timeoutMs: number): Promise<ExitStatus> {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`child did not exit within ${timeoutMs} ms: ${describe()}`)),
          timeoutMs,
        );
      });
      return Promise.race([exited, deadline]).finally(() => clearTimeout(timer));
    },
    describe,
  };
  children.add(handle);
  return handle;
}

/** Polls `predicate` every 5 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  const reaped = [...children].map(async (child) => {
    child.process.kill('SIGKILL'); // harmless for a child that already exited
    await child.exited;
  });
  children.clear();
  const errors: unknown[] = [];
  for (const close of closers.splice(0).reverse()) {
    try {
      close();
    } catch (err) {
      errors.push(err);
    }
  }
  await Promise.all(reaped);
  for (const file of removals) fs.rmSync(file, { force: true, recursive: true });
  removals.clear();
  if (errors.length > 0) throw errors[0];
});
