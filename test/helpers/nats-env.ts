/**
 * Scaffolding for the bridge tests: real `nats-server` processes (JetStream in a temporary store directory) on free
 * ports of the test's own addresses, the bridge CLI and ring fixtures as child processes, optionally inside a network
 * namespace (`ip netns exec`). Every process is SIGKILLed and reaped after each test, every store directory removed;
 * every wait has a deadline.
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { afterEach } from 'vitest';

export const CLI = path.resolve(__dirname, '..', '..', 'bin', 'shmring.js');
export const RING_FIXTURE_DIR = path.resolve(__dirname, '..', 'fixtures', 'ring');

/** The nats-server binary, or null when it is not installed (`.ci/run` installs it: apt-get install nats-server). */
export const NATS_SERVER_BINARY: string | null =
  ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']
    .concat((process.env.PATH ?? '').split(':').map((dir) => path.join(dir, 'nats-server')))
    .find((file) => fs.existsSync(file)) ?? null;

/**
 * Whether the bridge tests can run. Without nats-server they are skipped with a loud warning, unless
 * SHMRING_REQUIRE_NATS=1 (set by .ci/run), where a missing server fails them.
 */
export function natsServerAvailable(): boolean {
  if (NATS_SERVER_BINARY !== null) return true;
  if (process.env.SHMRING_REQUIRE_NATS === '1') {
    throw new Error('nats-server is not installed (apt-get install -y nats-server) and SHMRING_REQUIRE_NATS=1');
  }
  console.warn(
    '\n*** nats-server is not installed: the NATS bridge tests are SKIPPED (apt-get install -y nats-server) ***\n',
  );
  return false;
}

/** A child process whose stdout and stderr lines are collected. */
export interface Proc {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly errLines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first line (stdout, or stderr with `fromStderr`) containing `text`; rejects at the deadline or exit. */
  waitLine(text: string, timeoutMs?: number, fromStderr?: boolean): Promise<string>;
  /** The JSON after `prefix` in the first stdout line starting with it. */
  json<T>(prefix: string, timeoutMs?: number): Promise<T>;
  kill(): Promise<void>;
  describe(): string;
}

const processes = new Set<Proc>();
const cleanups: Array<() => void | Promise<void>> = [];

/** Runs `cleanup` after the test (after every process was killed). */
export function cleanupAfterTest(cleanup: () => void | Promise<void>): void {
  cleanups.push(cleanup);
}

/**
 * A ring name unique to this process and call, in /dev/shm; the ring and the status files of its bridges are removed
 * after the test.
 */
export function uniqueBridgeRing(tag: string): string {
  const name = `shmring-test-ring-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
  cleanupAfterTest(() => fs.rmSync(path.join('/dev/shm', name), { force: true }));
  removeBridgeStatusAfterTest(name);
  return name;
}

/** Removes the status files of `ring`'s bridges (`<ring>.bridge-*`) after the test: a killed bridge leaves its own. */
export function removeBridgeStatusAfterTest(ring: string, dir = '/dev/shm'): void {
  cleanupAfterTest(() => {
    for (const file of fs.readdirSync(dir)) {
      if (file.startsWith(`${ring}.bridge-`)) fs.rmSync(path.join(dir, file), { force: true });
    }
  });
}

/** Starts `command args`, inside network namespace `netns` when given. */
export function startProcess(command: string, args: string[], options: { netns?: string; label?: string } = {}): Proc {
  const argv =
    options.netns === undefined ? [command, ...args] : ['ip', 'netns', 'exec', options.netns, command, ...args];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const errLines: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: string): void => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      into.push(...parts);
      for (const listener of [...listeners]) listener();
    };
  };
  child.stdout?.setEncoding('utf8').on('data', collect(lines));
  child.stderr?.setEncoding('utf8').on('data', collect(errLines));
  let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      status = { code, signal };
      for (const listener of [...listeners]) listener();
      resolve(status);
    });
  });
  const label = options.label ?? path.basename(args[0] ?? command);
  const describe = (): string =>
    `${label} pid=${child.pid}: stdout ${JSON.stringify(lines.slice(-20))} stderr ${JSON.stringify(errLines.slice(-20))}`;
  const waitLine = (text: string, timeoutMs = 15_000, fromStderr = false): Promise<string> =>
    new Promise((resolve, reject) => {
      const source = fromStderr ? errLines : lines;
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`no line with ${JSON.stringify(text)} within ${timeoutMs} ms from ${describe()}`)),
          ),
        timeoutMs,
      );
      const check = (): void => {
        const found = source.find((l) => l.includes(text));
        if (found !== undefined) finish(() => resolve(found));
        else if (status !== null) {
          finish(() =>
            reject(new Error(`exited (${JSON.stringify(status)}) before ${JSON.stringify(text)}: ${describe()}`)),
          );
        }
      };
      listeners.add(check);
      check();
    });
  const proc: Proc = {
    process: child,
    lines,
    errLines,
    exited,
    waitLine,
    async json<T>(prefix: string, timeoutMs?: number): Promise<T> {
      const line = await waitLine(prefix, timeoutMs);
      return JSON.parse(line.slice(line.indexOf(prefix) + prefix.length)) as T;
    },
    async kill(): Promise<void> {
      child.kill('SIGKILL');
      await exited;
      processes.delete(proc);
    },
    describe,
  };
  processes.add(proc);
  return proc;
}

/** A free TCP port on `host` (bound and released: the caller binds it next). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A nats-server with JetStream, its store in a temporary directory; restartable on the same port and store. */
export class NatsServer {
  proc: Proc | null = null;
  private constructor(
    readonly host: string,
    readonly port: number,
    readonly storeDir: string,
    readonly netns: string | undefined,
    readonly jetstream: boolean,
  ) {}

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  /** `jetstream: false` starts a core-only server (default: JetStream on). */
  static async start(
    options: { host?: string; port?: number; netns?: string; jetstream?: boolean } = {},
  ): Promise<NatsServer> {
    if (NATS_SERVER_BINARY === null) throw new Error('nats-server is not installed');
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? (await freePort(host));
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-nats-'));
    const server = new NatsServer(host, port, storeDir, options.netns, options.jetstream ?? true);
    cleanupAfterTest(() => fs.rmSync(storeDir, { recursive: true, force: true }));
    await server.launch();
    return server;
  }

  /** Starts the server process and waits until it says it is ready. */
  async launch(): Promise<void> {
    this.proc = startProcess(
      NATS_SERVER_BINARY as string,
      ['-a', this.host, '-p', String(this.port), ...(this.jetstream ? ['-js', '-sd', this.storeDir] : [])],
      { netns: this.netns, label: `nats-server ${this.url}` },
    );
    await this.proc.waitLine('Server is ready', 15_000, true);
  }

  /** kill -9 (a crash: JetStream recovers its store at the next start). */
  async kill(): Promise<void> {
    await this.proc?.kill();
    this.proc = null;
  }
}

/** Runs a command to completion (for `ip`); returns stdout. */
export function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

afterEach(async () => {
  await Promise.all([...processes].map((p) => p.kill()));
  processes.clear();
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});
