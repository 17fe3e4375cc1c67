/**
 * Shared scaffolding for the native/segment tests: unique /dev/shm names that are removed after each test, child
 * processes that are always killed and reaped (even when an assertion failed), polling with a deadline.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import path from 'path';
import { afterEach } from 'vitest';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures');
export const DIST_LIB = path.resolve(__dirname, '..', '..', 'dist', 'lib');

const createdPaths = new Set<string>();
const children = new Set<Child>();

/** A name unique to this process and call; its /dev/shm (or `dir`) file is removed after the test. */
export function uniqueName(tag: string, dir = '/dev/shm'): string {
  const name = `shmring-test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
  createdPaths.add(path.join(dir, name));
  return name;
}

/** Removes `file` after the test too. */
export function removeAfterTest(file: string): string {
  createdPaths.add(file);
  return file;
}

/** A child running a fixture script; reaped after the test. Output is collected in `lines`. */
export interface Child {
  process: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line that starts with `prefix` (rejects at the deadline or exit). */
  line(prefix: string, timeoutMs?: number): Promise<string>;
}

export function spawnFixture(
  script: string,
  args: string[] = [],
  { nodeArgs = [], ...options }: SpawnOptions & { nodeArgs?: string[] } = {},
): Child {
  if (!fs.existsSync(path.join(DIST_LIB, 'segment.js'))) {
    throw new Error(`${DIST_LIB}/segment.js is missing: run \`npm run build:ts\` (npm test does it in pretest)`);
  }
  const child = spawn(process.execPath, [...nodeArgs, path.join(FIXTURES, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    });
  });
  let exitedNow = false;
  void exited.then(() => (exitedNow = true));
  const line = (prefix: string, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no line starting with ${JSON.stringify(prefix)} within ${timeoutMs} ms; got ${JSON.stringify(lines)}, stderr ${stderr.join('')}`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (exitedNow || child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(
            new Error(
              `child exited before printing ${JSON.stringify(prefix)}; got ${JSON.stringify(lines)}, stderr ${stderr.join('')}`,
            ),
          );
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  const handle = { process: child, lines, stderr, exited, line };
  children.add(handle);
  return handle;
}

/** Resolves with the child's exit, or rejects (the child is then killed by afterEach) after `timeoutMs`. */
export function exitWithin(
  child: Child,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return Promise.race([
    child.exited,
    sleep(timeoutMs).then(() => {
      throw new Error(
        `child did not exit within ${timeoutMs} ms; stdout ${JSON.stringify(child.lines)}, stderr ${child.stderr.join('')}`,
      );
    }),
  ]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Number of open descriptors of this process. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Kills and reaps every child, removes every file the test created. Registered for every test file. */
afterEach(async () => {
  const reaped = [...children].map(async (child) => {
    child.process.kill('SIGKILL'); // a no-op for a child that already exited
    await child.exited;
  });
  children.clear();
  await Promise.all(reaped);
  for (const file of createdPaths) fs.rmSync(file, { force: true });
  createdPaths.clear();
});
