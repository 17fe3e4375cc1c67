/**
 * Scaffolding for the `shmring` command's tests: runs the real command (`node bin/shmring.js`, which loads the
 * compiled dist/lib/cli) in child processes, and the stdin-driven producer fixture (test/fixtures/cli/producer.js).
 * Long-running ones are ring-env's children (SIGKILLed and reaped after each test, every wait has a deadline); rings
 * live in a private tmpfs directory (ring-env's privateShmDir) removed after the test.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import { startChild, type Child } from '../helpers/ring-env';

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

/** Starts `shmring ...args` and leaves it running (tail, stat --watch). */
export function startShmring(args: string[]): Child {
  return startChild(SHMRING_BIN, args, { stdin: true });
}

/** A producer process (test/fixtures/cli/producer.js) that has created `name` in `dir` and is ready for commands. */
export async function startProducer(
  name: string,
  dir: string,
  options: { mode?: 'reliable' | 'broadcast'; capacity?: number; evictionTimeoutMs?: number } = {},
): Promise<Child> {
  const child = startChild(PRODUCER, { name, dir, ...options }, { stdin: true });
  await child.line('ready ', 4000);
  return child;
}

/** Sends `command` to a producer and returns its reply line (the first starting with `reply`). */
export async function command(producer: Child, line: string, reply: string): Promise<string> {
  const skip = producer.lines.length;
  producer.send(line);
  return producer.line((l) => l.startsWith(reply), 4000, skip);
}
