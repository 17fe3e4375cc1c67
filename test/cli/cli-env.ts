/**
 * Scaffolding for the `shmring` command's tests: runs the real command (`node bin/shmring.js`, which loads the
 * compiled dist/lib/cli) in child processes, and the stdin-driven producer fixture (test/fixtures/cli/producer.js).
 * Every child is SIGKILLed and reaped after each test, every wait has a deadline; rings live in a private tmpfs
 * directory (ring-env's privateShmDir) removed after the test.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'child_process';
import fs from 'fs';
import path from 'path';
import { afterEach } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
export const SHMRING_BIN = path.join(ROOT, 'bin', 'shmring.js');
const PRODUCER = path.join(ROOT, 'test', 'fixtures', 'cli', 'producer.js');

/** What a finished command printed and its exit code. */
export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `shmring ...args` to completion (killed after `timeoutMs`). */
export function shmring(
  args: string[],
  options: { timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<Result> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'lib', 'cli', 'main.js'))) {
    throw new Error('dist/lib/cli/main.js is missing: run `npm run build:ts` (npm test does it in pretest)');
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SHMRING_BIN, ...args],
      {
        timeout: options.timeoutMs ?? 5000,
        killSignal: 'SIGKILL',
        uid: options.uid,
        gid: options.gid,
      },
      (err, stdout, stderr) => {
        const failure = err as (NodeJS.ErrnoException & { signal?: NodeJS.Signals | null; code?: unknown }) | null;
        resolve({
          code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** A long-running child whose stdout lines are collected. */
export interface Running {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly stderr: string[];
  /** Writes a line to its stdin. */
  send(line: string): void;
  /** Resolves with the first line matching `test` that arrives after the `skip` first lines. */
  line(test: (line: string) => boolean, timeoutMs?: number, skip?: number): Promise<string>;
  exit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Running>();

function start(args: string[], options: SpawnOptions = {}): Running {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  const lines: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const listener of [...listeners]) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      status = { code, signal };
      for (const listener of [...listeners]) listener();
      resolve(status);
    });
  });
  const describe = (): string =>
    `pid=${child.pid} ${args.join(' ')}: stdout ${JSON.stringify(lines)} stderr ${JSON.stringify(stderr.join(''))}`;
  const handle: Running = {
    process: child,
    lines,
    stderr,
    send(line: string): void {
      child.stdin?.write(`${line}\n`);
    },
    line(test, timeoutMs = 4000, skip = 0): Promise<string> {
      return new Promise((resolve, reject) => {
        const finish = (fn: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        const timeout = (): Error => new Error(`no matching line within ${timeoutMs} ms from ${describe()}`);
        const timer = setTimeout(() => finish(() => reject(timeout())), timeoutMs);
        const check = (): void => {
          const found = lines.slice(skip).find(test);
          if (found !== undefined) finish(() => resolve(found));
          else if (status !== null) {
            finish(() => reject(new Error(`exited (${JSON.stringify(status)}) first: ${describe()}`)));
          }
        };
        listeners.add(check);
        check();
      });
    },
    exit(timeoutMs = 4000) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms: ${describe()}`)), timeoutMs);
      });
      return Promise.race([exited, deadline]).finally(() => clearTimeout(timer));
    },
  };
  running.add(handle);
  return handle;
}

/** Starts `shmring ...args` and leaves it running (tail, stat --watch). */
export function startShmring(args: string[]): Running {
  return start([SHMRING_BIN, ...args]);
}

/** A producer process (test/fixtures/cli/producer.js) that has created `name` in `dir` and is ready for commands. */
export async function startProducer(
  name: string,
  dir: string,
  options: { mode?: 'reliable' | 'broadcast'; capacity?: number; evictionTimeoutMs?: number } = {},
): Promise<Running & { pid: number }> {
  const child = start([PRODUCER, JSON.stringify({ name, dir, ...options })]);
  const ready = await child.line((l) => l.startsWith('ready '));
  return Object.assign(child, { pid: (JSON.parse(ready.slice(6)) as { pid: number }).pid });
}

/** Sends `command` to a producer and returns its reply line (the first starting with `reply`). */
export async function command(producer: Running, line: string, reply: string): Promise<string> {
  const skip = producer.lines.length;
  producer.send(line);
  return producer.line((l) => l.startsWith(reply), 4000, skip);
}

/** Polls until `predicate` holds (ring-env's waitFor). */
export { waitFor as until } from '../helpers/ring-env';

afterEach(async () => {
  const reaped = [...running].map(async (child) => {
    child.process.kill('SIGKILL'); // harmless for one that already exited
    await child.exit(5000).catch(() => undefined);
  });
  running.clear();
  await Promise.all(reaped);
});
